"""Built-in hooks of a training stage's epoch end, on the same ``vidssl_epoch_end`` spec plugins
implement: the per-epoch scheduler step, and the epoch's checkpoint.

Both are ``tryfirst`` wrappers registered after every other hook of the run (so they wrap them):
the scheduler steps before any plugin's implementation sees the epoch end (as a plugin reading
the optimizer's learning rate expects), and the checkpoint is written after all of them, also
when one of them stops the run (:class:`~vidssl.StopRun`): a stop at an epoch's end keeps that
epoch.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from vidssl._plugin_system.hookspecs import hookimpl


class EpochScheduler:
    """Steps a per-epoch scheduler (``ReduceLROnPlateau`` on ``val_loss``, else ``loss``)."""

    def __init__(self, scheduler: Any) -> None:
        self.scheduler = scheduler

    @hookimpl(wrapper=True, tryfirst=True)
    def vidssl_epoch_end(self, metrics: dict[str, float]) -> Any:
        if isinstance(self.scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau):
            self.scheduler.step(metrics.get("val_loss", metrics["loss"]))
        else:
            self.scheduler.step()
        return (yield)


class EpochCheckpoint:
    """Keeps the best ``val_<best_metric>`` so far in ``state.best`` (``state``: the loop's
    position, saved with it) and writes the epoch's checkpoint with ``save(epoch, iteration,
    best)`` after the other epoch-end hooks, whatever they do."""

    def __init__(self, save: Callable[[int, int, bool], None], best_metric: str | None, state: Any) -> None:
        self.save, self.best_metric, self.state = save, best_metric, state

    @hookimpl(wrapper=True, tryfirst=True)
    def vidssl_epoch_end(self, epoch: int, metrics: dict[str, float]) -> Any:
        value = metrics.get(f"val_{self.best_metric}")
        is_best = value is not None and (self.state.best is None or value > self.state.best)
        if is_best:
            self.state.best = value
        try:
            return (yield)
        finally:
            self.save(epoch + 1, 0, is_best)
