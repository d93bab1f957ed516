"""Built-in hook: what a person watching a run sees (rank 0, on stderr).

One progress bar per training stage (all its epochs) with the loss, clips/s from the first
iteration (every process's clips), the stage's ETA and the whole run's ETA, and one per evaluation
pass (videos/s and its ETA). Stages not started yet
are estimated from the ``--smoke`` preflight of the same config when one was run
(``<work_dirs>/<config stem>_smoke/smoke.json``), else the run's ETA is shown as unknown. Outside a
terminal (a log file, a batch job) there is no bar but a plain line every
``log.interval_seconds`` (default 30). Each epoch and stage ends with a summary line.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

from vidssl._common.console import duration
from vidssl._config.loading import stage_configs
from vidssl._hooks.smoke import SMOKE_FILE
from vidssl._plugin_system.hookspecs import hookimpl
from vidssl._plugin_system.manager import stage_kind


class ProgressBar:
    """The progress display of a run; ``interval_seconds`` between plain lines off a terminal."""

    def __init__(self, interval_seconds: float = 30.0, terminal: bool | None = None) -> None:
        self.interval = interval_seconds
        self.terminal = sys.stderr.isatty() if terminal is None else terminal
        self.bar: Any = None
        self.stage: Any = None  # the training stage running now
        self.printed = time.perf_counter()  # when the last plain line was printed
        self.estimates: dict[str, float] = {}  # stage → projected seconds (from --smoke)
        self.pending: list[str] = []  # training stages not finished, in run order

    @hookimpl
    def vidssl_run_start(self, run) -> None:
        trains = {s["name"] for s in stage_configs(run.cfg) if stage_kind(s["type"]).trains}
        self.pending = [n for n in run.planned if n in trains]
        source = Path(run.cfg.get("_source", {}).get("file", "run"))
        smoke = Path(run.work_dir).parent / f"{source.stem}_smoke" / SMOKE_FILE
        try:
            self.estimates = json.loads(smoke.read_text())["stages"]
        except (OSError, ValueError, KeyError):
            self.estimates = {}

    @hookimpl
    def vidssl_stage_start(self, run, stage) -> None:
        if not stage.trains:
            return
        self.stage, self.total = stage, stage.cfg["epochs"] * stage.iters_per_epoch
        self.clips_per_iter = stage.cfg["batch_size"] * run.world_size
        self.done: int | None = None
        self.first: int | None = None
        self.clips, self.started, self.printed = 0, time.perf_counter(), time.perf_counter()
        if self.terminal:
            from tqdm import tqdm  # noqa: PLC0415 -- lazy: start-up

            self.bar = tqdm(
                total=self.total,
                file=sys.stderr,
                dynamic_ncols=True,
                desc=stage.name,
                leave=False,
                mininterval=1.0,
            )

    @hookimpl
    def vidssl_iteration_end(self, epoch, iteration, losses) -> None:
        if self.stage is None:
            return
        done = epoch * self.stage.iters_per_epoch + iteration + 1
        if self.first is None:  # a resumed stage starts mid-way
            self.first = done - 1
        self.done = done
        self.clips += self.clips_per_iter
        elapsed = max(1e-9, time.perf_counter() - self.started)
        rate = self.clips / elapsed
        stage_eta = (self.total - done) * elapsed / (done - self.first)
        run_eta = self._run_eta(stage_eta)
        loss = float(losses["loss"])
        if self.bar is not None:
            self.bar.n = done
            self.bar.set_postfix_str(f"loss {loss:.4f}, {rate:.1f} clips/s, run ETA {run_eta}", refresh=False)
            self.bar.refresh()
        elif time.perf_counter() - self.printed >= self.interval or done == self.first + 1:
            self.printed = time.perf_counter()
            print(
                f"[{self.stage.name}] epoch {epoch + 1}/{self.stage.cfg['epochs']} iteration "
                f"{iteration + 1}/{self.stage.iters_per_epoch}: loss {loss:.4f}, {rate:.1f} "
                f"clips/s, stage ETA {duration(stage_eta, compact=True)}, run ETA {run_eta}",
                file=sys.stderr,
                flush=True,
            )

    @hookimpl
    def vidssl_evaluation_batch(self, run, stage, done, total, videos) -> None:
        now = time.perf_counter()
        if done == 1:
            self.evaluated, self.evaluation_started = 0, now
            if self.terminal:
                from tqdm import tqdm  # noqa: PLC0415 -- lazy: start-up

                self.evaluation_bar = tqdm(
                    total=total,
                    file=sys.stderr,
                    dynamic_ncols=True,
                    desc=f"{stage.name} evaluation",
                    leave=False,
                )
        # called as batch `done` arrives: the batches before it are the ones finished
        elapsed = now - self.evaluation_started
        text = (
            "first batch"
            if done == 1
            else f"{self.evaluated / max(elapsed, 1e-9):.1f} videos/s, ETA "
            f"{duration((total - done + 1) * elapsed / (done - 1), compact=True)}"
        )
        self.evaluated += videos * run.world_size
        if self.terminal:
            self.evaluation_bar.n = done
            self.evaluation_bar.set_postfix_str(text)
            if done == total:
                self.evaluation_bar.close()
        elif done == 1 or now - self.printed >= self.interval:
            self.printed = now
            print(f"[{stage.name}] evaluation batch {done}/{total}: {text}", file=sys.stderr, flush=True)

    def _run_eta(self, stage_eta: float) -> str:
        """The run's remaining time: this stage's plus the smoke estimates of the stages after
        it (evaluations not counted); unknown when a later stage has no estimate."""
        later = [n for n in self.pending if n != self.stage.name]
        if any(n not in self.estimates for n in later):
            return "unknown"
        return duration(stage_eta + sum(self.estimates[n] for n in later), compact=True)

    @hookimpl
    def vidssl_epoch_end(self, stage, epoch, metrics) -> None:
        if self.bar is not None:
            self.bar.clear()
        print(f"[{stage.name}] epoch {epoch + 1}/{stage.cfg['epochs']}: {_shown(metrics)}", file=sys.stderr)

    @hookimpl
    def vidssl_stage_end(self, stage, metrics) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None
        if self.stage is stage:
            self.stage = None
            if stage.name in self.pending:
                self.pending.remove(stage.name)
        print(f"[{stage.name}] done: {_shown(metrics)}", file=sys.stderr)


def _shown(metrics: dict) -> str:
    return ", ".join(f"{k} {'-' if v is None else format(v, '.4g')}" for k, v in metrics.items())
