"""The speed switches never change a result nor break a torch feature, on any registered backbone
and on plugin modules they were not written for: every registered backbone with the default
switches of a training stage (channels_last_3d, the lean convolution; fp32 on CPU) gives its
forward and backward as with the switches off, pickles, and traces where the plain model does.

Sizes (:data:`SMALL`): vidssl's R3D and R(2+1)D at depth 10 and width 0.125 / 0.25 on 2 clips
of 8×32²; i3d, c3d, i3d_resnet-50 and torchvision's wrappers at full width on 2 clips of 8×16²
to 8×32² (i3d_resnet: 4×16²), the swin3d ones on one clip of 2×16²."""

from __future__ import annotations

import copy
import io
import pickle

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import vidssl
from vidssl._speed.lean_conv3d import GEMM_MAX_POSITIONS, GemmWeightGradConv3d, LeanConv3d
from vidssl._speed.precision import clips_in, use_memory_format

#: backbone → (builder arguments, clip shape); the others at full width on DEFAULT_CLIP
SMALL = {
    "r3d": ({"depth": 10, "width": 0.125}, (2, 3, 8, 32, 32)),
    "r2plus1d": ({"depth": 10, "width": 0.25}, (2, 3, 8, 32, 32)),
    "i3d": ({}, (2, 3, 8, 32, 32)),
    "tv_s3d": ({}, (2, 3, 8, 32, 32)),
    # at 16² its last BatchNorm normalises 2 values: gradients of 1e6 amplify rounding
    "tv_r2plus1d_18": ({}, (2, 3, 8, 32, 32)),
    "i3d_resnet": ({"depth": 50}, (2, 3, 4, 16, 16)),
    **{f"tv_swin3d_{size}": ({}, (1, 3, 2, 16, 16)) for size in "tsb"},
}
DEFAULT_CLIP = (2, 3, 8, 16, 16)
#: the relative rounding floor of one fp32 layer's gradients (benchmarks/backbones.py prints
#: 5.8e-5 for 20 steps of a whole R3D-18 with every weight one ulp up)
FP32_FLOOR = 5e-5


def relative(ours: torch.Tensor, theirs: torch.Tensor) -> float:
    ours, theirs = ours.detach().double(), theirs.detach().double()
    return float((ours - theirs).norm() / theirs.norm().clamp_min(1e-300))


def flat(tensors: list) -> torch.Tensor:
    return torch.cat([t.detach().double().flatten() for t in tensors if t is not None])


def built(name: str) -> tuple[nn.Module, tuple[int, ...]]:
    torch.manual_seed(0)
    args, shape = SMALL.get(name, ({}, DEFAULT_CLIP))
    return vidssl.build("backbone", {"type": name, **args}), shape


def forward_backward(model: nn.Module, clip: torch.Tensor) -> tuple[torch.Tensor, list]:
    model.train()
    torch.manual_seed(2)  # the same dropout / stochastic depth draws in every call
    clip = clip.clone().requires_grad_(True)
    out = model(clip)
    out.square().sum().backward()
    return out.detach(), [clip.grad] + [p.grad for p in model.parameters()]


@pytest.mark.parametrize("name", sorted(vidssl.components("backbone")))
def test_every_backbone_with_the_default_switches_equals_it_without(name):
    """float64: the output, the input gradient and every weight gradient within 1e-10
    (relative); the switched model pickles, loads with torch.load and traces with fx where the
    plain one does."""
    plain, shape = built(name)
    plain = plain.double()
    switched = copy.deepcopy(plain)
    use_memory_format(switched, "channels_last_3d")
    torch.manual_seed(1)
    clip = torch.randn(shape, dtype=torch.float64)
    expected, expected_grads = forward_backward(plain, clip)
    with LeanConv3d():
        out, grads = forward_backward(switched, clips_in(clip, "channels_last_3d"))
    assert relative(out, expected) <= 1e-10
    # the input's and every weight's gradient as one vector (some, like a convolution bias
    # before BatchNorm, are zero up to rounding: alone, their relative error means nothing)
    assert relative(flat(grads), flat(expected_grads)) <= 1e-10
    buffer = io.BytesIO()
    torch.save(switched, buffer)
    loaded = torch.load(io.BytesIO(buffer.getvalue()), weights_only=False)
    assert type(loaded) is type(plain) and type(pickle.loads(pickle.dumps(switched))) is type(plain)
    assert all(
        torch.equal(a, b)
        for a, b in zip(loaded.state_dict().values(), switched.state_dict().values(), strict=True)
    )
    try:
        torch.fx.symbolic_trace(plain)
    except Exception:  # noqa: BLE001 - the plain model itself does not trace: nothing to keep
        return
    switched.eval(), plain.eval()
    with LeanConv3d():  # even inside the mode, tracing sees torch's convolution
        traced = torch.fx.symbolic_trace(switched)
    with torch.no_grad():
        assert relative(traced(clip), plain(clip)) <= 1e-10


def small_layer() -> tuple[nn.Conv3d, torch.Tensor]:
    """An fp32 layer whose output has ≤ 100 positions per clip (2×7×7): the only path that
    takes the matrix-product weight gradient."""
    torch.manual_seed(0)
    conv = nn.Conv3d(8, 6, 3, padding=1)
    x = torch.randn(2, 8, 2, 7, 7)
    assert 2 * 7 * 7 <= GEMM_MAX_POSITIONS
    return conv, x


def test_the_matrix_product_gradient_in_fp32_is_within_the_rounding_floor():
    conv, x = small_layer()
    reference = copy.deepcopy(conv).double()
    seen = []
    original = GemmWeightGradConv3d.apply
    GemmWeightGradConv3d.apply = lambda *args: seen.append(1) or original(*args)
    try:
        out, grads = forward_backward_lean(conv, x)
    finally:
        GemmWeightGradConv3d.apply = original
    assert seen, "the layer took the matrix-product path"
    expected, expected_grads = forward_backward(reference, x.double())
    assert relative(out, expected) <= FP32_FLOOR
    for ours, theirs in zip(grads, expected_grads, strict=True):
        assert relative(ours, theirs) <= FP32_FLOOR


def forward_backward_lean(model: nn.Module, clip: torch.Tensor) -> tuple[torch.Tensor, list]:
    with LeanConv3d():
        return forward_backward(model, clip)


def test_double_backward_through_the_lean_layer():
    """A gradient penalty (d/dw of |dL/dx|²) through the matrix-product path equals torch's."""
    conv, x = small_layer()
    results = []
    for lean in (False, True):
        layer = copy.deepcopy(conv)
        inputs = x.clone().requires_grad_(True)
        with LeanConv3d() if lean else torch.enable_grad():
            out = layer(inputs)
        (grad_x,) = torch.autograd.grad(out.square().sum(), inputs, create_graph=True)
        grad_x.square().sum().backward()
        results.append((grad_x.detach(), layer.weight.grad, layer.bias.grad))
    for ours, theirs in zip(results[1], results[0], strict=True):
        assert relative(ours, theirs) <= FP32_FLOOR


def test_torch_func_grad_and_vmap_inside_the_lean_mode():
    conv, x = small_layer()
    params = dict(conv.named_parameters())

    def loss(p, inputs):
        return torch.func.functional_call(conv, p, (inputs,)).square().sum()

    expected = torch.func.grad(loss)(params, x)
    with LeanConv3d():
        ours = torch.func.grad(loss)(params, x)
        batched = torch.func.vmap(lambda one: conv(one.unsqueeze(0)))(x)
    for key in params:
        assert relative(ours[key], expected[key]) <= FP32_FLOOR
    assert relative(batched.squeeze(1), conv(x)) <= FP32_FLOOR


class StandardisedConv3d(nn.Conv3d):
    """Weight standardisation: a subclass with its own ``_conv_forward``."""

    def _conv_forward(self, x, weight, bias):
        mean = weight.mean(dim=(1, 2, 3, 4), keepdim=True)
        std = weight.std(dim=(1, 2, 3, 4), keepdim=True) + 1e-5
        return F.conv3d(x, (weight - mean) / std, bias, self.stride, self.padding, self.dilation, self.groups)


def test_a_subclass_with_its_own_conv_forward_keeps_it():
    torch.manual_seed(0)
    conv = StandardisedConv3d(4, 6, 3, padding=1)
    x = torch.randn(2, 4, 1, 7, 7)  # one frame: the lean path trims the temporal taps
    expected = conv(x)
    with LeanConv3d():
        out = conv(x)
    assert type(conv) is StandardisedConv3d
    assert relative(out, expected) <= FP32_FLOOR


def test_jit_trace_and_feature_extraction_inside_the_lean_mode():
    from torchvision.models.feature_extraction import create_feature_extractor

    model, shape = built("r3d")
    model.eval()
    clip = torch.randn(shape)
    with LeanConv3d():
        traced = torch.jit.trace(model, clip)
        extractor = create_feature_extractor(model, {"layer4": "layer4"})
    with torch.no_grad():
        assert relative(traced(clip), model(clip)) <= FP32_FLOOR
        assert extractor(clip)["layer4"].dim() == 5
