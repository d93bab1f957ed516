"""Lean 3-D convolution: the stage switch ``conv3d='lean'`` (the default; ``'torch'`` turns it off).

Two savings, each the same function as ``F.conv3d`` up to float rounding:

* **Taps that only meet padding are skipped.** Deep in a network clips are short: layer4 of an
  R3D on 8-frame clips sees 1 frame, so two of its kernel's three temporal taps only ever
  multiply zero padding. The convolution then runs with the taps that reach the input (a view of
  the weight, smaller padding); the others get a zero gradient, as they would anyway.
* **Small layers' weight gradient is one matrix product.** Where a clip's output has at most
  :data:`GEMM_MAX_POSITIONS` positions (layer4: 1×7×7 or 2×7×7), the CPU kernel's weight
  gradient runs at a fifth of its forward speed on this machine (80 ms against 17 ms for one
  512-channel layer); in fp32 on CPU the gradient is computed instead as
  ``grad_output^T @ im2col(input)`` (:class:`GemmWeightGradConv3d`), whose columns are small
  there.

No module is changed: :class:`LeanConv3d` is a ``TorchFunctionMode`` that a training stage enters
around each step's forward pass, and inside it every ``F.conv3d`` call (from ``nn.Conv3d``, from a
subclass with its own ``_conv_forward``, from a method's own code) is answered by
:func:`lean_conv3d`. Modules therefore pickle, ``torch.save``, trace (fx, jit) and compose with
``torch.func`` as torch's own, before, during and after the stage. A call the lean path cannot
answer exactly — string or non-zero-dilation padding, an unbatched input, no tap reaching the
input, a tensor subclass or fx proxy, a ``torch.func`` transform, jit tracing or torch.compile —
is passed to ``F.conv3d`` unchanged.
"""

from __future__ import annotations

import contextlib
from typing import Any

import torch
import torch.nn.functional as F
from torch.nn.modules.utils import _triple
from torch.overrides import TorchFunctionMode

#: a clip's output positions (frames × height × width) up to which the CPU fp32 weight gradient
#: is a matrix product (measured: 2×7×7 and 1×7×7 layers gain 2–5×, 2×14×14 ones tie, larger
#: ones lose)
GEMM_MAX_POSITIONS = 100


def reaching_taps(size: int, kernel: int, stride: int, padding: int) -> tuple[slice, int] | None:
    """Along one dimension of ``size`` input positions: the slice of the ``kernel`` taps that
    reach the input for at least one output, and the (symmetric) padding that gives the same
    outputs with only those taps. All taps and ``padding`` where no symmetric padding does;
    ``None`` where no tap reaches the input (every output is the bias)."""
    outputs = (size + 2 * padding - kernel) // stride + 1
    reach = [
        tap for tap in range(kernel) if any(0 <= i * stride - padding + tap < size for i in range(outputs))
    ]
    if not reach:
        return None
    first, last = reach[0], reach[-1]
    taps, left = last - first + 1, padding - first
    right = max(0, (outputs - 1) * stride - left + taps - size)
    if left != right or (size + 2 * left - taps) // stride + 1 != outputs:
        return slice(0, kernel), padding
    return slice(first, last + 1), left


class GemmWeightGradConv3d(torch.autograd.Function):
    """``F.conv3d`` (no dilation, one group) whose weight gradient is ``grad_output^T @
    im2col(input)``; the input gradient is torch's. The backward is itself differentiable
    (double backward works)."""

    @staticmethod
    def forward(
        x: torch.Tensor,
        weight: torch.Tensor,
        bias: torch.Tensor | None,
        stride: tuple[int, int, int],
        padding: tuple[int, int, int],
    ) -> torch.Tensor:
        return F.conv3d(x, weight, bias, stride, padding)

    @staticmethod
    def setup_context(ctx: Any, inputs: tuple, output: torch.Tensor) -> None:
        x, weight, bias, stride, padding = inputs
        ctx.save_for_backward(x, weight)
        ctx.stride, ctx.padding, ctx.has_bias = stride, padding, bias is not None

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        x, weight = ctx.saved_tensors
        grad_x = grad_weight = grad_bias = None
        if ctx.needs_input_grad[0]:
            grad_x = torch.ops.aten.convolution_backward(
                grad,
                x,
                weight,
                None,
                ctx.stride,
                ctx.padding,
                (1, 1, 1),
                False,
                (0, 0, 0),
                1,
                (True, False, False),
            )[0]
        if ctx.needs_input_grad[1]:
            grad_weight = _weight_grad(x, grad, weight.shape, ctx.stride, ctx.padding)
        if ctx.has_bias and ctx.needs_input_grad[2]:
            grad_bias = grad.sum((0, 2, 3, 4))
        return grad_x, grad_weight, grad_bias, None, None


def _weight_grad(
    x: torch.Tensor,
    grad: torch.Tensor,
    shape: torch.Size,
    stride: tuple[int, int, int],
    padding: tuple[int, int, int],
) -> torch.Tensor:
    """The weight gradient (``shape`` = out × in × kt × kh × kw, channels-last strides) of a
    convolution of ``x`` (N×C×T×H×W) whose output gradient is ``grad``."""
    out_channels, in_channels, *kernel = shape
    padded = x.permute(0, 2, 3, 4, 1)  # N × T × H × W × C
    if any(padding):
        pt, ph, pw = padding
        padded = F.pad(padded, (0, 0, pw, pw, ph, ph, pt, pt))
    windows = (
        padded.unfold(1, kernel[0], stride[0]).unfold(2, kernel[1], stride[1]).unfold(3, kernel[2], stride[2])
    )  # N × T' × H' × W' × C × kt × kh × kw
    columns = windows.permute(0, 1, 2, 3, 5, 6, 7, 4).reshape(
        -1, in_channels * kernel[0] * kernel[1] * kernel[2]
    )
    rows = grad.permute(0, 2, 3, 4, 1).reshape(-1, out_channels)
    return (rows.T @ columns).view(out_channels, *kernel, in_channels).permute(0, 4, 1, 2, 3)


def _plain_call(x: Any, weight: Any, padding: Any, dilation: Any) -> bool:
    """Whether this ``F.conv3d`` call must go to torch unchanged (see the module docstring)."""
    return (
        not (
            type(x) in (torch.Tensor, torch.nn.Parameter)
            and type(weight) in (torch.Tensor, torch.nn.Parameter)
        )
        or x.dim() != 5
        or isinstance(padding, str)
        or _triple(dilation) != (1, 1, 1)
        or torch._C._functorch.peek_interpreter_stack() is not None
        or torch.jit.is_tracing()
        or torch.compiler.is_compiling()
    )


def lean_conv3d(
    input: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor | None = None,
    stride: Any = 1,
    padding: Any = 0,
    dilation: Any = 1,
    groups: int = 1,
) -> torch.Tensor:
    """``F.conv3d`` (same arguments, same result up to float rounding) with the taps that only
    meet padding skipped and, for small CPU fp32 outputs under autograd, the matrix-product
    weight gradient."""
    if _plain_call(input, weight, padding, dilation):
        return F.conv3d(input, weight, bias, stride, padding, dilation, groups)
    stride, padding = _triple(stride), _triple(padding)
    reached = [
        reaching_taps(input.shape[2 + d], weight.shape[2 + d], stride[d], padding[d]) for d in range(3)
    ]
    if None in reached:
        return F.conv3d(input, weight, bias, stride, padding, dilation, groups)
    taps, padding = zip(*reached, strict=True)
    weight = weight[:, :, taps[0], taps[1], taps[2]]
    outputs = [(input.shape[2 + d] + 2 * padding[d] - weight.shape[2 + d]) // stride[d] + 1 for d in range(3)]
    if (
        outputs[0] * outputs[1] * outputs[2] <= GEMM_MAX_POSITIONS
        and groups == 1
        and input.device.type == "cpu"
        and input.dtype == weight.dtype == torch.float32
        and not torch.is_autocast_enabled("cpu")
        and torch.is_grad_enabled()
        and (input.requires_grad or weight.requires_grad)
    ):
        return GemmWeightGradConv3d.apply(input, weight, bias, stride, padding)
    return F.conv3d(input, weight, bias, stride, padding, 1, groups)


class LeanConv3d(TorchFunctionMode):
    """While entered, every ``F.conv3d`` call is :func:`lean_conv3d`; every other torch call
    runs as usual."""

    def __torch_function__(self, func: Any, types: Any, args: tuple = (), kwargs: dict | None = None) -> Any:
        if func is F.conv3d:
            return lean_conv3d(*args, **(kwargs or {}))
        return func(*args, **(kwargs or {}))


def conv3d_mode(kind: str) -> contextlib.AbstractContextManager:
    """The context a training step's forward pass runs in for the stage key ``conv3d``:
    :class:`LeanConv3d` for ``'lean'``, nothing for ``'torch'``."""
    return LeanConv3d() if kind == "lean" else contextlib.nullcontext()
