"""Everything vidssl needs from this package: its registration hooks. Each component is an example
of docs/plugins.md:

* method ``arrow_of_time``: self-supervised; the clip is played forwards or backwards at random
  and a linear head on the backbone features predicts which (Wei et al., "Learning and Using the
  Arrow of Time", CVPR 2018, reduced to its simplest form); it registers its demo config
  (``demo_synthetic.py``), so ``vidssl-bench synthetic`` ranks it;
* method ``clip_order`` (a method with an extra view): a second clip of the same video from
  another time; a head on both clips' features says which comes first;
* method ``queue_contrast`` (a method with a queue surviving ``--resume``): InfoNCE between two
  augmentations of a clip against a FIFO queue of past embeddings, kept as buffers;
* backbone ``tiny_c3d`` (an out-of-tree backbone): three 3D conv stages, with ``feature_info``
  and ``forward_features`` as :class:`vidssl.Backbone` asks;
* clip transform ``channel_swap`` (a registered transform a view names): swaps two colour channels
  with probability ``p``;
* hook ``loss_curve``: writes ``loss_curve.png`` (loss against iteration, one line per stage);
* hook ``step_counter`` (a hook keeping state across ``--resume``): counts optimizer steps and
  keeps the count in the checkpoint;
* hook ``stop_below`` (a hook stopping a run): ends the run cleanly once an epoch's loss is below
  ``threshold``.
"""

from __future__ import annotations

from collections import OrderedDict
from itertools import pairwise
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

import vidssl
from vidssl import FeatureInfo, Method, hookimpl


class ArrowOfTime(Method):
    """Predict whether a clip plays forwards (0) or backwards (1)."""

    def __init__(self, backbone: nn.Module, reverse_prob: float = 0.5) -> None:
        super().__init__(backbone)
        self.reverse_prob = reverse_prob
        self.head = nn.Linear(backbone.feat_dim, 2)

    def training_step(self, batch: dict[str, Any]) -> dict[str, torch.Tensor]:
        clip = batch["views"]["clip"]
        reverse = torch.rand(clip.shape[0], device=clip.device) < self.reverse_prob
        clip = torch.where(reverse.view(-1, 1, 1, 1, 1), clip.flip(2), clip)
        logits = self.head(self.backbone(clip))
        target = reverse.long()
        return {
            "loss": F.cross_entropy(logits, target),
            "arrow_acc": (logits.argmax(1) == target).float().mean().detach() * 100,
        }


class ClipOrder(Method):
    """Which of two clips of a video comes first: ``clip`` and ``later``, a clip at least
    ``min_gap`` frames away (the view vocabulary's ``different_time_from``)."""

    def __init__(self, backbone: nn.Module, min_gap: int = 4) -> None:
        super().__init__(backbone)
        self.views = {"clip": {}, "other": {"different_time_from": "clip", "min_gap": min_gap}}
        self.head = nn.Linear(2 * backbone.feat_dim, 2)

    def training_step(self, batch: dict[str, Any]) -> dict[str, torch.Tensor]:
        views = batch["views"]
        swap = torch.rand(views["clip"].shape[0], device=views["clip"].device) < 0.5
        first = torch.where(swap.view(-1, 1, 1, 1, 1), views["other"], views["clip"])
        second = torch.where(swap.view(-1, 1, 1, 1, 1), views["clip"], views["other"])
        # both views as one batch through the backbone (one BatchNorm pass, as MLFO's seed does)
        a, b = self.backbone(torch.cat([first, second])).chunk(2)
        return {"loss": F.cross_entropy(self.head(torch.cat([a, b], 1)), swap.long())}


class QueueContrast(Method):
    """InfoNCE between two augmentations of each clip (``key`` is ``same_time_as`` ``clip``)
    against a FIFO queue of ``queue_size`` past key embeddings. The queue and its pointer are
    buffers, so every checkpoint holds them and ``--resume`` continues with the same queue."""

    def __init__(
        self, backbone: nn.Module, queue_size: int = 64, dim: int = 32, temperature: float = 0.1
    ) -> None:
        super().__init__(backbone)
        self.views = {"clip": {}, "key": {"same_time_as": "clip"}}
        self.head = nn.Linear(backbone.feat_dim, dim)
        self.temperature = temperature
        self.register_buffer("queue", F.normalize(torch.randn(queue_size, dim), dim=1))
        self.register_buffer("queue_ptr", torch.zeros((), dtype=torch.long))

    def training_step(self, batch: dict[str, Any]) -> dict[str, torch.Tensor]:
        views = batch["views"]
        q, k = F.normalize(self.head(self.backbone(torch.cat([views["clip"], views["key"]]))), dim=1).chunk(2)
        logits = torch.cat([(q * k).sum(1, keepdim=True), q @ self.queue.t()], 1)
        loss = F.cross_entropy(
            logits / self.temperature, torch.zeros(len(q), dtype=torch.long, device=q.device)
        )
        # the graph above read self.queue: write the new keys out of place (a new tensor), never
        # into the buffer the backward pass still needs
        rows = (torch.arange(len(k), device=k.device) + self.queue_ptr) % len(self.queue)
        queue = self.queue.clone()
        queue[rows] = k.detach()
        self.queue = queue
        self.queue_ptr.fill_(int(rows[-1] + 1) % len(self.queue))
        return {"loss": loss}


class TinyC3D(nn.Module):
    """Three stages of 3×3×3 conv + BatchNorm + ReLU, each halving every dimension; global
    average pooling → ``B×feat_dim``."""

    def __init__(self, width: int = 16) -> None:
        super().__init__()
        channels = [3, width, 2 * width, 4 * width]
        self.stages = nn.ModuleList(
            nn.Sequential(
                nn.Conv3d(c_in, c_out, 3, stride=2, padding=1, bias=False),
                nn.BatchNorm3d(c_out),
                nn.ReLU(inplace=True),
            )
            for c_in, c_out in pairwise(channels)
        )
        self.feat_dim = channels[-1]
        self.feature_info = [
            FeatureInfo(f"stage{i + 1}", c, (2 ** (i + 1),) * 3) for i, c in enumerate(channels[1:])
        ]

    def forward_features(self, x: torch.Tensor) -> OrderedDict[str, torch.Tensor]:
        maps = OrderedDict()
        for info, stage in zip(self.feature_info, self.stages, strict=True):
            x = stage(x)
            maps[info.name] = x
        return maps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``B×3×T×H×W`` → ``B×feat_dim``."""
        return next(reversed(self.forward_features(x).values())).mean((2, 3, 4))


class ChannelSwap:
    """A clip transform: with probability ``p`` swap colour channels ``a`` and ``b`` of the
    normalised ``3×T×H×W`` clip (drawn from the per-video ``rng``, so resumes repeat it)."""

    def __init__(self, p: float = 0.5, a: int = 0, b: int = 2) -> None:
        self.p, self.a, self.b = p, a, b

    def __call__(self, clip: torch.Tensor, rng: np.random.Generator) -> torch.Tensor:
        if rng.random() >= self.p:
            return clip
        order = list(range(clip.shape[0]))
        order[self.a], order[self.b] = order[self.b], order[self.a]
        return clip[order]


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
        import matplotlib  # noqa: PLC0415 -- lazy: start-up

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt  # noqa: PLC0415 -- lazy: start-up

        fig, ax = plt.subplots(figsize=(6, 3.5))
        for stage, values in self.losses.items():
            ax.plot(values, label=stage)
        ax.set_xlabel("iteration")
        ax.set_ylabel("loss")
        ax.legend()
        fig.tight_layout()
        fig.savefig(Path(run.work_dir) / self.filename, dpi=100)
        plt.close(fig)


class StepCounter:
    """Counts training iterations over the whole run, across ``--resume``: the count goes into
    every checkpoint (``vidssl_checkpoint_save``) and comes back from it
    (``vidssl_checkpoint_load``); written to ``steps.txt`` at the end."""

    def __init__(self) -> None:
        self.steps = 0

    @hookimpl
    def vidssl_iteration_end(self):
        self.steps += 1

    @hookimpl
    def vidssl_checkpoint_save(self, checkpoint):
        checkpoint["step_counter"] = {"steps": self.steps}  # plain data: loads with weights_only

    @hookimpl
    def vidssl_checkpoint_load(self, checkpoint):
        self.steps = checkpoint.get("step_counter", {}).get("steps", 0)

    @hookimpl
    def vidssl_run_end(self, run):
        if run.is_main:
            (Path(run.work_dir) / "steps.txt").write_text(f"{self.steps}\n")


class StopBelow:
    """Ends the run cleanly (exit 0, finished stages keep their results) once a training epoch's
    mean loss is below ``threshold``."""

    def __init__(self, threshold: float) -> None:
        self.threshold = threshold

    @hookimpl
    def vidssl_epoch_end(self, stage, epoch, metrics):
        if metrics["loss"] < self.threshold:
            raise vidssl.StopRun(
                f"stage '{stage.name}' epoch {epoch + 1}: loss {metrics['loss']:.3f} < {self.threshold}"
            )


@hookimpl
def vidssl_register_methods(register):
    # its entry in vidssl-bench synthetic: a config shipped inside this package
    register("arrow_of_time", ArrowOfTime, demo_config=Path(__file__).with_name("demo_synthetic.py"))
    register("clip_order", ClipOrder)
    register("queue_contrast", QueueContrast)


@hookimpl
def vidssl_register_backbones(register):
    register("tiny_c3d", TinyC3D)


@hookimpl
def vidssl_register_transforms(register):
    register("channel_swap", ChannelSwap)


@hookimpl
def vidssl_register_hooks(register):
    register("loss_curve", LossCurve)
    register("step_counter", StepCounter)
    register("stop_below", StopBelow)
