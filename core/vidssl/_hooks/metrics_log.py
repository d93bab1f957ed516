"""Built-in hook: metrics to ``metrics.jsonl`` and TensorBoard events in the work dir (rank 0).

Each JSONL line is one record: ``{"event": "iter"|"epoch"|"eval"|"stage", "stage": name, ...}``;
iteration records (losses and the learning rate) are written every ``log.interval`` iterations;
TensorBoard also gets the learning rate of every iteration.
"""
from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from vidssl._plugin_system.hookspecs import hookimpl


class MetricsLog:
    """Appends records to ``metrics.jsonl`` and mirrors scalars to TensorBoard under ``tb/``."""

    def __init__(self, work_dir: Path, log_cfg: dict[str, Any]) -> None:
        self.path = Path(work_dir) / "metrics.jsonl"
        self.interval = log_cfg["interval"]
        self.tensorboard = log_cfg["tensorboard"]
        self.work_dir = Path(work_dir)
        self.writer = None
        self.start = time.time()

    def _write(self, record: dict[str, Any], step: int | None = None) -> None:
        record = {"time": round(time.time() - self.start, 3), **record}
        with open(self.path, "a") as f:
            f.write(json.dumps(record) + "\n")
        if self.writer is not None and step is not None:
            prefix = f"{record['stage']}/{record['event']}/"
            for key, value in record.items():
                if isinstance(value, (int, float)) and key not in ("epoch", "iter", "time") \
                        and not (record["event"] == "iter" and key == "lr"):   # written above
                    self.writer.add_scalar(prefix + key, value, step)

    @hookimpl
    def vidssl_run_start(self, run) -> None:
        if self.tensorboard:
            from torch.utils.tensorboard import SummaryWriter

            self.writer = SummaryWriter(str(self.work_dir / "tb"))

    @hookimpl
    def vidssl_iteration_end(self, stage, epoch, iteration, losses) -> None:
        step = epoch * stage.iters_per_epoch + iteration + 1
        lr = stage.optimizer.param_groups[0]["lr"]
        if self.writer is not None:   # the learning rate of every iteration
            self.writer.add_scalar(f"{stage.name}/iter/lr", lr, step)
        if (iteration + 1) % self.interval == 0:
            self._write({"event": "iter", "stage": stage.name, "epoch": epoch, "iter": iteration + 1,
                         **{k: float(v) for k, v in losses.items()}, "lr": lr}, step)

    @hookimpl
    def vidssl_epoch_end(self, stage, epoch, metrics) -> None:
        self._write({"event": "epoch", "stage": stage.name, "epoch": epoch + 1, **metrics},
                    (epoch + 1) * stage.iters_per_epoch)

    @hookimpl
    def vidssl_evaluation_end(self, stage, metrics) -> None:
        self._write({"event": "eval", "stage": stage.name, **metrics})

    @hookimpl
    def vidssl_stage_start(self) -> None:
        self.stage_started = time.time()

    @hookimpl
    def vidssl_stage_end(self, stage, metrics) -> None:
        seconds = round(time.time() - self.stage_started, 3)   # this process's part of the stage
        self._write({"event": "stage", "stage": stage.name, **metrics, "seconds": seconds}, 0)

    @hookimpl
    def vidssl_run_end(self) -> None:
        if self.writer is not None:
            self.writer.close()
