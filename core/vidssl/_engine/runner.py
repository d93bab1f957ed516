"""The runner: builds what a config names and runs its stages in order, resumably.

A stage (see :mod:`vidssl._engine.stage`) starts from the backbone as the previous stage left it, or from
``init_from`` (a stage name or a checkpoint file). The work dir holds ``config.py``, ``env.json``,
``metrics.jsonl``, TensorBoard events (``tb/``), ``checkpoints/`` (``last.pt``, ``best.pt``,
``stage_<name>.pt``), ``results.json`` (stage name → final metrics) and ``protocols.json`` (stage
name → the protocol card behind them, see :mod:`vidssl._engine.protocol_card`).

The runner owns the run's order of events; the training loop (:mod:`vidssl._engine.training`), the
evaluators and the hooks see only the :class:`~vidssl.RunContext`.
"""

from __future__ import annotations

import json
import math
import platform
import subprocess
import sys
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from vidssl._common import checkpoint
from vidssl._common.errors import CheckpointError, ConfigError, StopRun
from vidssl._common.files import write_json
from vidssl._config.loading import stage_configs, validate_config
from vidssl._distributed import process_group as distributed
from vidssl._engine.protocol_card import backbone_sha256, protocol_card
from vidssl._engine.run_context import RunContext
from vidssl._engine.stage import Stage, build_stage, seed_all, stage_file
from vidssl._engine.stop_signals import StopSignals
from vidssl._engine.work_dir import (
    WorkDirLock,
    adopt,
    check_fresh_run,
    check_resume,
    job_identity,
    save_config,
)
from vidssl._hooks.metrics_log import MetricsLog
from vidssl._hooks.progress import ProgressBar
from vidssl._plugin_system.contracts import NUM_CLASSES, Backbone, check
from vidssl._plugin_system.manager import get_plugins, stage_kind
from vidssl._speed.host_memory import keep_freed_memory, process_claimed


class Runner:
    """Runs a validated config. ``resume`` continues from ``checkpoints/last.pt``; ``only`` limits
    the run to the named stages (the others' saved backbones are still loaded in order); ``hooks``
    are extra hook objects for this run (e.g. the smoke report); ``overwrite`` lets a fresh run
    replace a finished one in the work dir (see :mod:`vidssl._engine.work_dir`)."""

    def __init__(
        self,
        cfg: dict[str, Any],
        work_dir: str | Path,
        resume: bool = False,
        only: list[str] | None = None,
        hooks: Sequence[object] | None = None,
        overwrite: bool = False,
    ) -> None:
        plugins = get_plugins()
        validate_config(cfg, plugins.registry)
        self.stage_cfgs = stage_configs(cfg)
        names = [s["name"] for s in self.stage_cfgs]
        unknown = sorted(set(only or []) - set(names))
        if unknown:
            raise ConfigError(f"--stages: no stage named {', '.join(unknown)} (stages: {', '.join(names)})")
        self.only = set(only) if only else None
        self.extra_hooks = list(hooks or [])
        self.overwrite = overwrite
        device = distributed.setup(cfg["device"], cfg["dist"]["backend"])
        self.run_context = RunContext(cfg, Path(work_dir), device, plugins, resume)
        self.backbone: nn.Module | None = None
        #: the StopRun a hook raised, if one did
        self.stopped: StopRun | None = None

    @property
    def is_main(self) -> bool:
        return distributed.is_main()

    def run(self) -> dict[str, dict[str, float | None]]:
        """Run every (selected) stage; return and write ``results.json``."""
        run = self.run_context
        seed_all(run.cfg["seed"])
        if run.cfg["deterministic"]:
            torch.use_deterministic_algorithms(True, warn_only=True)
        lock = self._claim_work_dir()  # a resumed run may adopt old values of newer keys
        if run.cfg["keep_freed_memory"] and process_claimed():  # never in a user's program
            keep_freed_memory()
        run.signals = StopSignals(run.cfg["stop_signals"], run.cfg["checkpoint"]["interval_minutes"])
        try:
            with run.signals:
                return self._run_locked()
        finally:
            if lock is not None:
                lock.release()

    def _claim_work_dir(self) -> WorkDirLock | None:
        """Take the work dir's lock and check it may be used (rank 0; every rank learns the
        outcome): no other run in it, no finished run replaced without ``overwrite``, a resumed
        run's config unchanged where it must be. A run whose ``last.pt`` an earlier attempt of
        this scheduler job wrote (a requeue, a torchrun restart) resumes, ``--resume`` or not."""
        run = self.run_context
        lock, problem, adopted, resume = None, None, {}, run.resume
        if run.is_main:
            lock = WorkDirLock(run.work_dir)
            try:
                lock.acquire()
                last = run.checkpoint_dir / "last.pt"
                job = job_identity()
                # read only where it decides something: a resume, or an attempt of a job
                saved = (
                    checkpoint.load(last)
                    if last.is_file() and (resume or (job is not None and not self.overwrite))
                    else None
                )
                if saved is not None and not resume and saved.get("job") == job:
                    print(
                        f"vidssl: {last} was written by an earlier attempt of job "
                        f"{saved['job']}: resuming from it",
                        file=sys.stderr,
                    )
                    resume = True
                if not resume and not self.only:
                    check_fresh_run(run.work_dir, self.overwrite)
                if resume and saved is not None:
                    adopted = check_resume(run.work_dir, run.cfg, self.stage_cfgs, set(saved["results"]))
            except ConfigError as exc:
                problem = str(exc)
                lock.release()  # only if it was taken by this run
                lock = None
        problem, adopted, run.resume = distributed.broadcast_object((problem, adopted, resume))
        if problem:
            raise ConfigError(problem)
        adopt(run.cfg, self.stage_cfgs, adopted)
        return lock

    def _run_locked(self) -> dict[str, dict[str, float | None]]:
        run = self.run_context
        self._prepare_work_dir()
        with run.hooks_added(self._run_hooks()):
            state = self._load_resume_state()
            run.results = dict(state.get("results", {})) if state else {}
            run.protocols = dict(state.get("protocols", {})) if state else {}
            if self.only and not state and (run.work_dir / "results.json").is_file():
                # a partial run keeps what the other stages reported earlier
                kept = json.loads((run.work_dir / "results.json").read_text())
                run.results = {k: v for k, v in kept.items() if k not in self.only}
                cards = run.work_dir / "protocols.json"
                kept = json.loads(cards.read_text()) if cards.is_file() else {}
                run.protocols = {k: v for k, v in kept.items() if k in run.results}
            if "backbone" in run.cfg:
                self.backbone = run.plugins.registry.build("backbone", run.cfg["backbone"], ["backbone"]).to(
                    run.device
                )
                check(self.backbone, Backbone, "backbone")
            self._check_class_counts()
            run.planned = [c["name"] for c in self.stage_cfgs if self._runs(c["name"])]
            run.hook.vidssl_run_start(run=run)
            try:
                self._run_stages(state)
            except StopRun as stop:  # a hook ended the run: what finished stands
                self.stopped = stop
            run.hook.vidssl_run_end(run=run, results=run.results)
        return run.results

    def _run_stages(self, state: dict[str, Any] | None) -> None:
        run = self.run_context
        for index, cfg in enumerate(self.stage_cfgs):
            name = cfg["name"]
            if not self._runs(name):
                self._restore_finished(name)
                continue
            if run.signals.checkpoint_due(run.device)[0]:  # last.pt holds the stages before
                raise run.signals.stop(f"the start of stage '{name}'")
            progress = (
                state.get("progress") if state and state.get("progress", {}).get("stage") == name else None
            )
            stage = build_stage(run, index, cfg, self.backbone, resuming=progress is not None)
            if progress is None or name not in run.protocols:
                run.protocols[name] = self._card(stage)
            self._count_left_out(stage)
            run.hook.vidssl_stage_start(run=run, stage=stage)
            assert stage.kind is not None, "build_stage sets the kind"
            self._finish_stage(stage, stage.kind.run(run, stage, progress))

    def _card(self, stage: Stage) -> dict[str, Any]:
        """The protocol card of ``stage`` as it starts (see :mod:`vidssl._engine.protocol_card`)."""
        return protocol_card(self.run_context.cfg, stage, backbone_sha256(self.backbone))

    def _count_left_out(self, stage: Stage) -> None:
        """Put on the stage's card how many videos each of its datasets made so far left out
        (``data.left_out``: dataset key → count and listing)."""
        counts = self.run_context.left_out.get(stage.name)
        if counts:
            self.run_context.protocols[stage.name]["data"]["left_out"] = {
                key: {"videos": n, "listed_in": f"unusable_videos/{stage.name}.{key}.tsv"}
                for key, n in counts.items()
            }

    def _runs(self, name: str) -> bool:
        """Whether stage ``name`` runs now: selected (``--stages``) and not finished already."""
        return name not in self.run_context.results and (not self.only or name in self.only)

    def _check_class_counts(self) -> None:
        """Before any work: every stage's datasets can be read (a malformed annotation line is
        reported now, not after training) and a method's ``num_classes`` equals the number of
        classes of the datasets it is trained or evaluated on."""
        run = self.run_context
        for index, cfg in enumerate(self.stage_cfgs):
            if not self._runs(cfg["name"]):
                continue
            wanted = (cfg.get("method") or {}).get(NUM_CLASSES)
            kind = stage_kind(cfg["type"], ["stages", index])
            for key in ("dataset", "val_dataset"):
                if cfg.get(key) is None:
                    continue
                dataset = run.plugins.registry.build(
                    "dataset", cfg[key], ["stages", index, key], views={"clip": {}}
                )
                have = len(getattr(dataset, "classes", []) or [])
                if wanted is not None and have and have != wanted and key in kind.class_checked:
                    raise ConfigError(
                        f"stages[{index}] ('{cfg['name']}'): method.num_classes is {wanted} but "
                        f"its {key} ({cfg[key]['type']}) has {have} classes in its annotation; "
                        f"set stages[{index}].method.num_classes={have} (or point {key} at the "
                        f"dataset the head is for)"
                    )

    def _finish_stage(self, stage: Stage, measured: dict[str, float]) -> None:
        """Record the stage's metrics (a non-finite value becomes ``None``: ``results.json`` is
        strict JSON), write its stage file, ``last.pt`` and ``results.json``."""
        run = self.run_context
        metrics = {k: float(v) if math.isfinite(float(v)) else None for k, v in measured.items()}
        run.results[stage.name] = metrics
        self._count_left_out(stage)  # with the datasets its evaluation made
        order = [s["name"] for s in self.stage_cfgs]
        run.results = dict(
            sorted(run.results.items(), key=lambda kv: order.index(kv[0]) if kv[0] in order else -1)
        )
        if run.is_main:
            saved: dict[str, Any] = {
                "backbone": self.backbone.state_dict() if self.backbone is not None else {},
                "metrics": metrics,
            }
            if stage.cfg.get("method") is not None and stage.method is not None:
                saved |= {"method_type": stage.cfg["method"]["type"], "method": stage.method.state_dict()}
            checkpoint.save_atomic(saved, stage_file(run.work_dir, stage.name))
        run.save_checkpoint({"results": run.results, "protocols": run.protocols})
        if run.is_main:
            self._write_json("results.json", run.results)
            self._write_json(
                "protocols.json", {k: run.protocols[k] for k in run.results if k in run.protocols}
            )
        distributed.barrier()
        run.hook.vidssl_stage_end(run=run, stage=stage, metrics=metrics)

    def _restore_finished(self, name: str) -> None:
        """A finished (or deselected) stage: take the backbone it left, if it saved one."""
        path = stage_file(self.run_context.work_dir, name)
        if self.backbone is not None and path.is_file():
            self.backbone.load_state_dict(
                checkpoint.backbone_state(checkpoint.load(path, self.run_context.device), path)
            )

    def _load_resume_state(self) -> dict[str, Any] | None:
        run = self.run_context
        path = run.checkpoint_dir / "last.pt"
        if not run.resume:
            return None
        if not path.is_file():
            if run.is_main:
                print(
                    f"vidssl: --resume: no checkpoint in {run.checkpoint_dir}, starting afresh",
                    file=sys.stderr,
                )
            return None
        state = checkpoint.load(path, "cpu")
        if "results" not in state:
            raise CheckpointError(f"checkpoint {path} is not a vidssl run checkpoint (no 'results' entry)")
        saved_world = state.get("progress", {}).get("world_size", distributed.world_size())
        if saved_world != distributed.world_size():
            raise ConfigError(
                f"--resume: {path} was written mid-stage by {saved_world} processes, this run has "
                f"{distributed.world_size()}; an exact resume needs the same number (each process "
                f"reads its own share of every epoch): restart with {saved_world} processes"
            )
        run.hook.vidssl_checkpoint_load(run=run, checkpoint=state)
        return state

    # ---------------------------------------------------------------- work dir and hooks
    def _prepare_work_dir(self) -> None:
        run = self.run_context
        if run.is_main:
            run.checkpoint_dir.mkdir(parents=True, exist_ok=True)
            body = {k: v for k, v in run.cfg.items() if k != "_source"}
            (run.work_dir / "config.py").write_text("".join(f"{k} = {v!r}\n" for k, v in body.items()))
            save_config(run.work_dir, run.cfg, self.stage_cfgs)
            self._write_json("env.json", self._environment())
        distributed.barrier()

    def _environment(self) -> dict[str, Any]:
        run = self.run_context
        packages = {
            "vidssl": metadata.version("vidssl"),
            "torch": torch.__version__,
            "numpy": np.__version__,
            "python": platform.python_version(),
        }
        packages |= {p.distribution: p.version for p in run.plugins.plugins}
        return {
            "seed": run.cfg["seed"],
            "world_size": run.world_size,
            "device": str(run.device),
            "config": run.cfg["_source"]["file"],
            "overrides": run.cfg["_source"]["overrides"],
            "command": sys.argv,
            "git_commit": _git_commit(Path(run.cfg["_source"]["file"]).parent),
            "versions": packages,
            "resume": run.resume,
        }

    def _run_hooks(self) -> dict[str, object]:
        """Built-in logging hooks (on rank 0), the config's ``custom_hooks`` and the extra hooks,
        by the names errors give them; registered before anything fires (a resumed run's
        ``vidssl_checkpoint_load`` reaches them too)."""
        run = self.run_context
        hooks: dict[str, object] = {}
        if run.is_main:
            hooks["metrics log"] = MetricsLog(run.work_dir, run.cfg["log"])
            if run.cfg["log"]["progress_bar"]:
                hooks["progress bar"] = ProgressBar(run.cfg["log"]["interval_seconds"])
        for i, hook_cfg in enumerate(run.cfg["custom_hooks"]):
            hooks[f"custom_hooks[{i}] ({hook_cfg['type']})"] = run.plugins.registry.build(
                "hook", hook_cfg, ["custom_hooks", i]
            )
        return hooks | {type(hook).__name__: hook for hook in self.extra_hooks}

    def _write_json(self, name: str, content: Any) -> None:
        write_json(self.run_context.work_dir / name, content)


def _git_commit(where: Path) -> str | None:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=where, capture_output=True, text=True, timeout=10
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip() or None
