"""Throughput switches of a training stage: mixed precision, memory format, torch.compile.

* ``precision``: ``fp32``, ``bf16`` or ``fp16`` (``auto``: bf16 on CUDA devices that support it,
  else fp32). The *backbone* runs under ``torch.autocast`` and hands the method fp32 features and
  maps, so every head, queue, bank and loss (softmax over a queue, Sinkhorn, NCE's Z) runs in fp32
  without any change to a method. fp16 adds a gradient scaler (:func:`grad_scaler`) whose state is
  checkpointed; a step it skips for overflowing gradients is not a non-finite loss.
* The bf16 gradient check: low-precision kernels can be wrong for some shapes (torch 2.14's CPU
  bf16 ``Conv3d`` weight gradient is garbage, NaN or inf when the input has 2 frames and the
  kernel 3 of them: layer3 of an R3D on 8-frame clips). The first time a bf16 backbone trains on
  a clip shape, :func:`check_bf16_gradients` tests each convolution and linear layer on the
  input shape it gets; one whose bf16 gradients are wrong, or that matches that measured case,
  then runs in fp32, and the run says which.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable
from copy import deepcopy
from typing import Any, cast

import torch
from torch import nn

from vidssl._common.tensors import map_tensors
from vidssl._distributed import process_group as distributed

PRECISIONS = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}
LOW_NAMES = {dtype: name for name, dtype in PRECISIONS.items() if dtype is not None}
MEMORY_FORMATS = {"channels_last_3d": torch.channels_last_3d, "contiguous": torch.contiguous_format}


def resolve_precision(precision: str, device: torch.device) -> str:
    """``auto`` → ``bf16`` on a CUDA device with bf16 support, else ``fp32``."""
    if precision != "auto":
        return precision
    return "bf16" if device.type == "cuda" and torch.cuda.is_bf16_supported() else "fp32"


def plain_class(module: nn.Module) -> type[Any]:
    """``module``'s own class, whether or not :func:`use_precision` switched it to autocast."""
    return getattr(type(module), "_vidssl_plain_class", type(module))


def use_precision(backbone: nn.Module, precision: str, device: torch.device) -> None:
    """Run ``backbone`` (and its copies, e.g. a momentum encoder) under autocast in
    ``precision``, its outputs cast back to fp32; ``fp32`` restores plain forwards (of the
    modules the bf16 gradient check moved to fp32 too)."""
    dtype = PRECISIONS[precision]
    plain = plain_class(backbone)
    if dtype is None:
        for module in backbone.modules():
            module.__class__ = plain_class(module)
        return
    backbone.__class__ = _autocast_class(plain)
    # plain attributes of the instance, which nn.Module's typing does not describe
    backbone._vidssl_autocast = (device.type, dtype)  # type: ignore[assignment]
    backbone._vidssl_checked = set()  # type: ignore[assignment]


_AUTOCAST_CLASSES: dict[type, type] = {}


def _autocast_class(plain: type[Any]) -> type:
    """``plain`` with ``forward`` and ``forward_features`` under autocast (one class per
    backbone class; the instance's ``_vidssl_autocast`` says which device type and dtype)."""
    if plain not in _AUTOCAST_CLASSES:
        # torch.compile does not trace the check; wrapped here rather than decorated, as
        # torch.compiler.disable imports torch._dynamo (~1.7 s that every vidssl command paid)
        uncompiled_check = torch.compiler.disable(check_bf16_gradients)

        def forward(self, *args: Any, **kwargs: Any) -> Any:
            if (
                args
                and isinstance(args[0], torch.Tensor)
                and tuple(args[0].shape) not in self._vidssl_checked
                and self._vidssl_autocast[1] is torch.bfloat16
                and torch.is_grad_enabled()
                and any(p.requires_grad for p in self.parameters())
            ):
                self._vidssl_checked.add(tuple(args[0].shape))
                uncompiled_check(self, args[0])
            with torch.autocast(*self._vidssl_autocast):
                out = plain.forward(self, *args, **kwargs)
            return _to_fp32(out)

        def forward_features(self, *args: Any, **kwargs: Any) -> Any:
            with torch.autocast(*self._vidssl_autocast):
                out = plain.forward_features(self, *args, **kwargs)
            return _to_fp32(out)

        members = {"forward": forward, "_vidssl_plain_class": plain}
        if hasattr(plain, "forward_features"):
            members["forward_features"] = forward_features
        _AUTOCAST_CLASSES[plain] = type(f"Autocast{plain.__name__}", (plain,), members)
    return _AUTOCAST_CLASSES[plain]


#: a kernel's bf16 gradient is wrong when it is not finite or off by more than this fraction of
#: the fp32 gradient (relative Frobenius norm; bf16's own rounding gives ~4e-3)
BF16_GRADIENT_TOLERANCE = 0.05


def check_bf16_gradients(backbone: nn.Module, clips: torch.Tensor) -> list[str]:
    """Test, in isolation and on the input shapes that clips of ``clips``' shape (at most 4 of
    them) give it, every convolution and linear layer of ``backbone`` (:data:`CHECKED_LAYERS`;
    other layers are not tested): its bf16 weight and input gradients against
    fp32 ones from the same bf16-rounded weight and input. Modules that fail run in fp32 from
    now on (in ``backbone`` itself); prints and returns their names. Neither the backbone's
    weights and statistics nor the global random state change."""
    device_type, dtype = cast(tuple[str, torch.dtype], backbone._vidssl_autocast)
    shapes: dict[str, tuple[int, ...]] = {}
    copy = deepcopy(backbone)

    def record(name: str):
        def hook(module: nn.Module, args: tuple) -> None:
            shapes.setdefault(name, tuple(args[0].shape))

        return hook

    hooks = [
        module.register_forward_pre_hook(record(name))
        for name, module in copy.named_modules()
        if _runs_in_low_precision(module)
    ]
    with torch.random.fork_rng(devices=[clips.device] if clips.device.type == "cuda" else []):
        torch.manual_seed(0)
        with torch.no_grad():
            plain_class(copy).forward(
                copy, torch.randn((min(4, len(clips)), *clips.shape[1:]), device=clips.device)
            )
        for hook in hooks:
            hook.remove()
        layout = (
            torch.channels_last_3d
            if clips.dim() == 5
            and not clips.is_contiguous()
            and clips.is_contiguous(memory_format=torch.channels_last_3d)
            else torch.contiguous_format
        )
        wrong = [
            name
            for name, shape in shapes.items()
            if _known_wrong(copy.get_submodule(name), shape, device_type, dtype)
            or _gradient_error(copy.get_submodule(name), shape, layout, device_type, dtype)
            > BF16_GRADIENT_TOLERANCE
        ]
    for name in wrong:
        module = backbone.get_submodule(name)
        module.__class__ = _fp32_class(plain_class(module))
        module._vidssl_device_type = device_type  # type: ignore[assignment]
    if wrong and distributed.is_main():
        print(
            f"vidssl: warning: this device's {LOW_NAMES[dtype]} gradients are wrong for "
            f"{', '.join(f'{n} (input {chr(215).join(map(str, shapes[n]))})' for n in wrong)}; "
            f"these modules run in fp32",
            file=sys.stderr,
        )
    return wrong


def _known_wrong(module: nn.Module, shape: tuple[int, ...], device_type: str, dtype: torch.dtype) -> bool:
    """The case measured wrong on CPUs with native bf16 (torch 2.14): a ``Conv3d`` whose input
    has 2 frames and whose kernel spans 3 or more. Its garbage is intermittent for strided
    convolutions (a test can pass by chance), so it is moved to fp32 without a test."""
    return (
        device_type == "cpu"
        and dtype is torch.bfloat16
        and isinstance(module, nn.Conv3d)
        and shape[2] == 2
        and module.kernel_size[0] >= 3
    )


#: the layers the bf16 check knows how to feed (one floating input, the layer's own weight)
CHECKED_LAYERS = (nn.modules.conv._ConvNd, nn.Linear)


def _runs_in_low_precision(module: nn.Module) -> bool:
    """Whether the bf16 check tests ``module``: a convolution or linear layer (autocast runs
    those in bf16); any other layer, e.g. an ``Embedding`` (integer input) or a ``Bilinear``
    (two inputs), is left as autocast runs it."""
    return isinstance(module, CHECKED_LAYERS) and not any(module.children())


def _gradient_error(
    module: nn.Module,
    shape: tuple[int, ...],
    layout: torch.memory_format,
    device_type: str,
    dtype: torch.dtype,
) -> float:
    """The worst relative error (inf if not finite) of ``module``'s weight and input gradients
    under autocast, for a squared-output loss on a random input of ``shape`` (5-D inputs in
    ``layout``, as the clips), over two tries."""
    module, reference = deepcopy(module).float(), deepcopy(module).float()
    weight = cast(torch.Tensor, module.weight).detach().to(dtype).float()
    cast(torch.Tensor, module.weight).data.copy_(weight)
    cast(torch.Tensor, reference.weight).data.copy_(weight)
    x = torch.randn(shape, device=weight.device).to(dtype).float()
    if x.dim() == 5:
        x = x.contiguous(memory_format=layout)
    x_ref = x.clone().requires_grad_(True)
    reference(x_ref).square().sum().backward()
    worst = 0.0
    for _ in range(2):
        module.weight.grad = None
        x_low = x.clone().requires_grad_(True)
        with torch.autocast(device_type, dtype):
            out = module(x_low)
        out.float().square().sum().backward()
        for low, ref in ((module.weight.grad, reference.weight.grad), (x_low.grad, x_ref.grad)):
            assert isinstance(low, torch.Tensor) and isinstance(ref, torch.Tensor)
            error = float((low.float() - ref).norm() / ref.norm().clamp_min(1e-30))
            worst = max(worst, error if math.isfinite(error) else math.inf)
    return worst


_FP32_CLASSES: dict[type, type] = {}


def _fp32_class(plain: type[Any]) -> type:
    """``plain`` with ``forward`` in fp32 (autocast off, floating inputs cast to fp32)."""
    if plain not in _FP32_CLASSES:

        def forward(self, *args: Any, **kwargs: Any) -> Any:
            with torch.autocast(self._vidssl_device_type, enabled=False):
                return plain.forward(self, *_to_fp32(args), **_to_fp32(kwargs))

        _FP32_CLASSES[plain] = type(
            f"Fp32{plain.__name__}", (plain,), {"forward": forward, "_vidssl_plain_class": plain}
        )
    return _FP32_CLASSES[plain]


def _to_fp32(out: Any) -> Any:
    return map_tensors(lambda t: t.float() if t.is_floating_point() else t, out)


def use_memory_format(module: nn.Module, memory_format: str) -> Callable[[], None]:
    """Lay out every 5-D parameter and buffer of ``module`` in ``memory_format`` (in place);
    returns what lays each of them out as it was again."""
    fmt = MEMORY_FORMATS[memory_format]
    tensors = [t for t in [*module.parameters(), *module.buffers()] if t.dim() == 5]
    before = [
        torch.channels_last_3d
        if not t.is_contiguous() and t.is_contiguous(memory_format=torch.channels_last_3d)
        else torch.contiguous_format
        for t in tensors
    ]
    for tensor in tensors:
        tensor.data = tensor.data.contiguous(memory_format=fmt)

    def restore() -> None:
        for tensor, layout in zip(tensors, before, strict=True):
            tensor.data = tensor.data.contiguous(memory_format=layout)

    return restore


def clips_in(batch: Any, memory_format: str) -> Any:
    """``batch`` with every 5-D tensor (a batch of clips) in ``memory_format``."""
    fmt = MEMORY_FORMATS[memory_format]
    return map_tensors(lambda t: t.contiguous(memory_format=fmt) if t.dim() == 5 else t, batch)


def grad_scaler(precision: str, device: torch.device) -> torch.amp.GradScaler | None:
    """The gradient scaler fp16 needs (``None`` for fp32 and bf16)."""
    return torch.amp.GradScaler(device.type) if precision == "fp16" else None
