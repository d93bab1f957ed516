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

from vidssl import hookimpl
from vidssl.dataset_subset import DatasetSubset

TINY_VIEW = {"clip_len": 8, "resize": 64, "num_clips": 2}   # and size ≤ 64, one crop


def smoke_config(cfg: dict[str, Any], iters: int, tiny: bool, hook: Any,
                 world_size: int = 1) -> tuple[dict[str, Any], dict[str, dict], list[str]]:
    """The config reshaped for a smoke run, the full config's settings per stage (for the
    projection), and a line per change that is not the same for every stage (caps)."""
    from vidssl.config import dataset_slots, stage_configs

    cfg = copy.deepcopy(cfg)
    full = {s["name"]: {"batch_size": s["batch_size"], "epochs": s["epochs"]}
            for s in stage_configs(cfg)}
    rows = max(8, 2 * iters * world_size)
    notes = []
    defaults = cfg.get("stage_defaults", {})
    for i, stage in enumerate(cfg["stages"]):
        merged = {**defaults, **stage}
        stage["max_videos"] = min(rows, merged.get("max_videos") or rows)
        stage["num_workers"] = min(2, merged.get("num_workers", 0))
        if stage["type"] in ("train", "probe"):
            stage.update(max_iters=iters, epochs=1, batch_size=2, val_interval=0, accumulate=1,
                         global_batch=None)
        else:
            stage["batch_size"] = min(2, merged.get("batch_size", 8))
        if tiny:
            for holder, slot in dataset_slots(merged):
                dataset = holder[slot]
                if dataset.get("view") is None:
                    dataset["view"] = {}
                view = dataset["view"]
                for key, limit in TINY_VIEW.items():
                    if view.get(key) is not None:   # None: the view does without (no resize)
                        view[key] = min(view[key], limit)
                view["size"] = min(view.get("size") or 64, 64)
                if view.get("crop") == "three":
                    view["crop"] = "center"
                if view.get("resize") is not None:
                    view["resize"] = max(view["resize"], view["size"])
            for key in ("dataset", "val_dataset", "evaluator"):
                if key in merged and key not in stage:
                    stage[key] = merged[key]   # the shrunk copy of a stage_defaults entry
        for key, kind in (("method", "method"), ("extractor", "extractor"),
                          ("evaluator", "evaluator")):
            component = merged.get(key)
            if not isinstance(component, dict):
                continue
            for caps in hook.vidssl_smoke_caps(kind=kind, cfg=component, n_videos=rows):
                for arg, value in (caps or {}).items():
                    notes.append(f"stages[{i}].{key}.{arg}: {component.get(arg, 'default')} → "
                                 f"{value} (capped to the {rows} videos of the smoke run)")
                    component = {**component, arg: value}
            stage[key] = component
    return cfg, full, notes


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
            size = stage.dataset.full_size if isinstance(stage.dataset, DatasetSubset) \
                else len(stage.dataset)
            iters = size // (full["batch_size"] * self.world_size)
            # an iteration's time grows with the batch: per clip as measured, at the full batch
            epoch = per_iter / stage.cfg["batch_size"] * full["batch_size"] * iters
            projected = _duration(epoch)
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
        from vidssl.cli import table

        if not run.is_main:
            return
        # what the progress display of the full run estimates its stages from
        (Path(run.work_dir) / SMOKE_FILE).write_text(json.dumps({"stages": self.projected}))
        print("\nsmoke run (preflight): every stage reached\n" + table(
            self.rows, ["stage", "type", "s/iter", "stage s", "peak memory", "videos read / skipped",
                        "full epoch (projected)"]), file=sys.stderr)


def _duration(seconds: float) -> str:
    hours, rest = divmod(int(seconds), 3600)
    return f"{hours} h {rest // 60:02d} min" if hours else f"{rest // 60} min {rest % 60:02d} s"
