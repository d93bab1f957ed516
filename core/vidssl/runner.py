"""The runner: builds what a config names and runs its stages in order, resumably.

Each stage has a unique ``name`` and a ``type``:

* ``train`` – optimise a method (SSL objective, supervised, fine-tuning) on a dataset;
* ``probe`` – the same with the backbone frozen and in eval mode (linear probe);
* ``evaluate`` – run an evaluator on a held-out dataset (multi-clip test, retrieval);
* ``extract`` – run an extractor (features, descriptors, cluster labels).

A stage starts from the backbone as the previous stage left it, or from ``init_from`` (a stage
name or a checkpoint file). The work dir holds ``config.py``, ``env.json``, ``metrics.jsonl``,
TensorBoard events (``tb/``), ``checkpoints/`` (``last.pt``, ``best.pt``, ``stage_<name>.pt``) and
``results.json`` (stage name → final metrics).
"""
from __future__ import annotations

import json
import os
import platform
import random
import subprocess
import sys
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from vidssl import checkpoint, distributed
from vidssl.config import stage_configs, validate_config
from vidssl.errors import CheckpointError, ConfigError
from vidssl.evaluation import EvaluationContext
from vidssl.method import Method
from vidssl.plugin_manager import Plugins, get_plugins


@dataclass
class Stage:
    """One entry of ``stages`` with defaults filled in; ``method`` is set while it runs."""

    index: int
    name: str
    type: str
    cfg: dict[str, Any]
    method: Method | None = None
    iters_per_epoch: int = 0
    #: the method state of ``init_from`` to carry over (``init_method``), applied after prepare()
    init_method_state: dict[str, Any] | None = None

    @property
    def trains(self) -> bool:
        return self.type in ("train", "probe")


class Runner:
    """Runs a validated config. ``resume`` continues from ``checkpoints/last.pt``; ``only`` limits
    the run to the named stages (the others' saved backbones are still loaded in order)."""

    def __init__(self, cfg: dict[str, Any], work_dir: str | Path, resume: bool = False,
                 only: list[str] | None = None, plugins: Plugins | None = None) -> None:
        self.plugins = plugins or get_plugins()
        validate_config(cfg, self.plugins.registry)
        self.cfg = cfg
        self.stages = [Stage(i, s["name"], s["type"], s) for i, s in enumerate(stage_configs(cfg))]
        unknown = sorted(set(only or []) - {s.name for s in self.stages})
        if unknown:
            raise ConfigError(f"--stages: no stage named {', '.join(unknown)} "
                              f"(stages: {', '.join(s.name for s in self.stages)})")
        self.only = set(only) if only else None
        self.work_dir = Path(work_dir)
        self.resume = resume
        self.hook = self.plugins.hook
        self.device = distributed.setup(cfg["device"], cfg["dist"]["backend"])
        self.results: dict[str, dict[str, float]] = {}
        self.backbone: nn.Module | None = None

    # ---------------------------------------------------------------- run-level information
    @property
    def is_main(self) -> bool:
        return distributed.is_main()

    @property
    def world_size(self) -> int:
        return distributed.world_size()

    @property
    def checkpoint_dir(self) -> Path:
        return self.work_dir / "checkpoints"

    def stage_file(self, name: str) -> Path:
        return self.checkpoint_dir / f"stage_{name}.pt"

    # ---------------------------------------------------------------- main entry
    def run(self) -> dict[str, dict[str, float]]:
        """Run every (selected) stage; return and write ``results.json``."""
        from vidssl.training import run_training  # the loop lives in its own module

        self._seed(self.cfg["seed"])
        if self.cfg["deterministic"]:
            torch.use_deterministic_algorithms(True, warn_only=True)
        state = self._load_resume_state()
        self.results = dict(state.get("results", {})) if state else {}
        if self.only and not state and (self.work_dir / "results.json").is_file():
            # a partial run keeps what the other stages reported earlier
            kept = json.loads((self.work_dir / "results.json").read_text())
            self.results = {k: v for k, v in kept.items() if k not in self.only}
        self._prepare_work_dir()
        hooks = self._register_run_hooks()
        try:
            self.backbone = self.plugins.registry.build("backbone", self.cfg["backbone"],
                                                        ["backbone"]).to(self.device) \
                if "backbone" in self.cfg else None
            self.hook.vidssl_run_start(runner=self)
            for stage in self.stages:
                if stage.name in self.results or (self.only and stage.name not in self.only):
                    self._restore_finished(stage)
                    continue
                progress = state.get("progress") if state and \
                    state.get("progress", {}).get("stage") == stage.name else None
                self._init_stage(stage, resuming=progress is not None)
                metrics = run_training(self, stage, progress) if stage.trains \
                    else self._run_evaluation(stage)
                self._finish_stage(stage, metrics)
            self.hook.vidssl_run_end(runner=self, results=self.results)
        finally:
            for hook in hooks:
                self.plugins.manager.unregister(hook)
        return self.results

    # ---------------------------------------------------------------- stages
    def _init_stage(self, stage: Stage, resuming: bool) -> None:
        """Build the stage's method around the shared backbone and apply ``init_from``."""
        self._seed(self.cfg["seed"] + 1000 * (stage.index + 1))
        source = stage.cfg["init_from"]
        saved = None
        if source and not resuming:
            path = self.stage_file(source) if not source.endswith((".pt", ".pth", ".pth.tar")) \
                else Path(source)
            saved = checkpoint.load(path, self.device)
            self.backbone.load_state_dict(_entry(saved, "backbone", path))
        if stage.cfg.get("method") is not None:
            stage.method = self.plugins.registry.build(
                "method", stage.cfg["method"], ["stages", stage.index, "method"],
                backbone=self.backbone).to(self.device)
        elif stage.type == "evaluate":  # evaluate the backbone's own features
            stage.method = Method(self.backbone)
            if saved is not None and saved.get("method_type") == stage.cfg["method"]["type"]:
                stage.method.load_state_dict(saved["method"])
        if saved is not None and stage.cfg["init_method"]:
            if "method" not in saved:
                raise CheckpointError(f"stage '{stage.name}': init_method is set but "
                                      f"init_from '{source}' saved no method state")
            stage.init_method_state = saved["method"]

    def _run_evaluation(self, stage: Stage) -> dict[str, float]:
        """An ``evaluate`` or ``extract`` stage."""
        self.hook.vidssl_stage_start(runner=self, stage=stage)
        context = self.evaluation_context(stage, "val_dataset" if stage.type == "evaluate"
                                          else "dataset")
        if stage.type == "evaluate":
            evaluator = self.build_component("evaluator", stage, "evaluator")
            metrics = evaluator.evaluate(context)
            self.hook.vidssl_evaluation_end(runner=self, stage=stage, metrics=metrics)
        else:
            metrics = self.build_component("extractor", stage, "extractor").run(context)
        return metrics

    def evaluation_context(self, stage: Stage, dataset_key: str) -> EvaluationContext:
        """Context over the stage's ``dataset_key`` dataset, asking it for the method's eval views."""
        views = stage.method.eval_views if stage.method is not None else {"clip": {}}
        dataset = self.build_component("dataset", stage, dataset_key, views=views) \
            if stage.cfg.get(dataset_key) is not None else None
        return EvaluationContext(self, stage, stage.method, dataset, stage.cfg["batch_size"],
                                 stage.cfg["num_workers"])

    def build_component(self, kind: str, stage: Stage, key: str, **context: Any) -> Any:
        """Build ``stage.cfg[key]`` as a ``kind`` component (errors name ``stages[i].key``)."""
        return self.plugins.registry.build(kind, stage.cfg[key], ["stages", stage.index, key],
                                           **context)

    def _finish_stage(self, stage: Stage, metrics: dict[str, float]) -> None:
        metrics = {k: float(v) for k, v in metrics.items()}
        self.results[stage.name] = metrics
        order = [s.name for s in self.stages]
        self.results = dict(sorted(self.results.items(),
                                   key=lambda kv: order.index(kv[0]) if kv[0] in order else -1))
        if self.backbone is not None:
            for param in self.backbone.parameters():
                param.requires_grad_(True)
        if self.is_main:
            saved: dict[str, Any] = {"backbone": self.backbone.state_dict()
                                     if self.backbone is not None else {}, "metrics": metrics}
            if stage.cfg.get("method") is not None:
                saved |= {"method_type": stage.cfg["method"]["type"],
                          "method": stage.method.state_dict()}
            checkpoint.save_atomic(saved, self.stage_file(stage.name))
            checkpoint.save_atomic({"results": self.results}, self.checkpoint_dir / "last.pt")
            self._write_json("results.json", self.results)
        distributed.barrier()
        self.hook.vidssl_stage_end(runner=self, stage=stage, metrics=metrics)
        stage.method = None

    def _restore_finished(self, stage: Stage) -> None:
        """A finished (or deselected) stage: take the backbone it left, if it saved one."""
        path = self.stage_file(stage.name)
        if self.backbone is not None and path.is_file():
            self.backbone.load_state_dict(_entry(checkpoint.load(path, self.device),
                                                 "backbone", path))

    # ---------------------------------------------------------------- checkpoints
    def save_progress(self, stage: Stage, epoch: int, iteration: int,
                      state: dict[str, Any], best: bool = False) -> None:
        """Write ``last.pt`` (and ``best.pt``) for a training stage at (epoch, iteration)."""
        if self.is_main:
            progress = {"stage": stage.name, "epoch": epoch, "iteration": iteration,
                        "rng": checkpoint.rng_state(), **state}
            content: dict[str, Any] = {"results": self.results, "progress": progress}
            self.hook.vidssl_checkpoint_save(runner=self, checkpoint=content)
            checkpoint.save_atomic(content, self.checkpoint_dir / "last.pt")
            if best:
                checkpoint.save_atomic(content, self.checkpoint_dir / "best.pt")
        distributed.barrier()

    def _load_resume_state(self) -> dict[str, Any] | None:
        path = self.checkpoint_dir / "last.pt"
        if not self.resume:
            return None
        if not path.is_file():
            if self.is_main:
                print(f"vidssl: --resume: no checkpoint in {self.checkpoint_dir}, starting afresh",
                      file=sys.stderr)
            return None
        state = checkpoint.load(path, "cpu")
        if "results" not in state:
            raise CheckpointError(f"checkpoint {path} is not a vidssl run checkpoint "
                                  f"(no 'results' entry)")
        self.hook.vidssl_checkpoint_load(runner=self, checkpoint=state)
        return state

    # ---------------------------------------------------------------- work dir, hooks, seeds
    def _prepare_work_dir(self) -> None:
        if self.is_main:
            self.checkpoint_dir.mkdir(parents=True, exist_ok=True)
            body = {k: v for k, v in self.cfg.items() if k != "_source"}
            (self.work_dir / "config.py").write_text(
                "".join(f"{k} = {v!r}\n" for k, v in body.items()))
            self._write_json("env.json", self._environment())
        distributed.barrier()

    def _environment(self) -> dict[str, Any]:
        packages = {"vidssl": metadata.version("vidssl"), "torch": torch.__version__,
                    "numpy": np.__version__, "python": platform.python_version()}
        packages |= {p.distribution: p.version for p in self.plugins.plugins}
        return {"seed": self.cfg["seed"], "world_size": self.world_size,
                "device": str(self.device), "config": self.cfg["_source"]["file"],
                "overrides": self.cfg["_source"]["overrides"], "command": sys.argv,
                "git_commit": _git_commit(Path(self.cfg["_source"]["file"]).parent),
                "versions": packages, "resume": self.resume}

    def _register_run_hooks(self) -> list[object]:
        """Built-in logging hooks (on rank 0) and the config's ``custom_hooks``."""
        from vidssl.metrics_log import MetricsLog
        from vidssl.progress import ProgressBar

        hooks: list[object] = []
        if self.is_main:
            hooks.append(MetricsLog(self.work_dir, self.cfg["log"]))
            if self.cfg["log"]["progress_bar"]:
                hooks.append(ProgressBar())
        for i, hook_cfg in enumerate(self.cfg["custom_hooks"]):
            hooks.append(self.plugins.registry.build("hook", hook_cfg, ["custom_hooks", i]))
        for i, hook in enumerate(hooks):
            self.plugins.manager.register(hook, name=f"run-hook-{i}-{type(hook).__name__}")
        self.plugins.manager.check_pending()
        return hooks

    def _write_json(self, name: str, content: Any) -> None:
        tmp = self.work_dir / f".{name}.tmp"
        tmp.write_text(json.dumps(content, indent=2, sort_keys=False) + "\n")
        os.replace(tmp, self.work_dir / name)

    @staticmethod
    def _seed(seed: int) -> None:
        random.seed(seed)
        np.random.seed(seed % 2**32)
        torch.manual_seed(seed)


def _entry(saved: dict[str, Any], key: str, path: Path) -> Any:
    if key not in saved:
        raise CheckpointError(f"checkpoint {path} has no '{key}' entry "
                              f"(it has: {', '.join(sorted(saved))})")
    return saved[key]


def _git_commit(where: Path) -> str | None:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=where, capture_output=True,
                             text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip() or None
