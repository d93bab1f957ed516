"""The training loop of ``train`` and ``probe`` stages, resumable at any iteration.

Exact resume rests on three rules: the sample order depends only on (seed, epoch)
(:class:`~vidssl.sampler.ResumableSampler`); data workers are seeded from a per-epoch generator,
never from the global RNG; the global RNG state is saved with every checkpoint and restored.

The loop receives a built :class:`~vidssl.stage.Stage` and the :class:`~vidssl.run_context.RunContext`,
nothing else of the runner.
"""
from __future__ import annotations

import sys
from typing import Any

import torch
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader

from vidssl import checkpoint, distributed
from vidssl.errors import RunError
from vidssl.evaluation import to_device
from vidssl.optim import steps_per_iteration
from vidssl.run_context import RunContext
from vidssl.stage import Stage


def train(run: RunContext, stage: Stage, progress: dict[str, Any] | None) -> dict[str, float]:
    """Train ``stage.method`` for ``stage.cfg["epochs"]`` epochs, continuing from ``progress``
    (a ``last.pt``'s progress entry) if given; return the stage's final metrics: the evaluator's
    on ``val_dataset`` if one is set, else the last epoch's mean losses."""
    cfg, method, optimizer, scheduler = stage.cfg, stage.method, stage.optimizer, stage.scheduler
    seed, batch_size = run.cfg["seed"] + stage.index, cfg["batch_size"]
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
        checkpoint.set_rng_state(progress["rng"])

    def save(epoch: int, iteration: int, best: bool = False) -> None:
        state = {"stage": stage.name, "epoch": epoch, "iteration": iteration,
                 "rng": checkpoint.rng_state(), "method": method.state_dict(),
                 "optimizer": optimizer.state_dict(),
                 "scheduler": scheduler.state_dict() if scheduler is not None else None,
                 "sums": sums, "best": best_value}
        run.save_checkpoint({"results": run.results, "progress": state}, best)

    interval = run.cfg["checkpoint"]["interval_iters"]
    best_key = run.cfg["checkpoint"]["best_metric"]
    metrics: dict[str, float] = {}
    validated: dict[str, float] | None = None
    workers = cfg["num_workers"]
    # one loader for the stage: its workers persist across epochs (items depend only on (seed,
    # epoch, row), and the dataset's epoch is shared with them), the sampler sets the order
    loader = DataLoader(stage.dataset, batch_size=batch_size, sampler=stage.sampler,
                        drop_last=True, num_workers=workers, persistent_workers=workers > 0,
                        prefetch_factor=2 if workers else None,
                        generator=torch.Generator().manual_seed(seed * 100003),
                        pin_memory=run.device.type == "cuda")
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
        for iteration, batch in enumerate(loader, start=start_iter):
            if iteration >= stage.iters_per_epoch:   # max_iters
                break
            losses = model(to_device(batch, run.device))
            optimizer.zero_grad(set_to_none=True)
            if not _finite(losses["loss"]):
                if cfg["nan_policy"] == "stop":
                    raise RunError(
                        f"stage '{stage.name}' epoch {epoch + 1} iteration {iteration + 1}: the "
                        f"loss is {float(losses['loss'].detach())}; stopped (checkpoints/last.pt holds the "
                        f"last good state; nan_policy='skip_step' skips such steps instead)")
                # the backward still runs (DDP expects it) and its gradients are dropped
                losses["loss"].backward()
                optimizer.zero_grad(set_to_none=True)
                sums["skipped_steps"] = sums.get("skipped_steps", 0) + 1
                continue
            losses["loss"].backward()
            if cfg["clip_grad_norm"]:
                torch.nn.utils.clip_grad_norm_(method.parameters(), cfg["clip_grad_norm"])
            optimizer.step()
            if steps_per_iteration(scheduler):
                scheduler.step()
            detached = {k: v.detach() for k, v in losses.items()}
            for key, value in detached.items():
                sums[key] = sums.get(key, 0.0) + value
            sums["skipped_videos"] = sums.get("skipped_videos", 0) + int(batch["skipped"].sum())
            run.hook.vidssl_iteration_end(run=run, stage=stage, epoch=epoch, iteration=iteration,
                                          losses=detached)
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
        run.hook.vidssl_epoch_end(run=run, stage=stage, epoch=epoch, metrics=metrics)
        value = metrics.get(f"val_{best_key}")
        is_best = value is not None and (best_value is None or value > best_value)
        if is_best:
            best_value = value
        save(epoch + 1, 0, best=is_best)
    if cfg.get("val_dataset") is None:
        return metrics
    # the last epoch's validation is the stage's result when it ran (no second pass)
    return validated if validated is not None else run.evaluate(stage)


def _finite(loss: torch.Tensor) -> bool:
    """Whether the loss is finite on every process (so all ranks take the same branch)."""
    flag = torch.isfinite(loss.detach()).float().reshape(1)
    return bool(distributed.all_gather(flag).min() > 0)
