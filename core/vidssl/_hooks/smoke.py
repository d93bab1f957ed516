"""``vidssl-run CONFIG --smoke [N] [--tiny]``: the preflight a researcher runs before spending GPU
hours. Every stage of the config runs with the config's own views, backbone, method and stage
graph, but ``max_iters=N`` (default 2) on one epoch of every training stage, batch 2 per process,
and every dataset cut to its first ``max_videos`` rows; arguments that scale with the data (k-means
``k``, queue and prototype sizes, ...) are capped to those rows by the plugins that own them
(hook ``vidssl_smoke_caps``), each cap printed. ``--tiny`` also shrinks the views (clip length
≤ 8, size ≤ 64, ≤ 2 clips, one crop), keeping everything else: what CI runs for every config.

The report printed at the end has one row per stage: seconds per iteration (training stages, the
first iteration left out), peak RSS (and peak CUDA memory on a GPU), videos read and skipped, and
the full config's projected time per epoch on this machine (not with ``--tiny``: its clips are
not the config's). An iteration's time is not
proportional to its batch (a step has costs of its own: optimizer, hooks, per-layer overheads),
so once the stage ends the projection times a forward and backward pass on a larger batch (as
large as the smoke's rows allow where affordable, else 4 videos), extends what it takes more than
at batch 2 linearly to the full batch and adds it to the measured batch-2 iteration; then it adds
the decoding of the full batch's videos by the config's data workers: on the CPU they share its
cores with the step, on a GPU the slower of the two sets the pace (:func:`_iteration_seconds`).
"""

from __future__ import annotations

import copy
import json
import os
import resource
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import default_collate

from vidssl._common.console import duration, table
from vidssl._common.tensors import collate_repeated, to_device
from vidssl._config.loading import dataset_slots, stage_configs
from vidssl._plugin_system.contracts import clips_per_item
from vidssl._plugin_system.hookspecs import hookimpl
from vidssl._plugin_system.manager import get_plugins, stage_kind
from vidssl._speed.lean_conv3d import conv3d_mode
from vidssl._speed.precision import clips_in


def smoke_config(
    cfg: dict[str, Any], iters: int, tiny: bool, hook: Any, world_size: int = 1
) -> tuple[dict[str, Any], dict[str, dict], list[str]]:
    """The config reshaped for a smoke run, the full config's settings per stage (for the
    projection), and a line per change that is not the same for every stage (caps)."""
    cfg = copy.deepcopy(cfg)
    full = {
        s["name"]: {"batch_size": s["batch_size"], "epochs": s["epochs"], "num_workers": s["num_workers"]}
        for s in stage_configs(cfg)
    }
    rows = max(8, 2 * iters * world_size)
    notes: list[str] = []
    defaults = cfg.get("stage_defaults", {})
    for i, stage in enumerate(cfg["stages"]):
        merged = {**defaults, **stage}
        stage["max_videos"] = min(rows, merged.get("max_videos") or rows)
        stage["num_workers"] = min(2, merged.get("num_workers", 0))
        stage_kind(merged["type"]).smoke(stage, merged, iters)
        if tiny:
            _shrink_clips(stage, merged, hook)
        for key in ("method", "extractor", "evaluator"):
            if isinstance(merged.get(key), dict):
                stage[key] = _capped(merged[key], key, f"stages[{i}].{key}", rows, hook, notes)
    return cfg, full, notes


def _shrink_clips(stage: dict[str, Any], merged: dict[str, Any], hook: Any) -> None:
    """``--tiny``: every dataset config of the stage as its plugin shrinks it
    (``vidssl_smoke_tiny``), in place; entries from ``stage_defaults`` are copied into the stage."""
    for slot in dataset_slots(merged):
        shrink_dataset(slot.holder[slot.key], hook)
    for key in ("dataset", "val_dataset", "evaluator"):
        if key in merged and key not in stage:
            stage[key] = merged[key]  # the shrunk copy of a stage_defaults entry


def shrink_dataset(dataset: dict[str, Any], hook: Any | None = None) -> None:
    """Shrink the dataset config ``dataset`` in place as ``--smoke --tiny`` reads it: the changes
    its plugin asks for (``vidssl_smoke_tiny``: small clips, synthetic_motion's small copy)."""
    for changes in (hook or get_plugins().hook).vidssl_smoke_tiny(kind="dataset", cfg=dataset):
        dataset.update(changes or {})


def _capped(
    component: dict[str, Any], kind: str, where: str, rows: int, hook: Any, notes: list[str]
) -> dict[str, Any]:
    """``component`` (a config) with the arguments its plugin caps to ``rows`` videos
    (``vidssl_smoke_caps``); a note per cap."""
    for caps in hook.vidssl_smoke_caps(kind=kind, cfg=component, n_videos=rows):
        for arg, value in (caps or {}).items():
            notes.append(
                f"{where}.{arg}: {component.get(arg, 'default')} → {value} (capped to "
                f"the {rows} videos of the smoke run)"
            )
            component = {**component, arg: value}
    return component


def _step_at_full_batch(run: Any, stage: Any, per_iter: float, full_batch: int) -> tuple[float, float]:
    """(seconds of a training iteration at ``full_batch``, seconds to read one item in this
    process): the measured batch-2 iteration ``per_iter`` plus what a forward and backward pass
    takes more at the full batch, extended linearly from a larger batch timed now: as large as
    the smoke's rows allow where that is affordable (a batch-2 step times ``full_batch / 2``
    under :data:`AFFORDABLE_S`), else 4. Leaves the method's state as it was."""

    # no larger than the full batch, nor than the smoke's rows: queues and banks are capped to them
    size = min(full_batch, len(stage.dataset))
    if per_iter * full_batch / 2 >= AFFORDABLE_S:
        size = min(size, 4)
    if size <= 2:
        return per_iter / 2 * full_batch, 0.0
    repeats = clips_per_item(stage.dataset)
    rows = [i % len(stage.dataset) for i in range(size)]
    items = [stage.dataset[row] for row in rows[:2]]  # the first reads open files, warm up
    started = time.perf_counter()
    items = [stage.dataset[row] for row in rows]
    per_item = (time.perf_counter() - started) / len(items)
    kept = copy.deepcopy(stage.method.state_dict())  # the timing leaves no trace (BN, queues)
    stage.method.train()
    if stage.kind.freezes_backbone:
        stage.method.backbone.eval()
    seconds = {}
    for batch_size in (2, size):
        batch = (
            collate_repeated(repeats, items[:batch_size])
            if repeats > 1
            else default_collate(items[:batch_size])
        )
        batch = clips_in(to_device(batch, run.device), stage.cfg["memory_format"])
        tries = []
        for _ in range(2 if per_iter < 1.0 else 1):  # a shape's first pass sets up kernels
            start = time.perf_counter()
            with conv3d_mode(stage.cfg["conv3d"]):
                stage.method(batch)["loss"].backward()
            tries.append(time.perf_counter() - start)
        seconds[batch_size] = min(tries)
    stage.method.zero_grad(set_to_none=True)
    stage.method.load_state_dict(kept)
    more = max(0.0, seconds[size] - seconds[2]) * (full_batch - 2) / max(1, size - 2)
    return per_iter + more, per_item


def _iteration_seconds(compute: float, reading: float, workers: int, device: torch.device) -> float:
    """An iteration's seconds from its step's (``compute``) and its videos' decoding time in one
    process (``reading``): on a GPU the data workers decode while it computes, the slower of the
    two sets the pace; on the CPU they share its cores with the step."""
    if device.type == "cuda":
        return max(compute, reading / max(1, workers))
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return compute + reading / max(1, min(workers, cores or 1))


#: a smoke run times a step at the full batch when a batch-2 step times half of it stays below
AFFORDABLE_S = 5.0


#: the projected seconds of every training stage, in the smoke run's work dir
SMOKE_FILE = "smoke.json"


class SmokeReport:
    """Built-in hook of a smoke run: measures each stage and prints the preflight table."""

    def __init__(self, full: dict[str, dict], world_size: int, tiny: bool = False) -> None:
        self.full, self.world_size, self.tiny = full, world_size, tiny
        self.rows: list[list[str]] = []
        self.times: list[float] = []
        self.projected: dict[str, float] = {}  # stage → projected seconds of the full stage

    @hookimpl
    def vidssl_stage_start(self, run, stage) -> None:
        self.started = self.last = time.perf_counter()
        self.times = []
        if torch.cuda.is_available():
            torch.cuda.reset_peak_memory_stats()

    @hookimpl
    def vidssl_iteration_end(self, iteration) -> None:
        now = time.perf_counter()
        if iteration > 0:  # the first iteration carries start-up costs
            self.times.append(now - self.last)
        self.last = now

    @hookimpl
    def vidssl_stage_end(self, run, stage, metrics) -> None:
        seconds = time.perf_counter() - self.started
        per_iter = statistics.median(self.times) if self.times else None
        full = self.full[stage.name]
        projected = "- (tiny clips)" if self.tiny else "-"
        if per_iter is not None and stage.dataset is not None and not self.tiny:
            size = getattr(stage.dataset, "full_size", len(stage.dataset))
            iters = size // (full["batch_size"] * self.world_size)
            compute, per_item = _step_at_full_batch(run, stage, per_iter, full["batch_size"])
            epoch = (
                _iteration_seconds(compute, full["batch_size"] * per_item, full["num_workers"], run.device)
                * iters
            )
            projected = duration(epoch)
            self.projected[stage.name] = epoch * full["epochs"]
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        memory = f"{rss:.0f} MB"
        if torch.cuda.is_available():
            memory += f", CUDA {torch.cuda.max_memory_allocated() / 2**20:.0f} MB"
        read = (
            stage.iters_per_epoch * stage.cfg["batch_size"]
            if stage.trains
            else (len(stage.dataset) if stage.dataset is not None else "-")
        )
        skipped = metrics.get("skipped_videos") or 0
        self.rows.append(
            [
                stage.name,
                stage.type,
                f"{per_iter:.2f}" if per_iter else "-",
                f"{seconds:.1f}",
                memory,
                f"{read} / {skipped:.0f}",
                projected,
            ]
        )

    @hookimpl
    def vidssl_run_end(self, run) -> None:
        if not run.is_main:
            return
        # what the progress display of the full run estimates its stages from
        (Path(run.work_dir) / SMOKE_FILE).write_text(json.dumps({"stages": self.projected}))
        print(
            "\nsmoke run (preflight): every stage reached\n"
            + table(
                self.rows,
                [
                    "stage",
                    "type",
                    "s/iter",
                    "stage s",
                    "peak memory",
                    "videos read / skipped",
                    "full epoch (projected)",
                ],
            ),
            file=sys.stderr,
        )
