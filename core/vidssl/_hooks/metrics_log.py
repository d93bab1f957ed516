"""Built-in hook: metrics to ``metrics.jsonl`` and TensorBoard events in the work dir (rank 0).

Each JSONL line is one record: ``{"event": "iter"|"epoch"|"eval"|"stage", "stage": name, ...}``;
iteration records (losses and the learning rate) are written every ``log.interval`` iterations;
TensorBoard (``tb/<stage>/``) also gets the learning rate of every iteration.

A resumed run continues both as if it had never stopped: every checkpoint records how long
``metrics.jsonl`` was, a resume cuts the records written after it (they are written again) and
keeps only the end records of stages the checkpoint counts as finished; the resumed stage's
TensorBoard writer purges its steps after the checkpoint's.
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
        self.writer: Any = None  # a SummaryWriter while a stage with TensorBoard runs
        self.start = time.time()
        #: where the resumed stage stood: (stage, its first step that runs again)
        self.resumed_at: tuple[str, int] | None = None

    def _write(self, record: dict[str, Any], step: int | None = None) -> None:
        record = {"time": round(time.time() - self.start, 3), **record}
        with open(self.path, "a") as f:
            f.write(json.dumps(record) + "\n")
        if self.writer is not None and step is not None:
            prefix = f"{record['stage']}/{record['event']}/"
            for key, value in record.items():
                if (
                    isinstance(value, (int, float))
                    and key not in ("epoch", "iter", "time")
                    and not (record["event"] == "iter" and key == "lr")
                ):  # written above
                    self.writer.add_scalar(prefix + key, value, step)

    @hookimpl
    def vidssl_checkpoint_save(self, checkpoint: dict[str, Any]) -> None:
        checkpoint["metrics_log"] = {"bytes": self.path.stat().st_size if self.path.is_file() else 0}

    @hookimpl
    def vidssl_checkpoint_load(self, checkpoint: dict[str, Any]) -> None:
        """Cut what was logged after the checkpoint (the resumed run logs it again)."""
        size = checkpoint.get("metrics_log", {}).get("bytes")
        if size is not None and self.path.is_file():
            with open(self.path, "rb") as f:
                kept, tail = f.read(size), f.read()
            finished = [
                line
                for line in tail.splitlines(keepends=True)
                if _finished_stage_record(line, checkpoint.get("results", {}))
            ]
            self.path.write_bytes(kept + b"".join(finished))
        progress = checkpoint.get("progress")
        if progress:
            iters = progress.get("iters_per_epoch")
            if iters:
                self.resumed_at = (progress["stage"], progress["epoch"] * iters + progress["iteration"] + 1)

    @hookimpl
    def vidssl_stage_start(self, stage) -> None:
        self.stage_started = time.time()
        if self.tensorboard:
            from torch.utils.tensorboard import SummaryWriter  # noqa: PLC0415 -- lazy: start-up

            purge = self.resumed_at[1] if self.resumed_at and self.resumed_at[0] == stage.name else None
            self.writer = SummaryWriter(str(self.work_dir / "tb" / stage.name), purge_step=purge)

    @hookimpl
    def vidssl_iteration_end(self, stage, epoch, iteration, losses) -> None:
        step = epoch * stage.iters_per_epoch + iteration + 1
        lr = stage.optimizer.param_groups[0]["lr"]
        if self.writer is not None:  # the learning rate of every iteration
            self.writer.add_scalar(f"{stage.name}/iter/lr", lr, step)
        if (iteration + 1) % self.interval == 0:
            self._write(
                {
                    "event": "iter",
                    "stage": stage.name,
                    "epoch": epoch,
                    "iter": iteration + 1,
                    **{k: float(v) for k, v in losses.items()},
                    "lr": lr,
                },
                step,
            )

    @hookimpl
    def vidssl_epoch_end(self, stage, epoch, metrics) -> None:
        self._write(
            {"event": "epoch", "stage": stage.name, "epoch": epoch + 1, **metrics},
            (epoch + 1) * stage.iters_per_epoch,
        )

    @hookimpl
    def vidssl_evaluation_end(self, stage, metrics) -> None:
        self._write({"event": "eval", "stage": stage.name, **metrics})

    @hookimpl
    def vidssl_stage_end(self, stage, metrics) -> None:
        seconds = round(time.time() - self.stage_started, 3)  # this process's part of the stage
        self._write({"event": "stage", "stage": stage.name, **metrics, "seconds": seconds}, 0)
        if self.writer is not None:
            self.writer.close()
            self.writer = None


def _finished_stage_record(line: bytes, results: dict[str, Any]) -> bool:
    """Whether a ``metrics.jsonl`` line is the end record of a stage in ``results``."""
    try:
        record = json.loads(line)
    except ValueError:
        return False  # a line cut by the kill
    return record.get("event") == "stage" and record.get("stage") in results
