"""A stage and everything it needs, built in one function (:func:`build_stage`).

Each entry of ``stages`` has a unique ``name`` and a ``type``:

* ``train`` – optimise a method (SSL objective, supervised, fine-tuning) on a dataset;
* ``probe`` – the same with the backbone frozen and in eval mode (linear probe);
* ``evaluate`` – run an evaluator on a held-out dataset (multi-clip test, retrieval);
* ``extract`` – run an extractor (features, descriptors, cluster labels).
"""
from __future__ import annotations

import random
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from vidssl import checkpoint, distributed
from vidssl.errors import CheckpointError, DataError
from vidssl.method import Method
from vidssl.optim import build_optimizer, build_scheduler
from vidssl.run_context import RunContext
from vidssl.sampler import ResumableSampler
from vidssl.sync_batchnorm import convert_sync_batchnorm


@dataclass
class Stage:
    """One entry of ``stages`` (defaults filled in) with the components built for it: the method
    (every stage but ``extract``); for ``train``/``probe`` the training dataset, its sampler, the
    optimizer and the scheduler; for ``extract`` the extractor."""

    index: int
    name: str
    type: str
    cfg: dict[str, Any]
    method: Method | None = None
    dataset: Any = None
    sampler: ResumableSampler | None = None
    optimizer: torch.optim.Optimizer | None = None
    scheduler: Any = None
    extractor: Any = None
    iters_per_epoch: int = 0

    @property
    def trains(self) -> bool:
        return self.type in ("train", "probe")


def stage_file(work_dir: Path, name: str) -> Path:
    """Where stage ``name`` saves its backbone, method state and metrics."""
    return Path(work_dir) / "checkpoints" / f"stage_{name}.pt"


def build_stage(run: RunContext, index: int, cfg: dict[str, Any], backbone: nn.Module | None,
                resuming: bool) -> Stage:
    """Build stage ``cfg`` around the shared ``backbone``: apply ``init_from`` (unless
    ``resuming``: the checkpoint restores the state), build the method, set which parameters
    train, and for a training stage build its dataset, call ``method.prepare``, carry the
    ``init_method`` state over, and make sampler, optimizer and scheduler."""
    stage = Stage(index, cfg["name"], cfg["type"], cfg)
    seed_all(run.cfg["seed"] + 1000 * (index + 1))
    saved = _load_init(run, stage, backbone) if cfg["init_from"] and not resuming else None
    if backbone is not None:
        backbone.requires_grad_(True)
    if cfg.get("method") is not None:
        stage.method = run.build("method", stage, "method", backbone=backbone).to(run.device)
        if stage.type == "evaluate" and saved is not None and \
                saved.get("method_type") == cfg["method"]["type"]:
            stage.method.load_state_dict(saved["method"])   # e.g. a test stage after fine-tuning
    elif stage.type == "evaluate":  # evaluate the backbone's own features
        stage.method = Method(backbone)
    if stage.type == "extract":
        stage.extractor = run.build("extractor", stage, "extractor")
    if not stage.trains:
        return stage

    stage.dataset = run.build("dataset", stage, "dataset", views=stage.method.views)
    stage.method.prepare(stage.dataset, run.work_dir)
    if saved is not None and cfg["init_method"]:
        if "method" not in saved:
            raise CheckpointError(f"stage '{stage.name}': init_method is set but init_from "
                                  f"'{cfg['init_from']}' saved no method state")
        carry_over(stage.method, saved["method"], stage.name)
    if stage.type == "probe":
        stage.method.backbone.requires_grad_(False)
    stage.sampler = ResumableSampler(len(stage.dataset), shuffle=True,
                                     seed=run.cfg["seed"] + index, rank=distributed.rank(),
                                     world_size=distributed.world_size(), drop_last=True)
    stage.iters_per_epoch = len(stage.sampler) // cfg["batch_size"]
    if cfg["max_iters"]:   # a quick trial: at most this many steps per epoch
        stage.iters_per_epoch = min(stage.iters_per_epoch, cfg["max_iters"])
    # whole accumulation groups only: every optimizer step sees `accumulate` batches
    stage.iters_per_epoch -= stage.iters_per_epoch % cfg["accumulate"]
    if stage.iters_per_epoch == 0:
        raise DataError(f"stage '{stage.name}': dataset has {len(stage.dataset)} samples, fewer "
                        f"than {cfg['accumulate']} batch(es) of {cfg['batch_size']} per process "
                        f"(accumulate × batch_size)")
    if cfg["sync_bn"]:
        convert_sync_batchnorm(stage.method, run.device)
    stage.optimizer = build_optimizer(cfg["optimizer"], stage.method)
    stage.scheduler = build_scheduler(cfg["scheduler"], stage.optimizer, cfg["epochs"],
                                      stage.iters_per_epoch // cfg["accumulate"])
    return stage


def _load_init(run: RunContext, stage: Stage, backbone: nn.Module | None) -> dict[str, Any]:
    """Load ``init_from`` (a stage name or a checkpoint file) into the backbone; return the
    checkpoint (its method state may be carried over)."""
    source = stage.cfg["init_from"]
    path = Path(source) if source.endswith(checkpoint.SUFFIXES) else stage_file(run.work_dir,
                                                                                 source)
    saved = checkpoint.load(path, run.device)
    if backbone is not None:
        backbone.load_state_dict(checkpoint.backbone_state(saved, path))
    return saved


def carry_over(method: nn.Module, saved: dict[str, torch.Tensor], stage: str) -> None:
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


def seed_all(seed: int) -> None:
    """Seed Python's, numpy's and torch's global generators."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
