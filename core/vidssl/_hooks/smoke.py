"""``vidssl-run CONFIG --smoke [N] [--tiny]``: the preflight a researcher runs before spending GPU
hours. Every stage of the config runs with the config's own views, backbone, method and stage
graph, but ``max_iters=N`` (default 2) on one epoch of every training stage, batch 2 per process,
and every dataset cut to its first ``max_videos`` rows; arguments that scale with the data (k-means
``k``, queue and prototype sizes, ...) are capped to those rows by the plugins that own them
(hook ``vidssl_smoke_caps``), each cap printed. ``--tiny`` also shrinks the views (clip length
≤ 8, size ≤ 64, ≤ 2 clips, one crop), keeping everything else: what CI runs for every config.

The report printed at the end has one row per stage: seconds per iteration (training stages, the
first iteration left out), peak RSS (and peak CUDA memory on a GPU), videos read and skipped, and
the full config's projected time per epoch on this machine.
"""
from __future__ import annotations

import copy
import json
import resource
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import torch

from vidssl._common.console import duration, table
from vidssl._config.loading import dataset_slots, stage_configs
from vidssl._plugin_system.hookspecs import hookimpl
from vidssl._plugin_system.manager import stage_kind


def smoke_config(cfg: dict[str, Any], iters: int, tiny: bool, hook: Any,
                 world_size: int = 1) -> tuple[dict[str, Any], dict[str, dict], list[str]]:
    """The config reshaped for a smoke run, the full config's settings per stage (for the
    projection), and a line per change that is not the same for every stage (caps)."""
    cfg = copy.deepcopy(cfg)
    full = {s["name"]: {"batch_size": s["batch_size"], "epochs": s["epochs"]}
            for s in stage_configs(cfg)}
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
        dataset = slot.holder[slot.key]
        for changes in hook.vidssl_smoke_tiny(kind="dataset", cfg=dataset):
            dataset.update(changes or {})
    for key in ("dataset", "val_dataset", "evaluator"):
        if key in merged and key not in stage:
            stage[key] = merged[key]   # the shrunk copy of a stage_defaults entry


def _capped(component: dict[str, Any], kind: str, where: str, rows: int, hook: Any,
            notes: list[str]) -> dict[str, Any]:
    """``component`` (a config) with the arguments its plugin caps to ``rows`` videos
    (``vidssl_smoke_caps``); a note per cap."""
    for caps in hook.vidssl_smoke_caps(kind=kind, cfg=component, n_videos=rows):
        for arg, value in (caps or {}).items():
            notes.append(f"{where}.{arg}: {component.get(arg, 'default')} → {value} (capped to "
                         f"the {rows} videos of the smoke run)")
            component = {**component, arg: value}
    return component


#: the projected seconds of every training stage, in the smoke run's work dir
SMOKE_FILE = "smoke.json"


class SmokeReport:
    """Built-in hook of a smoke run: measures each stage and prints the preflight table."""

    def __init__(self, full: dict[str, dict], world_size: int) -> None:
        self.full, self.world_size = full, world_size
        self.rows: list[list[str]] = []
        self.times: list[float] = []
        self.projected: dict[str, float] = {}   # stage → projected seconds of the full stage

    @hookimpl
    def vidssl_stage_start(self, run, stage) -> None:
        self.started = self.last = time.perf_counter()
        self.times = []
        if torch.cuda.is_available():
            torch.cuda.reset_peak_memory_stats()

    @hookimpl
    def vidssl_iteration_end(self, iteration) -> None:
        now = time.perf_counter()
        if iteration > 0:   # the first iteration carries start-up costs
            self.times.append(now - self.last)
        self.last = now

    @hookimpl
    def vidssl_stage_end(self, run, stage, metrics) -> None:
        seconds = time.perf_counter() - self.started
        per_iter = statistics.median(self.times) if self.times else None
        full = self.full[stage.name]
        projected = "-"
        if per_iter is not None and stage.dataset is not None:
            size = getattr(stage.dataset, "full_size", len(stage.dataset))
            iters = size // (full["batch_size"] * self.world_size)
            # an iteration's time grows with the batch: per clip as measured, at the full batch
            epoch = per_iter / stage.cfg["batch_size"] * full["batch_size"] * iters
            projected = duration(epoch)
            self.projected[stage.name] = epoch * full["epochs"]
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        memory = f"{rss:.0f} MB"
        if torch.cuda.is_available():
            memory += f", CUDA {torch.cuda.max_memory_allocated() / 2**20:.0f} MB"
        read = stage.iters_per_epoch * stage.cfg["batch_size"] if stage.trains else \
            (len(stage.dataset) if stage.dataset is not None else "-")
        skipped = metrics.get("skipped_videos") or 0
        self.rows.append([stage.name, stage.type, f"{per_iter:.2f}" if per_iter else "-",
                          f"{seconds:.1f}", memory, f"{read} / {skipped:.0f}", projected])

    @hookimpl
    def vidssl_run_end(self, run) -> None:
        if not run.is_main:
            return
        # what the progress display of the full run estimates its stages from
        (Path(run.work_dir) / SMOKE_FILE).write_text(json.dumps({"stages": self.projected}))
        print("\nsmoke run (preflight): every stage reached\n" + table(
            self.rows, ["stage", "type", "s/iter", "stage s", "peak memory", "videos read / skipped",
                        "full epoch (projected)"]), file=sys.stderr)
