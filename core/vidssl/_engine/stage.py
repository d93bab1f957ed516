"""A stage and everything it needs, built in one function (:func:`build_stage`).

Each entry of ``stages`` has a unique ``name`` and a ``type``: the name of a stage kind
(:mod:`vidssl._engine.stage_kinds`: ``train``, ``probe``, ``evaluate``, ``extract``, or one a
plugin registers), which builds and runs it.
"""

from __future__ import annotations

import random
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import nn

from vidssl._common import checkpoint
from vidssl._common.errors import CheckpointError
from vidssl._distributed import process_group as distributed
from vidssl._engine.run_context import RunContext
from vidssl._engine.sampler import ResumableSampler
from vidssl._engine.weights import check_folder_format, load_weights
from vidssl._plugin_system.manager import stage_kind
from vidssl._plugin_system.method import Method

if TYPE_CHECKING:
    from vidssl._engine.stage_kinds import StageKind


@dataclass
class Stage:
    """One entry of ``stages`` (defaults filled in), its kind, and the components built for it:
    the method (every stage but ``extract``), the evaluator (when it evaluates); for
    ``train``/``probe`` the training dataset, its sampler, the optimizer and the scheduler; for
    ``extract`` the extractor."""

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
    evaluator: Any = None
    iters_per_epoch: int = 0
    kind: StageKind | None = None

    @property
    def trains(self) -> bool:
        return self.kind is not None and self.kind.trains


def stage_file(work_dir: Path, name: str) -> Path:
    """Where stage ``name`` saves its backbone, method state and metrics."""
    return Path(work_dir) / "checkpoints" / f"stage_{name}.pt"


def build_stage(
    run: RunContext, index: int, cfg: dict[str, Any], backbone: nn.Module | None, resuming: bool
) -> Stage:
    """Build stage ``cfg`` around the shared ``backbone``: apply ``init_from`` (unless
    ``resuming``: the checkpoint restores the state), build the method, set which parameters
    train, let the stage's kind build the rest (a training stage: its dataset, sampler, optimizer
    and scheduler), and build its evaluator."""
    kind = stage_kind(cfg["type"], ["stages", index])
    stage = Stage(index, cfg["name"], cfg["type"], cfg, kind=kind)
    seed_all(run.cfg["seed"] + 1000 * (index + 1))
    saved = _load_init(run, stage, backbone) if cfg["init_from"] and not resuming else None
    if backbone is not None:
        backbone.requires_grad_(True)
    if cfg.get("method") is not None:
        stage.method = run.build("method", stage, "method", backbone=backbone).to(run.device)
    kind.build(run, stage, backbone, saved)
    if kind.builds_evaluator(cfg):
        stage.evaluator = run.build("evaluator", stage, "evaluator")
    return stage


def _load_init(run: RunContext, stage: Stage, backbone: nn.Module | None) -> dict[str, Any]:
    """Load ``init_from`` (a stage name, or a checkpoint file in the layout ``init_format``) into
    the backbone; return the checkpoint (its method state may be carried over)."""
    source = stage.cfg["init_from"]
    path = Path(source) if checkpoint.is_weights_source(source) else stage_file(run.work_dir, source)
    check_folder_format(path, stage.cfg["init_format"])
    saved = checkpoint.load(path, run.device)
    if backbone is not None:
        load_weights(backbone, saved, stage.cfg["init_format"], where=str(path))
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
                raise CheckpointError(
                    f"stage '{stage}': init_method: '{key}' has shape "
                    f"{list(value.shape)} in init_from, {list(own[key].shape)} "
                    f"here"
                )
            own[key] = value
            taken.append(key)
    method.load_state_dict(own)
    if distributed.is_main():
        print(
            f"vidssl: stage '{stage}' takes {len(taken)} method entries from init_from: "
            f"{', '.join(taken) or 'none'}",
            file=sys.stderr,
        )


def seed_all(seed: int) -> None:
    """Seed Python's, numpy's and torch's global generators."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
