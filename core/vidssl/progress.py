"""Built-in hook: a progress bar per epoch with clips/s, loss and ETA (rank 0, on stderr)."""
from __future__ import annotations

import sys
import time

from vidssl import hookimpl


class ProgressBar:
    """tqdm bar over the iterations of each epoch; clips/s counts every process's clips."""

    def __init__(self) -> None:
        self.bar = None
        self.clips, self.started = 0, 0.0

    @hookimpl
    def vidssl_epoch_start(self, run, stage, epoch) -> None:
        from tqdm import tqdm

        self.bar = tqdm(total=stage.iters_per_epoch, file=sys.stderr, dynamic_ncols=True,
                        desc=f"{stage.name} {epoch + 1}/{stage.cfg['epochs']}", leave=False,
                        mininterval=1.0, disable=not sys.stderr.isatty())
        self.clips_per_iter = stage.cfg["batch_size"] * run.world_size
        self.clips, self.started = 0, time.perf_counter()

    @hookimpl
    def vidssl_iteration_end(self, iteration, losses) -> None:
        if self.bar is None:
            return
        if self.bar.n == 0:
            self.bar.n = iteration  # a resumed epoch starts mid-way
        self.clips += self.clips_per_iter
        self.bar.update(1)
        if self.bar.n % 10 == 0 or self.bar.n == self.bar.total:
            rate = self.clips / max(1e-9, time.perf_counter() - self.started)
            self.bar.set_postfix(loss=f"{float(losses['loss']):.4f}", clips_s=f"{rate:.1f}",
                                 refresh=False)

    @hookimpl
    def vidssl_epoch_end(self, stage, epoch, metrics) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None
        print(f"[{stage.name}] epoch {epoch + 1}/{stage.cfg['epochs']}: {_shown(metrics)}",
              file=sys.stderr)

    @hookimpl
    def vidssl_stage_end(self, stage, metrics) -> None:
        print(f"[{stage.name}] done: {_shown(metrics)}", file=sys.stderr)


def _shown(metrics: dict) -> str:
    return ", ".join(f"{k} {'-' if v is None else format(v, '.4g')}" for k, v in metrics.items())
