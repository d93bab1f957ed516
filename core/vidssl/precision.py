"""Throughput switches of a training stage: mixed precision, memory format, torch.compile.

* ``precision``: ``fp32``, ``bf16`` or ``fp16`` (``auto``: bf16 on CUDA devices that support it,
  else fp32). The *backbone* runs under ``torch.autocast`` and hands the method fp32 features and
  maps, so every head, queue, bank and loss (softmax over a queue, Sinkhorn, NCE's Z) runs in fp32
  without any change to a method. fp16 adds a gradient scaler (:func:`grad_scaler`) whose state is
  checkpointed; a step it skips for overflowing gradients is not a non-finite loss.
* ``memory_format``: ``channels_last_3d`` (default) or ``contiguous``, for the backbone's 5-D
  weights and the clips fed to it.
* ``compile``: ``torch.compile`` of the backbone's ``forward`` (in place: checkpoint keys are
  unchanged).
"""
from __future__ import annotations

from typing import Any

import torch
from torch import nn

from vidssl.evaluation import map_tensors

PRECISIONS = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}
MEMORY_FORMATS = {"channels_last_3d": torch.channels_last_3d, "contiguous": torch.contiguous_format}


def resolve_precision(precision: str, device: torch.device) -> str:
    """``auto`` → ``bf16`` on a CUDA device with bf16 support, else ``fp32``."""
    if precision != "auto":
        return precision
    return "bf16" if device.type == "cuda" and torch.cuda.is_bf16_supported() else "fp32"


def plain_class(module: nn.Module) -> type:
    """``module``'s own class, whether or not :func:`use_precision` switched it to autocast."""
    return getattr(type(module), "_vidssl_plain_class", type(module))


def use_precision(backbone: nn.Module, precision: str, device: torch.device) -> None:
    """Run ``backbone`` (and its copies, e.g. a momentum encoder) under autocast in
    ``precision``, its outputs cast back to fp32; ``fp32`` restores plain forwards."""
    dtype = PRECISIONS[precision]
    plain = plain_class(backbone)
    if dtype is None:
        backbone.__class__ = plain
        return
    backbone.__class__ = _autocast_class(plain)
    backbone._vidssl_autocast = (device.type, dtype)


_AUTOCAST_CLASSES: dict[type, type] = {}


def _autocast_class(plain: type) -> type:
    """``plain`` with ``forward`` and ``forward_features`` under autocast (one class per
    backbone class; the instance's ``_vidssl_autocast`` says which device type and dtype)."""
    if plain not in _AUTOCAST_CLASSES:
        def forward(self, *args: Any, **kwargs: Any) -> Any:
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


def _to_fp32(out: Any) -> Any:
    return map_tensors(lambda t: t.float() if t.is_floating_point() else t, out)


def use_memory_format(module: nn.Module, memory_format: str) -> None:
    """Lay out every 5-D parameter and buffer of ``module`` in ``memory_format`` (in place)."""
    fmt = MEMORY_FORMATS[memory_format]
    for tensor in [*module.parameters(), *module.buffers()]:
        if tensor.dim() == 5:
            tensor.data = tensor.data.contiguous(memory_format=fmt)


def clips_in(batch: Any, memory_format: str) -> Any:
    """``batch`` with every 5-D tensor (a batch of clips) in ``memory_format``."""
    fmt = MEMORY_FORMATS[memory_format]
    return map_tensors(lambda t: t.contiguous(memory_format=fmt) if t.dim() == 5 else t, batch)


def grad_scaler(precision: str, device: torch.device) -> torch.amp.GradScaler | None:
    """The gradient scaler fp16 needs (``None`` for fp32 and bf16)."""
    return torch.amp.GradScaler(device.type) if precision == "fp16" else None
