"""The optimizer step of a training stage, in one object: :class:`OptimizerStep`.

It owns everything between a batch's losses and the weights changing: gradient accumulation over
``accumulate`` batches (under DDP, gradients sync only on a group's last batch), the fp16 gradient
scaler, gradient clipping, the ``nan_policy`` and the per-iteration scheduler step.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any, cast

import torch
from torch.nn.parallel import DistributedDataParallel

from vidssl._common.errors import RunError
from vidssl._config.optim import steps_per_iteration
from vidssl._distributed import process_group as distributed
from vidssl._speed.precision import grad_scaler, resolve_precision


class OptimizerStep:
    """Accumulate, scale, clip and step for one training stage (``cfg``: its config)."""

    def __init__(
        self,
        method: torch.nn.Module,
        optimizer: torch.optim.Optimizer,
        scheduler: Any,
        cfg: dict[str, Any],
        device: torch.device,
    ) -> None:
        self.method, self.optimizer, self.scheduler = method, optimizer, scheduler
        self.accumulate, self.clip_grad_norm = cfg["accumulate"], cfg["clip_grad_norm"]
        self.nan_policy = cfg["nan_policy"]
        self.scaler = grad_scaler(resolve_precision(cfg["precision"], device), device)
        self.skip_group = False  # a non-finite loss in this accumulation group (skip_step)

    def start_epoch(self) -> None:
        """A new epoch starts with no gradients and no skipped group."""
        self.skip_group = False
        self.optimizer.zero_grad(set_to_none=True)

    def backward(
        self,
        model: torch.nn.Module,
        forward: Callable[[], dict[str, torch.Tensor]],
        where: str,
        last_in_group: bool,
    ) -> dict[str, torch.Tensor] | None:
        """Run ``forward`` (→ losses with ``loss``) and the backward pass of ``loss / accumulate``;
        return the detached losses, or ``None`` when the loss is not finite on some process
        (its group is then skipped; with ``nan_policy='stop'`` a :class:`RunError` naming
        ``where``). A skipped batch's backward still runs: DDP expects it."""
        syncing = last_in_group or not isinstance(model, DistributedDataParallel)
        with contextlib.nullcontext() if syncing else cast(DistributedDataParallel, model).no_sync():
            losses = forward()
            finite = _finite(losses["loss"])
            if not finite and self.nan_policy == "stop":
                raise RunError(
                    f"{where}: the loss is {float(losses['loss'].detach())}; stopped "
                    f"(checkpoints/last.pt holds the last good state; "
                    f"nan_policy='skip_step' skips such steps instead)"
                )
            loss = losses["loss"] / self.accumulate
            (self.scaler.scale(loss) if self.scaler is not None else loss).backward()
        if not finite:
            self.skip_group = True
            return None
        return {k: v.detach() for k, v in losses.items()}

    def step(self) -> None:
        """End an accumulation group: unless it had a non-finite loss, step the optimizer on the
        accumulated gradients (unscaled and clipped first if asked) and a per-iteration
        scheduler; then clear the gradients."""
        if not self.skip_group:
            self._optimizer_step()
            if steps_per_iteration(self.scheduler):
                self.scheduler.step()
        self.optimizer.zero_grad(set_to_none=True)
        self.skip_group = False

    def _optimizer_step(self) -> None:
        """A step the fp16 scaler skips for overflowing gradients is its business, not a
        failure."""
        if self.clip_grad_norm:
            if self.scaler is not None:
                self.scaler.unscale_(self.optimizer)
            torch.nn.utils.clip_grad_norm_(self.method.parameters(), self.clip_grad_norm)
        if self.scaler is None:
            self.optimizer.step()
        else:
            self.scaler.step(self.optimizer)
            self.scaler.update()

    def state_dict(self) -> dict[str, Any]:
        """Optimizer, scheduler and scaler state, as a checkpoint's ``progress`` holds them."""
        return {
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict() if self.scheduler is not None else None,
            "scaler": self.scaler.state_dict() if self.scaler is not None else None,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.optimizer.load_state_dict(state["optimizer"])
        if self.scheduler is not None:
            self.scheduler.load_state_dict(state["scheduler"])
        if self.scaler is not None and state.get("scaler"):
            self.scaler.load_state_dict(state["scaler"])


def _finite(loss: torch.Tensor) -> bool:
    """Whether the loss is finite on every process (so all ranks take the same branch)."""
    flag = torch.isfinite(loss.detach()).float().reshape(1)
    return bool(distributed.all_gather(flag).min() > 0)
