"""Optimizers and learning-rate schedules from config dicts.

``optimizer=dict(type="SGD", lr=0.1, momentum=0.9, paramwise=dict(...))`` names any class in
``torch.optim``; ``paramwise`` sets per-parameter-group rules:

* ``no_decay``: substrings of parameter names that get weight decay 0 (the seeds use ``["bn"]``);
* ``lr_mult``: name prefix → learning-rate multiplier (e.g. ``{"backbone.": 0.1}``); a multiplier
  of 0 freezes those parameters (``requires_grad=False``, left out of the optimizer).

``scheduler=dict(type="MultiStepLR", milestones=[...])`` names any class in
``torch.optim.lr_scheduler`` or ``"WarmupCosine"``; epoch-based schedules step once per epoch,
``ReduceLROnPlateau`` on the validation loss, ``WarmupCosine`` every iteration.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from vidssl._common.errors import ConfigError
from vidssl._common.schema import format_path, schema_from_signature, suggest, validate

PARAMWISE_SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "no_decay": {"type": "array", "items": {"type": "string"}},
        "lr_mult": {"type": "object", "additionalProperties": {"type": "number"}},
    },
}


class WarmupCosine(torch.optim.lr_scheduler.LambdaLR):
    """Linear warm-up over ``warmup_iters`` then cosine decay to ``min_ratio``·lr at ``total_iters``
    (stepped every iteration)."""

    def __init__(
        self,
        optimizer: torch.optim.Optimizer,
        total_iters: int,
        warmup_iters: int = 0,
        min_ratio: float = 0.0,
    ) -> None:
        self.total_iters, self.warmup_iters, self.min_ratio = total_iters, warmup_iters, min_ratio
        super().__init__(optimizer, self._factor)

    def _factor(self, step: int) -> float:
        if step < self.warmup_iters:
            return (step + 1) / self.warmup_iters
        progress = min(1.0, (step - self.warmup_iters) / max(1, self.total_iters - self.warmup_iters))
        return self.min_ratio + (1 - self.min_ratio) * 0.5 * (1 + math.cos(math.pi * progress))


def _class(module: Any, name: str, what: str, path: Sequence[str | int], extra: dict) -> type:
    classes = {n: c for n, c in vars(module).items() if inspect.isclass(c)} | extra
    if name not in classes:
        raise ConfigError(
            f"{format_path(list(path) + ['type'])}: unknown {what} '{name}'{suggest(name, classes)}"
        )
    return classes[name]


def _optimizer_class(name: str, path: Sequence[str | int] = ()) -> type:
    return _class(torch.optim, name, "optimizer", path, {})


def _scheduler_class(name: str, path: Sequence[str | int] = ()) -> type:
    return _class(torch.optim.lr_scheduler, name, "scheduler", path, {"WarmupCosine": WarmupCosine})


def validate_optimizer(cfg: dict, path: Sequence[str | int]) -> None:
    """Check an optimizer config against the torch class signature (plus ``paramwise``)."""
    cls = _optimizer_class(_type_of(cfg, path, "optimizer"), path)
    schema = schema_from_signature(cls, skip=("params",))
    schema["properties"]["paramwise"] = PARAMWISE_SCHEMA
    validate({k: v for k, v in cfg.items() if k != "type"}, schema, path)


def validate_scheduler(cfg: dict, path: Sequence[str | int]) -> None:
    """Check a scheduler config; ``optimizer`` and WarmupCosine's ``total_iters`` are filled in."""
    cls = _scheduler_class(_type_of(cfg, path, "scheduler"), path)
    skip = ("optimizer", "total_iters") if cls is WarmupCosine else ("optimizer",)
    validate({k: v for k, v in cfg.items() if k != "type"}, schema_from_signature(cls, skip), path)


def _type_of(cfg: Any, path: Sequence[str | int], what: str) -> str:
    if not isinstance(cfg, dict) or not isinstance(cfg.get("type"), str):
        raise ConfigError(
            f"{format_path(path)}: expected dict(type=NAME, ...) naming a torch {what}, got {cfg!r}"
        )
    return cfg["type"]


def param_groups(
    model: nn.Module, no_decay: Sequence[str] = (), lr_mult: dict[str, float] | None = None
) -> list[dict[str, Any]]:
    """Split trainable parameters into groups by (weight decay on/off, lr multiplier).

    Parameters whose multiplier is 0 are frozen and left out. Each group carries ``lr_mult`` and
    ``no_decay`` so :func:`build_optimizer` can set its lr and weight decay.
    """
    lr_mult = lr_mult or {}
    groups: dict[tuple[bool, float], list[nn.Parameter]] = {}
    for name, param in model.named_parameters():
        mult = next((m for prefix, m in lr_mult.items() if name.startswith(prefix)), 1.0)
        if mult == 0:
            param.requires_grad_(False)
        if not param.requires_grad:
            continue
        key = (any(s in name for s in no_decay), mult)
        groups.setdefault(key, []).append(param)
    return [{"params": params, "no_decay": nd, "lr_mult": mult} for (nd, mult), params in groups.items()]


def build_optimizer(cfg: dict, model: nn.Module) -> torch.optim.Optimizer:
    """Optimizer over ``model``'s trainable parameters, grouped by ``cfg["paramwise"]``."""
    cfg = dict(cfg)
    cls = _optimizer_class(cfg.pop("type"))
    groups = param_groups(model, **cfg.pop("paramwise", {}))
    if not groups:
        raise ConfigError("the stage has no trainable parameters for its optimizer")
    base_lr = cfg.get("lr", inspect.signature(cls).parameters["lr"].default)
    for group in groups:
        group["lr"] = base_lr * group["lr_mult"]
        if group["no_decay"]:
            group["weight_decay"] = 0.0
    return cls(groups, **cfg)


def build_scheduler(
    cfg: dict | None, optimizer: torch.optim.Optimizer, epochs: int, iters_per_epoch: int
) -> torch.optim.lr_scheduler.LRScheduler | None:
    """The configured schedule, or ``None``."""
    if not cfg:
        return None
    cfg = dict(cfg)
    cls = _scheduler_class(cfg.pop("type"))
    if cls is WarmupCosine:
        cfg["total_iters"] = epochs * iters_per_epoch
    return cls(optimizer, **cfg)


def steps_per_iteration(scheduler: Any) -> bool:
    """Whether ``scheduler`` is stepped after every iteration (else once per epoch)."""
    return isinstance(scheduler, WarmupCosine)
