"""Base class of training methods (supervised, linear probe, SSL objectives)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn

from vidssl._common.errors import PluginError


class Method(nn.Module):
    """A method owns a backbone and whatever heads, memory banks or queues it needs.

    Subclasses implement :meth:`training_step`. Everything a method must carry across a resume
    (memory banks, queues, key encoders, pointers) is kept as parameters or buffers, so it is part
    of ``state_dict()`` and therefore of every checkpoint.

    ``views`` names the views the method asks the dataset for (name → view spec understood by the
    dataset: sampler and transform settings); a batch carries them as
    ``batch["views"][name]`` of shape ``B×C×T×H×W``.
    """

    views: dict[str, dict[str, Any]] = {"clip": {}}
    #: views asked of evaluation datasets (``predict`` and ``embed`` read ``"clip"``)
    eval_views: dict[str, dict[str, Any]] = {"clip": {}}

    def __init__(self, backbone: nn.Module) -> None:
        super().__init__()
        self.backbone = backbone

    def prepare(self, dataset: Any, work_dir: Path) -> None:
        """Called once the stage's training dataset is built, before any state is restored
        (``init_method``, a resumed checkpoint) and before the optimizer is made: size
        per-sample state here (a memory bank of ``len(dataset)`` rows), read files a previous
        stage left under ``work_dir``. Default: nothing."""

    def start_epoch(self, epoch: int) -> None:
        """Called at the start of every training epoch (0-based), but not when a resumed run
        continues in the middle of one. Default: nothing."""

    def forward(self, batch: dict[str, Any]) -> dict[str, torch.Tensor]:
        """Run :meth:`training_step` (``forward`` is what DistributedDataParallel wraps). A view
        the method reads but does not declare in :attr:`views`, or losses without ``"loss"``,
        are a :class:`~vidssl.PluginError` naming the method."""
        name = type(self).__name__
        losses = self.training_step({**batch, "views": _DeclaredViews(batch["views"], name)})
        if not isinstance(losses, dict) or "loss" not in losses:
            got = sorted(losses) if isinstance(losses, dict) else type(losses).__name__
            raise PluginError(
                f"method {name}: training_step returned {got}; it must return a "
                f"dict of 0-d tensors with the optimised one under 'loss'"
            )
        return losses

    def training_step(self, batch: dict[str, Any]) -> dict[str, torch.Tensor]:
        """Losses for one batch: a dict of 0-d tensors whose ``"loss"`` entry is optimised."""
        raise NotImplementedError

    def predict(self, batch: dict[str, Any]) -> torch.Tensor:
        """Class scores ``B×num_classes`` for ``batch["views"]["clip"]`` (classifying methods)."""
        raise NotImplementedError(f"{type(self).__name__} does not classify")

    def embed(self, batch: dict[str, Any]) -> torch.Tensor:
        """Backbone features ``B×feat_dim`` of ``batch["views"]["clip"]``."""
        return self.backbone(batch["views"]["clip"])

    def card(self) -> dict[str, Any]:
        """What this method adds to a stage's protocol card (:mod:`vidssl._engine.protocol_card`): the
        features it reads and its head. Default: :meth:`embed`'s features."""
        dim = getattr(self.backbone, "feat_dim", None)
        return {"features": f"{type(self.backbone).__name__} output, pooled ({dim}-d)"}


class _DeclaredViews(dict):
    """A batch's views; reading one the method did not declare says so in one line."""

    def __init__(self, views: dict[str, Any], method: str) -> None:
        super().__init__(views)
        self.method = method

    def __missing__(self, view: str) -> Any:
        raise PluginError(
            f"method {self.method}: reads the view '{view}', which it does not "
            f"declare (its views: {', '.join(self) or 'none'}); add '{view}' to "
            f"the method's views"
        )
