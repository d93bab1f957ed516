"""The lean 3-D convolution (stage switch ``conv3d``): skipping the taps that only meet padding and
the matrix-product weight gradient give torch's results to float rounding, in both memory formats,
for any module that calls ``F.conv3d``; no module is changed."""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

import vidssl
from vidssl._speed.lean_conv3d import GemmWeightGradConv3d, LeanConv3d, conv3d_mode, reaching_taps


def test_reaching_taps_keeps_only_taps_that_meet_the_input():
    assert reaching_taps(1, 3, 1, 1) == (slice(1, 2), 0)  # one frame: the middle tap
    assert reaching_taps(2, 3, 2, 1) == (slice(1, 3), 0)  # strided onto one output frame
    assert reaching_taps(2, 3, 1, 1) == (slice(0, 3), 1)  # every tap meets a frame
    assert reaching_taps(7, 7, 2, 3) == (slice(0, 7), 3)
    assert reaching_taps(1, 1, 1, 0) == (slice(0, 1), 0)
    assert reaching_taps(1, 1, 2, 1) is None  # padding only: every output is the bias


def test_a_layer_no_tap_reaches_gives_torchs_bias():
    """``Conv3d(8, 8, (1, 3, 3), stride=2, padding=1)`` on one frame: both output frames read
    only temporal padding (an IndexError before)."""
    torch.manual_seed(0)
    conv = nn.Conv3d(8, 8, (1, 3, 3), stride=2, padding=1)
    x = torch.randn(2, 8, 1, 14, 14, requires_grad=True)
    expected = conv(x)
    with LeanConv3d():
        out = conv(x)
    assert torch.equal(out, expected)
    assert torch.equal(out[:, :, 0], conv.bias.view(1, 8, 1, 1).expand(2, 8, 7, 7))
    out.sum().backward()
    assert torch.equal(conv.weight.grad, torch.zeros_like(conv.weight))


# input shape, kernel, stride, padding, bias: layer4 of an R3D on 8-frame clips (1 frame), the
# strided convolution into it, 2-frame layers, an R(2+1)D temporal kernel, a stem, a 1×1×1 map
CASES = [
    ((2, 8, 1, 7, 7), 3, 1, 1, False),
    ((2, 8, 2, 7, 7), 3, 2, 1, True),
    ((2, 8, 2, 5, 5), 3, 1, 1, True),
    ((2, 8, 1, 3, 3), (3, 1, 1), 1, (1, 0, 0), False),
    ((2, 8, 5, 9, 9), (3, 7, 7), (1, 2, 2), (1, 3, 3), False),
    ((2, 8, 1, 1, 1), 3, 1, 1, True),
    ((2, 8, 3, 4, 4), 5, 2, 2, False),
]


@pytest.mark.parametrize("layout", [torch.contiguous_format, torch.channels_last_3d])
@pytest.mark.parametrize("shape,kernel,stride,padding,bias", CASES)
def test_lean_conv3d_equals_torch_in_float64(shape, kernel, stride, padding, bias, layout):
    torch.manual_seed(0)
    reference = nn.Conv3d(8, 6, kernel, stride, padding, bias=bias).double()
    lean = copy.deepcopy(reference).float().to(memory_format=layout)
    x = torch.randn(shape, dtype=torch.float64)
    x_ref, x_lean = x.clone().requires_grad_(), x.float().contiguous(memory_format=layout)
    x_lean.requires_grad_()
    out_ref = reference(x_ref)
    with LeanConv3d():
        out_lean = lean(x_lean)
    assert type(lean) is nn.Conv3d
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
    GemmWeightGradConv3d.apply = spy
    try:
        with LeanConv3d():
            backbone(torch.randn(2, 3, 8, 112, 112)).sum().backward()
            with torch.no_grad():  # no gradient, nothing to gain
                backbone(torch.randn(2, 3, 8, 112, 112))
        backbone(torch.randn(2, 3, 8, 112, 112)).sum().backward()  # outside: torch's
    finally:
        GemmWeightGradConv3d.apply = original
    # layer4 (1×7×7 outputs) and the strided convolutions into it, not layer1-3
    assert seen and all(shape[2] <= 2 and shape[3] <= 14 for shape in seen)
    assert (2, 16, 2, 14, 14) in seen and (2, 32, 1, 7, 7) in seen


def test_the_lean_mode_changes_no_module_and_only_answers_conv3d():
    backbone = vidssl.build("backbone", dict(type="r2plus1d", depth=10, width=0.25)).eval()
    state = copy.deepcopy(backbone.state_dict())
    classes = [type(m) for m in backbone.modules()]
    with LeanConv3d():
        backbone(torch.randn(2, 3, 8, 32, 32)).sum().backward()
        assert torch.equal(torch.ones(2) + 1, torch.full((2,), 2.0)), "other calls run as usual"
    assert [type(m) for m in backbone.modules()] == classes
    assert all(torch.equal(state[k], v) for k, v in backbone.state_dict().items())
    assert isinstance(conv3d_mode("lean"), LeanConv3d)
    assert not isinstance(conv3d_mode("torch"), LeanConv3d)


def test_lean_conv3d_trains_a_backbone_as_torchs_does():
    """Ten SGD steps of a small R3D on 8-frame clips (layer4 sees 1 frame) with and without. The
    two sum in different orders: their losses agree to ~1e-7 over the first steps, and the
    difference then grows 10-100× a step (momentum SGD amplifies it; measured with one compute
    thread: 3e-7 at step 6, 2e-3 at step 10), more or less by the thread count."""
    torch.manual_seed(0)
    clips = torch.randn(4, 3, 8, 56, 56).contiguous(memory_format=torch.channels_last_3d)
    losses = {}
    for kind in ("torch", "lean"):
        torch.manual_seed(1)
        backbone = vidssl.build("backbone", dict(type="r3d", depth=10, width=0.25))
        backbone.to(memory_format=torch.channels_last_3d)
        optimizer = torch.optim.SGD(backbone.parameters(), lr=0.05, momentum=0.9)
        losses[kind] = []
        for _ in range(10):
            with conv3d_mode(kind):
                loss = backbone(clips).square().mean()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            losses[kind].append(float(loss.detach()))
    assert losses["lean"][-1] < 0.5 * losses["lean"][0]
    difference = [abs(a - b) / b for a, b in zip(losses["lean"], losses["torch"], strict=True)]
    assert max(difference[:6]) < 1e-5 and max(difference) < 1e-2, difference
