"""The training loop of ``train`` and ``probe`` stages, resumable at any iteration.

Exact resume rests on three rules: the sample order depends only on (seed, epoch)
(:class:`~vidssl.sampler.ResumableSampler`); data workers are seeded from a per-epoch generator,
never from the global RNG; the global RNG state is saved with every checkpoint and restored.

The loop receives a built :class:`~vidssl.stage.Stage` and the :class:`~vidssl.run_context.RunContext`,
nothing else of the runner.
"""
from __future__ import annotations

import contextlib
import functools
import sys
from collections.abc import Callable
from typing import Any

import torch
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader

from vidssl import checkpoint, distributed
from vidssl.errors import RunError
from vidssl.evaluation import to_device
from vidssl.host_memory import start_data_worker
from vidssl.lean_conv3d import conv3d_mode
from vidssl.optim import steps_per_iteration
from vidssl.precision import (
    clips_in,
    grad_scaler,
    plain_class,
    resolve_precision,
    use_memory_format,
    use_precision,
)
from vidssl.run_context import RunContext
from vidssl.stage import Stage


def train(run: RunContext, stage: Stage, progress: dict[str, Any] | None) -> dict[str, float]:
    """Train ``stage.method`` for ``stage.cfg["epochs"]`` epochs, continuing from ``progress``
    (a ``last.pt``'s progress entry) if given; return the stage's final metrics: the evaluator's
    on ``val_dataset`` if one is set, else the last epoch's mean losses. The stage's throughput
    switches (:mod:`vidssl.precision`, :mod:`vidssl.lean_conv3d`) hold while it trains and are
    undone when it ends; with ``accumulate=N`` an optimizer (and per-iteration scheduler) step
    follows every N batches, and checkpoints land on those steps."""
    restore = switch_backbones(run, stage)
    try:
        return _loop(run, stage, progress)
    finally:   # later stages, evaluators and a user's code meet the modules as they were
        restore()


def switch_backbones(run: RunContext, stage: Stage) -> Callable[[], None]:
    """Apply the stage's ``precision``, ``memory_format`` and ``compile`` to the method's
    backbone and its copies (e.g. a momentum encoder: every submodule of the backbone's class);
    print the effective batch and warn where it differs from the config's ``global_batch``.
    Returns what undoes the three. (``conv3d`` is no module change: the loop enters
    :func:`~vidssl.lean_conv3d.conv3d_mode` around each forward pass.)"""
    cfg, method = stage.cfg, stage.method
    precision = resolve_precision(cfg["precision"], run.device)
    backbones = [m for m in method.modules() if plain_class(m) is plain_class(method.backbone)]
    undo = []
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
    """Print the effective batch where it differs from ``batch_size``; warn where it differs
    from the config's ``global_batch``."""
    cfg = stage.cfg
    effective = distributed.world_size() * cfg["batch_size"] * cfg["accumulate"]
    if not distributed.is_main():
        return
    if effective != cfg["batch_size"]:
        print(f"vidssl: stage '{stage.name}': effective batch {effective} = "
              f"{distributed.world_size()} processes × batch_size {cfg['batch_size']} × "
              f"accumulate {cfg['accumulate']}", file=sys.stderr)
    if cfg["global_batch"] and cfg["global_batch"] != effective:
        print(f"vidssl: warning: stage '{stage.name}': the config declares global_batch="
              f"{cfg['global_batch']} but this run's effective batch is {effective} "
              f"({distributed.world_size()} processes × {cfg['batch_size']} × accumulate "
              f"{cfg['accumulate']}); the recipe's learning rate assumes the former",
              file=sys.stderr)


def _loop(run: RunContext, stage: Stage, progress: dict[str, Any] | None) -> dict[str, float]:
    cfg, method, optimizer, scheduler = stage.cfg, stage.method, stage.optimizer, stage.scheduler
    seed, batch_size, accumulate = run.cfg["seed"] + stage.index, cfg["batch_size"], cfg["accumulate"]
    scaler = grad_scaler(resolve_precision(cfg["precision"], run.device), run.device)
    model = method
    if distributed.world_size() > 1:
        dist_cfg = run.cfg["dist"]
        model = DistributedDataParallel(
            method, device_ids=[run.device.index] if run.device.type == "cuda" else None,
            broadcast_buffers=dist_cfg["broadcast_buffers"],
            find_unused_parameters=dist_cfg["find_unused_parameters"])

    start_epoch, start_iter, sums, best_value = 0, 0, {}, None
    if progress is not None:
        method.load_state_dict(progress["method"])
        optimizer.load_state_dict(progress["optimizer"])
        if scheduler is not None:
            scheduler.load_state_dict(progress["scheduler"])
        start_epoch, start_iter = progress["epoch"], progress["iteration"]
        sums, best_value = progress["sums"], progress["best"]
        if scaler is not None and progress.get("scaler"):
            scaler.load_state_dict(progress["scaler"])
        checkpoint.set_rng_state(progress["rng"])

    def save(epoch: int, iteration: int, best: bool = False) -> None:
        state = {"stage": stage.name, "epoch": epoch, "iteration": iteration,
                 "rng": checkpoint.rng_state(), "method": method.state_dict(),
                 "optimizer": optimizer.state_dict(),
                 "scheduler": scheduler.state_dict() if scheduler is not None else None,
                 "scaler": scaler.state_dict() if scaler is not None else None,
                 "sums": sums, "best": best_value}
        run.save_checkpoint({"results": run.results, "protocols": run.protocols,
                             "progress": state}, best)

    interval = run.cfg["checkpoint"]["interval_iters"]
    best_key = run.cfg["checkpoint"]["best_metric"]
    metrics: dict[str, float] = {}
    validated: dict[str, float] | None = None
    workers = cfg["num_workers"]
    # torch.compile makes its own kernels: the lean convolution is for eager steps
    lean = conv3d_mode("torch" if cfg["compile"] else cfg["conv3d"])
    # one loader for the stage: its workers persist across epochs (items depend only on (seed,
    # epoch, row), and the dataset's epoch is shared with them), the sampler sets the order
    loader = DataLoader(stage.dataset, batch_size=batch_size, sampler=stage.sampler,
                        drop_last=True, num_workers=workers, persistent_workers=workers > 0,
                        prefetch_factor=2 if workers else None,
                        generator=torch.Generator().manual_seed(seed * 100003),
                        pin_memory=run.device.type == "cuda", worker_init_fn=start_data_worker)
    for epoch in range(start_epoch, cfg["epochs"]):
        method.train()
        if stage.type == "probe":
            method.backbone.eval()
        stage.sampler.set_epoch(epoch)
        stage.sampler.start_at(start_iter * batch_size)
        stage.dataset.set_epoch(epoch)
        if start_iter == 0:
            sums = {}
            method.start_epoch(epoch)
        run.hook.vidssl_epoch_start(run=run, stage=stage, epoch=epoch)
        skip_group = False   # a non-finite loss in this accumulation group (skip_step)
        optimizer.zero_grad(set_to_none=True)
        for iteration, batch in enumerate(loader, start=start_iter):
            if iteration >= stage.iters_per_epoch:   # max_iters, whole accumulation groups
                break
            steps_now = (iteration + 1) % accumulate == 0      # the group's last batch
            syncing = steps_now or not isinstance(model, DistributedDataParallel)
            with contextlib.nullcontext() if syncing else model.no_sync():
                with lean:
                    losses = model(clips_in(to_device(batch, run.device), cfg["memory_format"]))
                finite = _finite(losses["loss"])
                if not finite and cfg["nan_policy"] == "stop":
                    raise RunError(
                        f"stage '{stage.name}' epoch {epoch + 1} iteration {iteration + 1}: the "
                        f"loss is {float(losses['loss'].detach())}; stopped (checkpoints/last.pt "
                        f"holds the last good state; nan_policy='skip_step' skips such steps "
                        f"instead)")
                # a skipped step's backward still runs (DDP expects it); its group is dropped
                loss = losses["loss"] / accumulate
                (scaler.scale(loss) if scaler is not None else loss).backward()
            if not finite:
                skip_group = True
                sums["skipped_steps"] = sums.get("skipped_steps", 0) + 1
            else:
                detached = {k: v.detach() for k, v in losses.items()}
                for key, value in detached.items():
                    sums[key] = sums.get(key, 0.0) + value
                sums["skipped_videos"] = sums.get("skipped_videos", 0) + int(batch["skipped"].sum())
                run.hook.vidssl_iteration_end(run=run, stage=stage, epoch=epoch,
                                              iteration=iteration, losses=detached)
            if not steps_now:
                continue
            if not skip_group:
                _step(optimizer, scaler, method, cfg["clip_grad_norm"])
                if steps_per_iteration(scheduler):
                    scheduler.step()
            optimizer.zero_grad(set_to_none=True)
            skip_group = False
            done = iteration + 1
            if interval and done % interval == 0 and done < stage.iters_per_epoch:
                save(epoch, done)
        start_iter = 0
        skipped_steps = int(sums.pop("skipped_steps", 0))
        skipped = int(sums.pop("skipped_videos", 0))
        steps = max(1, stage.iters_per_epoch - skipped_steps)   # the steps that were taken
        metrics = {k: float(v) / steps for k, v in sums.items()}
        if skipped:
            metrics["skipped_videos"] = skipped
            print(f"vidssl: stage '{stage.name}' epoch {epoch + 1}: {skipped} unreadable videos "
                  f"were skipped (named above)", file=sys.stderr)
        if skipped_steps:
            metrics["skipped_steps"] = skipped_steps
            print(f"vidssl: stage '{stage.name}' epoch {epoch + 1}: {skipped_steps} steps with a "
                  f"non-finite loss were skipped (nan_policy='skip_step')", file=sys.stderr)
        metrics["lr"] = optimizer.param_groups[0]["lr"]
        validated = None
        if cfg.get("val_dataset") is not None and cfg["val_interval"] and \
                (epoch + 1) % cfg["val_interval"] == 0:
            validated = run.evaluate(stage)
            metrics |= {f"val_{k}": v for k, v in validated.items()}
        if scheduler is not None and not steps_per_iteration(scheduler):
            if isinstance(scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau):
                scheduler.step(metrics.get("val_loss", metrics["loss"]))
            else:
                scheduler.step()
        value = metrics.get(f"val_{best_key}")
        is_best = value is not None and (best_value is None or value > best_value)
        if is_best:
            best_value = value
        try:
            run.hook.vidssl_epoch_end(run=run, stage=stage, epoch=epoch, metrics=metrics)
        finally:   # a hook that stops the run here (StopRun) keeps the epoch it saw finish
            save(epoch + 1, 0, best=is_best)
    if cfg.get("val_dataset") is None:
        return metrics
    # the last epoch's validation is the stage's result when it ran (no second pass)
    return validated if validated is not None else run.evaluate(stage)


def _step(optimizer: torch.optim.Optimizer, scaler: torch.amp.GradScaler | None,
          method: torch.nn.Module, clip_grad_norm: float | None) -> None:
    """One optimizer step on the accumulated gradients (unscaled and clipped first if asked); a
    step the fp16 scaler skips for overflowing gradients is its business, not a failure."""
    if clip_grad_norm:
        if scaler is not None:
            scaler.unscale_(optimizer)
        torch.nn.utils.clip_grad_norm_(method.parameters(), clip_grad_norm)
    if scaler is None:
        optimizer.step()
    else:
        scaler.step(optimizer)
        scaler.update()


def _finite(loss: torch.Tensor) -> bool:
    """Whether the loss is finite on every process (so all ranks take the same branch)."""
    flag = torch.isfinite(loss.detach()).float().reshape(1)
    return bool(distributed.all_gather(flag).min() > 0)
