"""The training loop of ``train`` and ``probe`` stages, resumable at any iteration.

Exact resume rests on three rules: the sample order depends only on (seed, epoch)
(:class:`~vidssl.sampler.ResumableSampler`); data workers are seeded from a per-epoch generator,
never from the global RNG; the global RNG state is saved with every checkpoint and restored.
"""
from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

import torch
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader

from vidssl import distributed
from vidssl.checkpoint import set_rng_state
from vidssl.errors import CheckpointError, DataError
from vidssl.evaluation import to_device
from vidssl.optim import build_optimizer, build_scheduler, steps_per_iteration
from vidssl.sampler import ResumableSampler

if TYPE_CHECKING:
    from vidssl.runner import Runner, Stage


def run_training(runner: Runner, stage: Stage, progress: dict[str, Any] | None) -> dict[str, float]:
    """Train ``stage.method`` for ``stage.cfg["epochs"]`` epochs; return the stage's final
    metrics: the evaluator's on ``val_dataset`` if one is set, else the last epoch's mean losses."""
    cfg, method, seed = stage.cfg, stage.method, runner.cfg["seed"] + stage.index
    frozen = stage.type == "probe"
    if frozen:
        for param in method.backbone.parameters():
            param.requires_grad_(False)
    dataset = runner.build_component("dataset", stage, "dataset", views=method.views)
    method.prepare(dataset, runner.work_dir)
    if stage.init_method_state is not None:
        carry_over(method, stage.init_method_state, stage.name)
        stage.init_method_state = None
    sampler = ResumableSampler(len(dataset), shuffle=True, seed=seed, rank=distributed.rank(),
                               world_size=distributed.world_size(), drop_last=True)
    batch_size = cfg["batch_size"]
    stage.iters_per_epoch = len(sampler) // batch_size
    if stage.iters_per_epoch == 0:
        raise DataError(f"stage '{stage.name}': dataset has {len(dataset)} samples, fewer than "
                         f"one batch of {batch_size} per process")
    optimizer = build_optimizer(cfg["optimizer"], method)
    scheduler = build_scheduler(cfg["scheduler"], optimizer, cfg["epochs"], stage.iters_per_epoch)
    model = method
    if distributed.world_size() > 1:
        dist_cfg = runner.cfg["dist"]
        model = DistributedDataParallel(
            method, device_ids=[runner.device.index] if runner.device.type == "cuda" else None,
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
        set_rng_state(progress["rng"])

    def state() -> dict[str, Any]:
        return {"method": method.state_dict(), "optimizer": optimizer.state_dict(),
                "scheduler": scheduler.state_dict() if scheduler is not None else None,
                "sums": sums, "best": best_value}

    runner.hook.vidssl_stage_start(runner=runner, stage=stage)
    interval = runner.cfg["checkpoint"]["interval_iters"]
    best_key = runner.cfg["checkpoint"]["best_metric"]
    metrics: dict[str, float] = {}
    for epoch in range(start_epoch, cfg["epochs"]):
        method.train()
        if frozen:
            method.backbone.eval()
        sampler.set_epoch(epoch)
        sampler.start_at(start_iter * batch_size)
        if hasattr(dataset, "set_epoch"):
            dataset.set_epoch(epoch)
        loader = DataLoader(dataset, batch_size=batch_size, sampler=sampler, drop_last=True,
                            num_workers=cfg["num_workers"],
                            generator=torch.Generator().manual_seed(seed * 100003 + epoch),
                            pin_memory=runner.device.type == "cuda")
        if start_iter == 0:
            sums = {}
            method.start_epoch(epoch)
        runner.hook.vidssl_epoch_start(runner=runner, stage=stage, epoch=epoch)
        for iteration, batch in enumerate(loader, start=start_iter):
            losses = model(to_device(batch, runner.device))
            optimizer.zero_grad(set_to_none=True)
            losses["loss"].backward()
            if cfg["clip_grad_norm"]:
                torch.nn.utils.clip_grad_norm_(method.parameters(), cfg["clip_grad_norm"])
            optimizer.step()
            if steps_per_iteration(scheduler):
                scheduler.step()
            detached = {k: v.detach() for k, v in losses.items()}
            for key, value in detached.items():
                sums[key] = sums.get(key, 0.0) + value
            if "skipped" in batch:  # unreadable videos the dataset passed over
                sums["skipped_videos"] = sums.get("skipped_videos", 0) + int(batch["skipped"].sum())
            runner.hook.vidssl_iteration_end(runner=runner, stage=stage, epoch=epoch,
                                             iteration=iteration, losses=detached)
            done = iteration + 1
            if interval and done % interval == 0 and done < stage.iters_per_epoch:
                runner.save_progress(stage, epoch, done, state())
        start_iter = 0
        skipped = int(sums.pop("skipped_videos", 0))
        metrics = {k: float(v) / stage.iters_per_epoch for k, v in sums.items()}
        if skipped:
            metrics["skipped_videos"] = skipped
            print(f"vidssl: stage '{stage.name}' epoch {epoch + 1}: {skipped} unreadable videos "
                  f"were skipped (named above)", file=sys.stderr)
        metrics["lr"] = optimizer.param_groups[0]["lr"]
        validate = cfg["val_interval"] and (epoch + 1) % cfg["val_interval"] == 0
        if validate and cfg.get("val_dataset") is not None:
            metrics |= {f"val_{k}": v for k, v in _evaluate(runner, stage).items()}
        if scheduler is not None and not steps_per_iteration(scheduler):
            if isinstance(scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau):
                scheduler.step(metrics.get("val_loss", metrics["loss"]))
            else:
                scheduler.step()
        runner.hook.vidssl_epoch_end(runner=runner, stage=stage, epoch=epoch, metrics=metrics)
        value = metrics.get(f"val_{best_key}")
        is_best = value is not None and (best_value is None or value > best_value)
        if is_best:
            best_value = value
        runner.save_progress(stage, epoch + 1, 0, state(), best=is_best)
    if cfg.get("val_dataset") is not None:
        return _evaluate(runner, stage)
    return metrics


def carry_over(method: torch.nn.Module, saved: dict[str, torch.Tensor], stage: str) -> None:
    """Load the entries of another method's state dict that this method has with the same
    name and shape (heads, memory bank); the backbone comes from ``init_from`` anyway. Prints
    what was taken; an entry with the same name but another shape is an error."""
    own = method.state_dict()
    taken = []
    for key, value in saved.items():
        if key in own and not key.startswith("backbone."):
            if own[key].shape != value.shape:
                raise CheckpointError(f"stage '{stage}': init_method: '{key}' has shape "
                                      f"{list(value.shape)} in init_from, {list(own[key].shape)} "
                                      f"here")
            own[key] = value
            taken.append(key)
    method.load_state_dict(own)
    if distributed.is_main():
        print(f"vidssl: stage '{stage}' takes {len(taken)} method entries from init_from: "
              f"{', '.join(taken) or 'none'}", file=sys.stderr)


def _evaluate(runner: Runner, stage: Stage) -> dict[str, float]:
    evaluator = runner.build_component("evaluator", stage, "evaluator")
    metrics = evaluator.evaluate(runner.evaluation_context(stage, "val_dataset"))
    runner.hook.vidssl_evaluation_end(runner=runner, stage=stage, metrics=metrics)
    return metrics
