"""The lean Conv3d (stage switch ``conv3d``): skipping the taps that only meet padding and the
matrix-product weight gradient give torch's results to float rounding, in both memory formats."""
from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

import vidssl
from vidssl.lean_conv3d import GemmWeightGradConv3d, reaching_taps, use_conv3d


def test_reaching_taps_keeps_only_taps_that_meet_the_input():
    assert reaching_taps(1, 3, 1, 1) == (slice(1, 2), 0)     # one frame: the middle tap
    assert reaching_taps(2, 3, 2, 1) == (slice(1, 3), 0)     # strided onto one output frame
    assert reaching_taps(2, 3, 1, 1) == (slice(0, 3), 1)     # every tap meets a frame
    assert reaching_taps(7, 7, 2, 3) == (slice(0, 7), 3)
    assert reaching_taps(1, 1, 1, 0) == (slice(0, 1), 0)


# input shape, kernel, stride, padding, bias: layer4 of an R3D on 8-frame clips (1 frame), the
# strided convolution into it, 2-frame layers, an R(2+1)D temporal kernel, a stem, a 1×1×1 map
CASES = [((2, 8, 1, 7, 7), 3, 1, 1, False), ((2, 8, 2, 7, 7), 3, 2, 1, True),
         ((2, 8, 2, 5, 5), 3, 1, 1, True), ((2, 8, 1, 3, 3), (3, 1, 1), 1, (1, 0, 0), False),
         ((2, 8, 5, 9, 9), (3, 7, 7), (1, 2, 2), (1, 3, 3), False),
         ((2, 8, 1, 1, 1), 3, 1, 1, True), ((2, 8, 3, 4, 4), 5, 2, 2, False)]


@pytest.mark.parametrize("layout", [torch.contiguous_format, torch.channels_last_3d])
@pytest.mark.parametrize("shape,kernel,stride,padding,bias", CASES)
def test_lean_conv3d_equals_torch_in_float64(shape, kernel, stride, padding, bias, layout):
    torch.manual_seed(0)
    reference = nn.Conv3d(8, 6, kernel, stride, padding, bias=bias).double()
    lean = copy.deepcopy(reference).float().to(memory_format=layout)
    use_conv3d(lean, "lean")
    assert type(lean).__name__ == "LeanConv3d"
    x = torch.randn(shape, dtype=torch.float64)
    x_ref, x_lean = x.clone().requires_grad_(), x.float().contiguous(memory_format=layout)
    x_lean.requires_grad_()
    out_ref, out_lean = reference(x_ref), lean(x_lean)
    assert out_lean.shape == out_ref.shape
    grad = torch.randn_like(out_ref)
    out_ref.backward(grad)
    out_lean.backward(grad.float())
    pairs = [(out_lean, out_ref), (x_lean.grad, x_ref.grad), (lean.weight.grad, reference.weight.grad)]
    if bias:
        pairs.append((lean.bias.grad, reference.bias.grad))
    for ours, theirs in pairs:
        ours, theirs = ours.detach().double(), theirs.detach()
        assert float((ours - theirs).norm() / theirs.norm()) < 2e-6


def test_small_layers_take_the_matrix_product_gradient_and_large_ones_torchs():
    seen = []
    original = GemmWeightGradConv3d.apply

    def spy(*args):
        seen.append(tuple(args[0].shape))
        return original(*args)

    backbone = vidssl.build("backbone", dict(type="r3d", depth=10, width=0.125))
    use_conv3d(backbone, "lean")
    GemmWeightGradConv3d.apply = spy
    try:
        backbone(torch.randn(2, 3, 8, 112, 112)).sum().backward()
        with torch.no_grad():   # no gradient, nothing to gain
            backbone(torch.randn(2, 3, 8, 112, 112))
    finally:
        GemmWeightGradConv3d.apply = original
    # layer4 (1×7×7 outputs) and the strided convolutions into it, not layer1-3
    assert seen and all(shape[2] <= 2 and shape[3] <= 14 for shape in seen)
    assert (2, 16, 2, 14, 14) in seen and (2, 32, 1, 7, 7) in seen


def test_use_conv3d_torch_restores_the_classes_and_touches_no_weight():
    backbone = vidssl.build("backbone", dict(type="r2plus1d", depth=10, width=0.25))
    state = copy.deepcopy(backbone.state_dict())
    classes = [type(m) for m in backbone.modules()]
    use_conv3d(backbone, "lean")
    assert sum(type(m).__name__.startswith("Lean") for m in backbone.modules()) \
        == sum(isinstance(m, nn.Conv3d) for m in backbone.modules()) > 0
    use_conv3d(backbone, "torch")
    assert [type(m) for m in backbone.modules()] == classes
    assert all(torch.equal(state[k], v) for k, v in backbone.state_dict().items())
    with pytest.raises(ValueError, match="conv3d must be one of"):
        use_conv3d(backbone, "fast")


def test_lean_conv3d_trains_a_backbone_as_torchs_does():
    """Ten SGD steps of a small R3D on 8-frame clips (layer4 sees 1 frame) with and without."""
    torch.manual_seed(0)
    clips = torch.randn(4, 3, 8, 56, 56).contiguous(memory_format=torch.channels_last_3d)
    losses = {}
    for kind in ("torch", "lean"):
        torch.manual_seed(1)
        backbone = vidssl.build("backbone", dict(type="r3d", depth=10, width=0.25))
        backbone.to(memory_format=torch.channels_last_3d)
        use_conv3d(backbone, kind)
        optimizer = torch.optim.SGD(backbone.parameters(), lr=0.05, momentum=0.9)
        losses[kind] = []
        for _ in range(10):
            loss = backbone(clips).square().mean()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            losses[kind].append(float(loss.detach()))
    assert losses["lean"][-1] < 0.5 * losses["lean"][0]
    assert max(abs(a - b) / b for a, b in zip(losses["lean"], losses["torch"])) < 1e-4
