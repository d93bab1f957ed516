"""Everything vidssl needs from this package: two registration hooks.

* method ``arrow_of_time``: self-supervised; the clip is played forwards or backwards at random
  and a linear head on the backbone features predicts which (Wei et al., "Learning and Using the
  Arrow of Time", CVPR 2018, reduced to its simplest form);
* hook ``loss_curve``: writes ``loss_curve.png`` (loss against iteration, one line per stage) into
  the work dir when the run ends.
"""
from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from vidssl import Method, hookimpl


class ArrowOfTime(Method):
    """Predict whether a clip plays forwards (0) or backwards (1)."""

    def __init__(self, backbone: nn.Module, reverse_prob: float = 0.5) -> None:
        super().__init__(backbone)
        self.reverse_prob = reverse_prob
        self.head = nn.Linear(backbone.feat_dim, 2)

    def training_step(self, batch):
        clip = batch["views"]["clip"]
        reverse = torch.rand(clip.shape[0], device=clip.device) < self.reverse_prob
        clip = torch.where(reverse.view(-1, 1, 1, 1, 1), clip.flip(2), clip)
        logits = self.head(self.backbone(clip))
        target = reverse.long()
        return {"loss": F.cross_entropy(logits, target),
                "arrow_acc": (logits.argmax(1) == target).float().mean().detach() * 100}


class LossCurve:
    """Collects the loss of every iteration and plots it at the end of the run (rank 0)."""

    def __init__(self, filename: str = "loss_curve.png") -> None:
        self.filename = filename
        self.losses: dict[str, list[float]] = {}

    @hookimpl
    def vidssl_iteration_end(self, stage, losses):
        self.losses.setdefault(stage.name, []).append(float(losses["loss"]))

    @hookimpl
    def vidssl_run_end(self, run):
        if not run.is_main or not self.losses:
            return
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(6, 3.5))
        for stage, values in self.losses.items():
            ax.plot(values, label=stage)
        ax.set_xlabel("iteration")
        ax.set_ylabel("loss")
        ax.legend()
        fig.tight_layout()
        fig.savefig(Path(run.work_dir) / self.filename, dpi=100)
        plt.close(fig)


@hookimpl
def vidssl_register_methods(register):
    register("arrow_of_time", ArrowOfTime)


@hookimpl
def vidssl_register_hooks(register):
    register("loss_curve", LossCurve)
