"""The training loop of ``train`` and ``probe`` stages, resumable at any iteration.

Exact resume rests on three rules: the sample order depends only on (seed, epoch)
(:class:`~vidssl._engine.sampler.ResumableSampler`); data workers are seeded from a per-epoch generator,
never from the global RNG; the global RNG state is saved with every checkpoint and restored.

The loop receives a built :class:`~vidssl.Stage` and the :class:`~vidssl.RunContext`,
nothing else of the runner.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader

from vidssl._common import checkpoint
from vidssl._common.tensors import collate_repeated, to_device
from vidssl._config.optim import steps_per_iteration
from vidssl._distributed import process_group as distributed
from vidssl._engine.data_faults import InFlight, stop_for_fault, worker_fault
from vidssl._engine.optimizer_step import OptimizerStep
from vidssl._engine.run_context import RunContext
from vidssl._engine.stage import Stage
from vidssl._engine.stop_signals import start_worker
from vidssl._hooks.stage_end_of_epoch import EpochCheckpoint, EpochScheduler
from vidssl._plugin_system.contracts import clips_per_item
from vidssl._speed.lean_conv3d import conv3d_mode
from vidssl._speed.precision import (
    clips_in,
    plain_class,
    resolve_precision,
    use_memory_format,
    use_precision,
)


def train(run: RunContext, stage: Stage, progress: dict[str, Any] | None) -> dict[str, float]:
    """Train ``stage.method`` for ``stage.cfg["epochs"]`` epochs, continuing from ``progress``
    (a ``last.pt``'s progress entry) if given; return the stage's final metrics: the evaluator's
    on ``val_dataset`` if one is set, else the last epoch's mean losses. The stage's throughput
    switches (:mod:`vidssl._speed.precision`, :mod:`vidssl._speed.lean_conv3d`) hold while it trains and are
    undone when it ends; with ``accumulate=N`` an optimizer (and per-iteration scheduler) step
    follows every N batches, and checkpoints land on those steps."""
    restore = switch_backbones(run, stage)
    try:
        return TrainingLoop(run, stage, progress).run_stage()
    finally:  # later stages, evaluators and a user's code meet the modules as they were
        restore()


def switch_backbones(run: RunContext, stage: Stage) -> Callable[[], None]:
    """Apply the stage's ``precision``, ``memory_format`` and ``compile`` to the method's
    backbone and its copies (e.g. a momentum encoder: every submodule of the backbone's class);
    print the effective batch and warn where it differs from the config's ``global_batch``.
    Returns what undoes the three. (``conv3d`` is no module change: the loop enters
    :func:`~vidssl._speed.lean_conv3d.conv3d_mode` around each forward pass.)"""
    cfg, method = stage.cfg, stage.method
    assert method is not None, "a training stage has a method"
    precision = resolve_precision(cfg["precision"], run.device)
    backbones = [m for m in method.modules() if plain_class(m) is plain_class(method.backbone)]
    undo: list[Callable[[], Any]] = []
    for backbone in backbones:
        use_precision(backbone, precision, run.device)
        undo.append(functools.partial(use_precision, backbone, "fp32", run.device))
        undo.append(use_memory_format(backbone, cfg["memory_format"]))
    if cfg["compile"]:
        method.backbone.compile()
        undo.append(functools.partial(setattr, method.backbone, "_compiled_call_impl", None))
    _report_batch(stage)

    def restore() -> None:
        for step in reversed(undo):
            step()

    return restore


def _report_batch(stage: Stage) -> None:
    """Print the effective batch where it differs from ``batch_size`` (and in clips where the
    dataset's items hold several); warn where it differs from the config's ``global_batch``."""
    cfg = stage.cfg
    effective = distributed.world_size() * cfg["batch_size"] * cfg["accumulate"]
    repeats = clips_per_item(stage.dataset)
    if not distributed.is_main():
        return
    if effective != cfg["batch_size"]:
        print(
            f"vidssl: stage '{stage.name}': effective batch {effective} = "
            f"{distributed.world_size()} processes × batch_size {cfg['batch_size']} × "
            f"accumulate {cfg['accumulate']}",
            file=sys.stderr,
        )
    if repeats > 1:
        print(
            f"vidssl: stage '{stage.name}': {effective} videos per step × {repeats} clips each "
            f"= {effective * repeats} clips per step",
            file=sys.stderr,
        )
    if cfg["global_batch"] and cfg["global_batch"] != effective:
        print(
            f"vidssl: warning: stage '{stage.name}': the config declares global_batch="
            f"{cfg['global_batch']} but this run's effective batch is {effective} "
            f"({distributed.world_size()} processes × {cfg['batch_size']} × accumulate "
            f"{cfg['accumulate']}); the recipe's learning rate assumes the former",
            file=sys.stderr,
        )


@dataclass
class LoopState:
    """Where a training stage is, as a checkpoint's ``progress`` entry keeps it: the epoch and the
    iteration inside it to start at, the epoch's loss sums so far and the best validation value."""

    epoch: int = 0
    iteration: int = 0
    sums: dict[str, Any] = field(default_factory=dict)
    best: float | None = None


class TrainingLoop:
    """The epochs of one training stage: :meth:`run_stage` → :meth:`run_epoch` →
    :meth:`run_iter`. The optimizer step is :class:`~vidssl._engine.optimizer_step.OptimizerStep`'s;
    the per-epoch scheduler step and the epoch's checkpoint are built-in ``vidssl_epoch_end``
    hooks (:mod:`vidssl._hooks.stage_end_of_epoch`)."""

    def __init__(self, run: RunContext, stage: Stage, progress: dict[str, Any] | None) -> None:
        self.run, self.stage, self.cfg = run, stage, stage.cfg
        method, sampler, optimizer = stage.method, stage.sampler, stage.optimizer
        assert method is not None and sampler is not None and optimizer is not None, (
            "a training stage has a method, a sampler and an optimizer"
        )
        self.method, self.sampler = method, sampler
        self.model = _parallel(run, method)
        self.step = OptimizerStep(method, optimizer, stage.scheduler, stage.cfg, run.device)
        self.state = LoopState()
        if progress is not None:
            self._restore(progress)
        # torch.compile makes its own kernels: the lean convolution is for eager steps
        self.lean = conv3d_mode("torch" if self.cfg["compile"] else self.cfg["conv3d"])
        self.in_flight = InFlight(stage.dataset, stage.cfg["num_workers"])
        self.loader = _loader(run, stage, self.in_flight)
        self.validated: dict[str, float] | None = None
        #: every rank agreed to stop (a stop signal) at the last step
        self.stopping = False

    def run_stage(self) -> dict[str, float]:
        """Every remaining epoch; the stage's result (see :func:`train`)."""
        metrics: dict[str, float] = {}
        hooks: dict[str, object] = {}  # the checkpoint last: it wraps the scheduler step
        if self.stage.scheduler is not None and not steps_per_iteration(self.stage.scheduler):
            hooks["epoch scheduler"] = EpochScheduler(self.stage.scheduler)
        hooks["epoch checkpoint"] = EpochCheckpoint(
            self.save, self.run.cfg["checkpoint"]["best_metric"], self.state
        )
        with self.run.hooks_added(hooks):
            for epoch in range(self.state.epoch, self.cfg["epochs"]):
                metrics = self.run_epoch(epoch)
                if self.stopping:  # the signal came in the epoch's last step: its checkpoint
                    raise self.run.signals.stop(f"the end of stage '{self.stage.name}' epoch {epoch + 1}")
        if self.cfg.get("val_dataset") is None:
            return metrics
        # the last epoch's validation is the stage's result when it ran (no second pass)
        return self.validated if self.validated is not None else self.run.evaluate(self.stage)

    def run_epoch(self, epoch: int) -> dict[str, float]:
        """One epoch from where the loop stands; its metrics, after the epoch-end hooks."""
        self._start_epoch(epoch)
        fetching = self.state.iteration  # the batch the loader is reading
        try:
            for iteration, batch in enumerate(self.loader, start=self.state.iteration):
                if iteration >= self.stage.iters_per_epoch:  # max_iters, whole groups
                    break
                self.run_iter(epoch, iteration, batch)
                fetching = iteration + 1
        except (RuntimeError, EOFError, ConnectionError) as exc:  # a data worker died or hung
            fault = worker_fault(exc)
            if fault is None:
                raise
            raise stop_for_fault(
                fault,
                self.in_flight,
                self.run.work_dir,
                f"stage '{self.stage.name}' epoch {epoch + 1} iteration {fetching + 1}",
            ) from None
        self.state.iteration = 0
        metrics = self._epoch_metrics(epoch) | self._validate(epoch)
        self.run.hook.vidssl_epoch_end(run=self.run, stage=self.stage, epoch=epoch, metrics=metrics)
        return metrics

    def _validate(self, epoch: int) -> dict[str, float]:
        """Every ``val_interval`` epochs (with a ``val_dataset``), the evaluator's metrics on it,
        as ``val_*``; else none."""
        cfg, self.validated = self.cfg, None
        if cfg.get("val_dataset") is None or not cfg["val_interval"] or (epoch + 1) % cfg["val_interval"]:
            return {}
        self.validated = self.run.evaluate(self.stage)
        return {f"val_{k}": v for k, v in self.validated.items()}

    def run_iter(self, epoch: int, iteration: int, batch: dict[str, Any]) -> None:
        """One batch: forward and backward, its losses summed, and on an accumulation group's
        last batch the optimizer step (and an ``interval_iters`` checkpoint)."""
        last = (iteration + 1) % self.cfg["accumulate"] == 0  # the group's last batch
        where = f"stage '{self.stage.name}' epoch {epoch + 1} iteration {iteration + 1}"
        losses = self.step.backward(self.model, lambda: self._forward(batch), where, last)
        self._record(epoch, iteration, losses, batch)
        if not last:
            return
        self.step.step()
        done = iteration + 1
        interval = self.run.cfg["checkpoint"]["interval_iters"]
        self.stopping, timed = self.run.signals.checkpoint_due(self.run.device)
        if done == self.stage.iters_per_epoch:
            return  # the epoch's own checkpoint comes next
        if (interval and done % interval == 0) or timed or self.stopping:
            self.save(epoch, done)
        if self.stopping:
            raise self.run.signals.stop(f"stage '{self.stage.name}' epoch {epoch + 1} iteration {done}")

    def save(self, epoch: int, iteration: int, best: bool = False) -> None:
        """``last.pt`` (and ``best.pt``) with the loop standing at (``epoch``, ``iteration``)."""
        steps = self.step.state_dict()
        state = {
            "stage": self.stage.name,
            "epoch": epoch,
            "iteration": iteration,
            "iters_per_epoch": self.stage.iters_per_epoch,
            "world_size": distributed.world_size(),
            "rng": checkpoint.rng_state(),
            "method": self.method.state_dict(),
            "optimizer": steps["optimizer"],
            "scheduler": steps["scheduler"],
            "scaler": steps["scaler"],
            "sums": self.state.sums,
            "best": self.state.best,
        }
        self.run.save_checkpoint(
            {"results": self.run.results, "protocols": self.run.protocols, "progress": state}, best
        )
        self.run.signals.saved()

    def _restore(self, progress: dict[str, Any]) -> None:
        self.method.load_state_dict(progress["method"])
        self.step.load_state_dict(progress)
        self.state = LoopState(progress["epoch"], progress["iteration"], progress["sums"], progress["best"])
        checkpoint.set_rng_state(progress["rng"])

    def _start_epoch(self, epoch: int) -> None:
        stage, start = self.stage, self.state.iteration
        self.method.train()
        if stage.kind is not None and stage.kind.freezes_backbone:
            self.method.backbone.eval()
        self.sampler.set_epoch(epoch)
        self.sampler.start_at(start * self.cfg["batch_size"])
        stage.dataset.set_epoch(epoch)
        if start == 0:
            self.state.sums = {}
            self.method.start_epoch(epoch)
        self.run.hook.vidssl_epoch_start(run=self.run, stage=stage, epoch=epoch)
        self.step.start_epoch()

    def _forward(self, batch: dict[str, Any]) -> dict[str, torch.Tensor]:
        with self.lean:
            return self.model(clips_in(to_device(batch, self.run.device), self.cfg["memory_format"]))

    def _record(
        self, epoch: int, iteration: int, losses: dict[str, torch.Tensor] | None, batch: dict[str, Any]
    ) -> None:
        """Add a batch's losses to the epoch's sums (or count its skipped step); a finite one
        fires ``vidssl_iteration_end``."""
        sums = self.state.sums
        if losses is None:
            sums["skipped_steps"] = sums.get("skipped_steps", 0) + 1
            return
        for key, value in losses.items():
            sums[key] = sums.get(key, 0.0) + value
        sums["skipped_videos"] = sums.get("skipped_videos", 0) + int(batch["skipped"].sum())
        self.run.hook.vidssl_iteration_end(
            run=self.run, stage=self.stage, epoch=epoch, iteration=iteration, losses=losses
        )

    def _epoch_metrics(self, epoch: int) -> dict[str, float]:
        """The epoch's mean losses over the steps taken, skipped videos and steps (printed), and
        the learning rate."""
        name, sums = self.stage.name, self.state.sums
        skipped_steps = int(sums.pop("skipped_steps", 0))
        skipped = int(sums.pop("skipped_videos", 0))
        steps = max(1, self.stage.iters_per_epoch - skipped_steps)  # the steps that were taken
        metrics = {k: float(v) / steps for k, v in sums.items()}
        if skipped:
            metrics["skipped_videos"] = skipped
            print(
                f"vidssl: stage '{name}' epoch {epoch + 1}: {skipped} unreadable videos were "
                f"skipped (named above)",
                file=sys.stderr,
            )
        if skipped_steps:
            metrics["skipped_steps"] = skipped_steps
            print(
                f"vidssl: stage '{name}' epoch {epoch + 1}: {skipped_steps} steps with a "
                f"non-finite loss were skipped (nan_policy='skip_step')",
                file=sys.stderr,
            )
        metrics["lr"] = self.step.optimizer.param_groups[0]["lr"]
        return metrics


def _parallel(run: RunContext, method: torch.nn.Module) -> torch.nn.Module:
    """``method`` wrapped in DDP when several processes train, else itself."""
    if distributed.world_size() == 1:
        return method
    dist_cfg = run.cfg["dist"]
    return DistributedDataParallel(
        method,
        device_ids=[run.device.index] if run.device.type == "cuda" else None,
        broadcast_buffers=dist_cfg["broadcast_buffers"],
        find_unused_parameters=dist_cfg["find_unused_parameters"],
    )


def _loader(run: RunContext, stage: Stage, dataset: InFlight) -> DataLoader:
    """One loader for the stage's dataset (read through ``dataset``): its workers persist across
    epochs (items depend only on (seed, epoch, row), and the dataset's epoch is shared with
    them), the sampler sets the order; no batch within ``data_timeout_s`` is a data fault."""
    workers, seed = stage.cfg["num_workers"], run.cfg["seed"] + stage.index
    repeats = clips_per_item(stage.dataset)
    return DataLoader(
        dataset,
        batch_size=stage.cfg["batch_size"],
        sampler=stage.sampler,
        timeout=stage.cfg["data_timeout_s"] if workers else 0,
        drop_last=True,
        num_workers=workers,
        persistent_workers=workers > 0,
        prefetch_factor=2 if workers else None,
        generator=torch.Generator().manual_seed(seed * 100003),
        pin_memory=run.device.type == "cuda",
        worker_init_fn=functools.partial(start_worker, run.signals),
        collate_fn=functools.partial(collate_repeated, repeats) if repeats > 1 else None,
    )
