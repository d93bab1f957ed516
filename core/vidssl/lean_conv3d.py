"""Lean ``Conv3d``: the stage switch ``conv3d='lean'`` (the default; ``'torch'`` turns it off).

Two savings, applied to every ``nn.Conv3d`` of a backbone (any subclass, any plugin's model)
without touching its weights or its results beyond float rounding:

* **Taps that only meet padding are skipped.** Deep in a network clips are short: layer4 of an
  R3D on 8-frame clips sees 1 frame, so two of its kernel's three temporal taps only ever
  multiply zero padding. The layer then runs with the taps that reach the input (a view of the
  weight, smaller padding); the others get a zero gradient, as they would anyway.
* **Small layers' weight gradient is one matrix product.** Where a clip's output has at most
  :data:`GEMM_MAX_POSITIONS` positions (layer4: 1×7×7 or 2×7×7), the CPU kernel's weight
  gradient runs at a fifth of its forward speed on this machine (80 ms against 17 ms for one
  512-channel layer); in fp32 on CPU the gradient is computed instead as
  ``grad_output^T @ im2col(input)`` (:class:`GemmWeightGradConv3d`), whose columns are small
  there.

Only zero padding, dilation 1 and numeric padding are handled; any other ``Conv3d`` runs as
torch's.
"""
from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torch.autograd.function import once_differentiable

#: a clip's output positions (frames × height × width) up to which the CPU fp32 weight gradient
#: is a matrix product (measured: 2×7×7 and 1×7×7 layers gain 2–5×, 2×14×14 ones tie, larger
#: ones lose)
GEMM_MAX_POSITIONS = 100
CONV3D_KINDS = ("lean", "torch")


def reaching_taps(size: int, kernel: int, stride: int, padding: int) -> tuple[slice, int]:
    """Along one dimension of ``size`` input positions: the slice of the ``kernel`` taps that
    reach the input for at least one output, and the (symmetric) padding that gives the same
    outputs with only those taps. All taps and ``padding`` where no symmetric padding does."""
    outputs = (size + 2 * padding - kernel) // stride + 1
    reach = [tap for tap in range(kernel)
             if any(0 <= i * stride - padding + tap < size for i in range(outputs))]
    first, last = reach[0], reach[-1]
    taps, left = last - first + 1, padding - first
    right = max(0, (outputs - 1) * stride - left + taps - size)
    if left != right or (size + 2 * left - taps) // stride + 1 != outputs:
        return slice(0, kernel), padding
    return slice(first, last + 1), left


class GemmWeightGradConv3d(torch.autograd.Function):
    """``F.conv3d`` (no dilation, one group) whose weight gradient is ``grad_output^T @
    im2col(input)``; the input gradient is torch's."""

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None,
                stride: tuple[int, int, int], padding: tuple[int, int, int]) -> torch.Tensor:
        ctx.save_for_backward(x, weight)
        ctx.stride, ctx.padding, ctx.has_bias = stride, padding, bias is not None
        return F.conv3d(x, weight, bias, stride, padding)

    @staticmethod
    @once_differentiable
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        x, weight = ctx.saved_tensors
        grad_x = grad_weight = grad_bias = None
        if ctx.needs_input_grad[0]:
            grad_x = torch.ops.aten.convolution_backward(
                grad, x, weight, None, ctx.stride, ctx.padding, (1, 1, 1), False, (0, 0, 0), 1,
                (True, False, False))[0]
        if ctx.needs_input_grad[1]:
            grad_weight = _weight_grad(x, grad, weight.shape, ctx.stride, ctx.padding)
        if ctx.has_bias and ctx.needs_input_grad[2]:
            grad_bias = grad.sum((0, 2, 3, 4))
        return grad_x, grad_weight, grad_bias, None, None


def _weight_grad(x: torch.Tensor, grad: torch.Tensor, shape: torch.Size,
                 stride: tuple[int, int, int], padding: tuple[int, int, int]) -> torch.Tensor:
    """The weight gradient (``shape`` = out × in × kt × kh × kw, channels-last strides) of a
    convolution of ``x`` (N×C×T×H×W) whose output gradient is ``grad``."""
    out_channels, in_channels, *kernel = shape
    padded = x.permute(0, 2, 3, 4, 1)                       # N × T × H × W × C
    if any(padding):
        pt, ph, pw = padding
        padded = F.pad(padded, (0, 0, pw, pw, ph, ph, pt, pt))
    windows = padded.unfold(1, kernel[0], stride[0]).unfold(2, kernel[1], stride[1]) \
        .unfold(3, kernel[2], stride[2])                    # N × T' × H' × W' × C × kt × kh × kw
    columns = windows.permute(0, 1, 2, 3, 5, 6, 7, 4).reshape(-1, in_channels * kernel[0]
                                                              * kernel[1] * kernel[2])
    rows = grad.permute(0, 2, 3, 4, 1).reshape(-1, out_channels)
    return (rows.T @ columns).view(out_channels, *kernel, in_channels).permute(0, 4, 1, 2, 3)


def _lean_conv_forward(self: nn.Conv3d, x: torch.Tensor, weight: torch.Tensor,
                       bias: torch.Tensor | None) -> torch.Tensor:
    if self.padding_mode != "zeros" or isinstance(self.padding, str) or self.dilation != (1, 1, 1) \
            or x.dim() != 5:
        return self._vidssl_torch_conv_forward(x, weight, bias)
    taps, padding = zip(*(reaching_taps(x.shape[2 + d], weight.shape[2 + d], self.stride[d],
                                        self.padding[d]) for d in range(3)))
    weight = weight[:, :, taps[0], taps[1], taps[2]]
    outputs = [(x.shape[2 + d] + 2 * padding[d] - weight.shape[2 + d]) // self.stride[d] + 1
               for d in range(3)]
    if outputs[0] * outputs[1] * outputs[2] <= GEMM_MAX_POSITIONS and self.groups == 1 \
            and x.device.type == "cpu" and x.dtype == weight.dtype == torch.float32 \
            and not torch.is_autocast_enabled("cpu") and torch.is_grad_enabled():
        return GemmWeightGradConv3d.apply(x, weight, bias, self.stride, padding)
    return F.conv3d(x, weight, bias, self.stride, padding, 1, self.groups)


_LEAN_CLASSES: dict[type, type] = {}


def _lean_class(plain: type) -> type:
    if plain not in _LEAN_CLASSES:
        _LEAN_CLASSES[plain] = type(f"Lean{plain.__name__}", (plain,), {
            "_conv_forward": _lean_conv_forward,
            "_vidssl_torch_conv_forward": plain._conv_forward,
            "_vidssl_lean_base": plain})
    return _LEAN_CLASSES[plain]


def use_conv3d(module: nn.Module, kind: str) -> None:
    """Make every ``nn.Conv3d`` in ``module`` lean (``'lean'``) or torch's own again
    (``'torch'``), in place; weights and buffers are untouched."""
    if kind not in CONV3D_KINDS:
        raise ValueError(f"conv3d must be one of {CONV3D_KINDS}, not {kind!r}")
    for sub in module.modules():
        base = getattr(type(sub), "_vidssl_lean_base", None)
        if kind == "torch" and base is not None:
            sub.__class__ = base
        elif kind == "lean" and base is None and isinstance(sub, nn.Conv3d):
            sub.__class__ = _lean_class(type(sub))
