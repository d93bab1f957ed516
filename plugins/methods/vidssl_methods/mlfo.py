"""MLFO: multi-level feature optimisation (Qian et al., ICCV 2021; seed 003).

Each video gives a ``2·clip_len``-frame span at a random rate in [1, ``rate_max``]: clip 1 = its
first half, clip 2 = its second half, g = every 2nd frame of it (views ``first``, ``second``,
``global``). The backbone's last three stage maps are the low, mid and high levels; low and mid
pass through motion-excitation blocks, for both the maps and their time-reversed copies. Losses
(τ = 0.07):

* instance contrast (high): the two clips of a video are positives, both clips of every other
  video in the (global) batch negatives;
* motion contrast (mid, low): the same, plus the two time-reversed clips of the video as
  negatives;
* timestamp retrieval (every level): the per-step features of g against clips 1 and 2
  (average-pooled to half length and concatenated) must match step for step;
* prototypes (SwAV-style): Sinkhorn-Knopp codes (ε 0.05, 3 iterations) over the batch, or over a
  FIFO queue of the last ``queue_size`` rows from epoch ``queue_epoch`` on (filled from the first
  step), predicted across the two clips at temperature 0.1; prototype gradients are off in epoch 0;
* graph constraint (from epoch ``split``): instance similarities above ``threshold`` between
  videos of the same Sinkhorn cluster, row-normalised, as soft targets for each level.

Total: ``ins + time_h + 0.5 (motion_m + time_m) + 0.3 (motion_l + time_l) + 0.5 proto
[+ graph_h + 0.5 graph_m + 0.3 graph_l]``. The three views go through the backbone, motion
excitation and ``project_global`` as one batch, and features are all-gathered across ranks with
the local slice keeping its gradient, as in the seed.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from vidssl import Method, distributed

LEVELS = ("low", "mid", "high")
VIEWS = ("first", "second", "global")


class MotionExcitation(nn.Module):
    """TEA-style motion excitation: channel attention ``sigmoid(m) − 0.5`` from the difference
    of consecutive (spatially convolved) squeezed frames; output ``x + a ⊙ x``."""

    def __init__(self, channels: int, reduction: int = 16) -> None:
        super().__init__()
        squeezed = max(channels // reduction, 1)
        self.squeeze = nn.Sequential(nn.Conv3d(channels, squeezed, 1, bias=False), nn.BatchNorm3d(squeezed))
        self.spatial = nn.Conv3d(
            squeezed, squeezed, (1, 3, 3), padding=(0, 1, 1), groups=squeezed, bias=False
        )
        self.expand = nn.Sequential(nn.Conv3d(squeezed, channels, 1, bias=False), nn.BatchNorm3d(channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``B×C×T×H×W`` → same shape."""
        r = self.squeeze(x)
        motion = self.spatial(r[:, :, 1:]) - r[:, :, :-1]
        motion = F.pad(motion, (0, 0, 0, 0, 0, 1))  # zero for the last step
        attention = torch.sigmoid(self.expand(motion.mean((3, 4), keepdim=True))) - 0.5
        return x + attention * x


def _rows(sequences: torch.Tensor, view: int, b: int) -> torch.Tensor:
    """View ``view``'s ``b`` rows of a level computed on the views stacked along the batch: its
    normal rows, then (where the level holds time-reversed copies after the normal ``3b``
    rows) its reversed rows."""
    normal = sequences[view * b : (view + 1) * b]
    if len(sequences) == 3 * b:
        return normal
    return torch.cat([normal, sequences[(3 + view) * b : (4 + view) * b]])


def temporal_head(channels: int, dim: int = 128) -> nn.Sequential:
    """Per-time-step MLP: Conv1d(C→C, 1) → ReLU → Conv1d(C→dim, 1) on ``B×C×T``."""
    return nn.Sequential(nn.Conv1d(channels, channels, 1), nn.ReLU(inplace=True), nn.Conv1d(channels, dim, 1))


def clip_vector(head: nn.Module, sequence: torch.Tensor) -> torch.Tensor:
    """``B×C×T`` level sequence → unit ``B×dim`` clip vector: the head per step, then the
    temporal mean."""
    return F.normalize(head(sequence).mean(2), dim=1)


def sinkhorn(scores: torch.Tensor, epsilon: float = 0.05, iterations: int = 3) -> torch.Tensor:
    """Sinkhorn-Knopp codes of ``N×K`` scores → ``N×K``, each row a distribution over the K
    prototypes; the prototypes' total mass approaches N/K each with more iterations."""
    q = torch.exp(scores / epsilon - (scores / epsilon).max()).t()  # K×N
    q = torch.where(torch.isinf(q), q[torch.isfinite(q)].max(), q)
    q = q / q.sum()
    k, n = q.shape
    for _ in range(iterations):
        q = q / q.sum(1, keepdim=True) / k
        q = q / q.sum(0, keepdim=True) / n
    return (q / q.sum(0, keepdim=True)).t()


def info_nce(
    anchors: torch.Tensor, positives: torch.Tensor, negatives: torch.Tensor, temperature: float
) -> torch.Tensor:
    """Mean InfoNCE of ``A×d`` anchors with one positive each (``A×d``) and per-anchor
    negatives ``A×M×d`` (vectors L2-normalised)."""
    positive = (anchors * positives).sum(1, keepdim=True)
    negative = torch.einsum("ad,amd->am", anchors, negatives)
    logits = torch.cat([positive, negative], 1) / temperature
    return F.cross_entropy(logits, torch.zeros(len(anchors), dtype=torch.long, device=anchors.device))


def pair_contrast(
    z1: torch.Tensor, z2: torch.Tensor, local: slice, temperature: float, extra: torch.Tensor | None = None
) -> torch.Tensor:
    """The two clips of each local video are positives; both clips of every other video of the
    global batch (``B×d`` each) are negatives, plus ``extra`` (``b×E×d``) per local video."""
    b_global = z1.shape[0]
    both = torch.stack([z1, z2], 1)  # B×2×d
    others = ~torch.eye(b_global, dtype=torch.bool, device=z1.device)[local]  # b×B
    negatives = both.unsqueeze(0).expand(others.shape[0], -1, -1, -1)[others]
    negatives = negatives.reshape(others.shape[0], 2 * (b_global - 1), -1)
    if extra is not None:
        negatives = torch.cat([negatives, extra], 1)
    anchors = torch.cat([z1[local], z2[local]])
    return info_nce(anchors, torch.cat([z2[local], z1[local]]), negatives.repeat(2, 1, 1), temperature)


def timestamp_loss(
    first: torch.Tensor, second: torch.Tensor, whole: torch.Tensor, temperature: float
) -> torch.Tensor:
    """Per-step features ``B×d×T`` of clips 1, 2 and g: clips 1 and 2 pooled to T/2 steps each
    and concatenated must match g's steps position for position (both directions)."""
    steps = whole.shape[2]
    original = torch.cat(
        [F.adaptive_avg_pool1d(first, steps // 2), F.adaptive_avg_pool1d(second, steps - steps // 2)], 2
    )
    a = torch.einsum("bdm,bdn->bmn", F.normalize(original, dim=1), F.normalize(whole, dim=1)) / temperature
    target = torch.arange(steps, device=a.device).repeat(a.shape[0])
    return 0.5 * (
        F.cross_entropy(a.reshape(-1, steps), target)
        + F.cross_entropy(a.transpose(1, 2).reshape(-1, steps), target)
    )


def graph_targets(
    z1: torch.Tensor, z2: torch.Tensor, clusters: torch.Tensor, temperature: float, threshold: float
) -> torch.Tensor:
    """``B×B`` soft targets: instance similarity softmax(z1 z2ᵀ/τ) with entries below
    ``threshold`` dropped (diagonal kept), masked to videos of the same cluster, rows summing
    to 1."""
    s = torch.softmax(z1 @ z2.t() / temperature, dim=1)
    eye = torch.eye(len(s), dtype=torch.bool, device=s.device)
    s = torch.where((s >= threshold) | eye, s, torch.zeros_like(s))
    s = s * (clusters[:, None] == clusters[None, :])
    return s / s.sum(1, keepdim=True)


class MLFO(Method):
    """Multi-level feature optimisation on any backbone whose ``forward_features`` ends with
    three stage maps (low, mid, high; their channels from the backbone's ``feature_info``)."""

    def __init__(
        self,
        backbone: nn.Module,
        num_prototypes: int = 1000,
        rate_max: float = 3.0,
        steps: tuple[int, int, int] = (8, 4, 2),
        dim: int = 128,
        temperature: float = 0.07,
        proto_temperature: float = 0.1,
        epsilon: float = 0.05,
        sinkhorn_iterations: int = 3,
        queue_size: int = 1024,
        queue_epoch: int = 10,
        split: int = 20,
        threshold: float = 0.05,
        level_weights: tuple[float, float, float] = (0.3, 0.5, 1.0),
        proto_weight: float = 0.5,
    ) -> None:
        super().__init__(backbone)
        self.steps, self.temperature = dict(zip(LEVELS, steps, strict=True)), temperature
        self.proto_temperature, self.epsilon = proto_temperature, epsilon
        self.sinkhorn_iterations, self.queue_epoch = sinkhorn_iterations, queue_epoch
        self.split, self.threshold, self.proto_weight = split, threshold, proto_weight
        self.level_weights = dict(zip(LEVELS, level_weights, strict=True))
        channels = dict(zip(LEVELS, [f.channels for f in backbone.feature_info[-3:]], strict=True))
        self.excite = nn.ModuleDict({lv: MotionExcitation(channels[lv]) for lv in ("low", "mid")})
        self.project = nn.ModuleDict({lv: temporal_head(channels[lv], dim) for lv in LEVELS})
        self.fine = nn.ModuleDict({lv: temporal_head(channels[lv], dim) for lv in LEVELS})
        self.graph = nn.ModuleDict({lv: temporal_head(channels[lv], dim) for lv in LEVELS})
        high = channels["high"]
        self.project_global = nn.Sequential(
            nn.Linear(high, high), nn.BatchNorm1d(high), nn.ReLU(inplace=True), nn.Linear(high, dim)
        )
        self.prototypes = nn.Linear(dim, num_prototypes, bias=False)
        self.register_buffer("queue", torch.randn(queue_size, 2, num_prototypes))
        self.register_buffer("epoch", torch.zeros((), dtype=torch.long))
        self.views = {
            "first": {"part": "first", "rate_max": rate_max},
            "second": {"part": "second", "same_time_as": "first"},
            "global": {"part": "global", "same_time_as": "first"},
        }

    def start_epoch(self, epoch: int) -> None:
        self.epoch.fill_(epoch)

    def levels(self, clip: torch.Tensor, reversed_too: bool = False) -> dict[str, torch.Tensor]:
        """Pooled level sequences ``N×C×T_level`` of an ``N``-clip batch (with ``reversed_too``:
        low and mid hold ``2N`` rows, the time-reversed maps' sequences after the normal ones)."""
        maps = list(self.backbone.forward_features(clip).values())[-3:]
        out = {}
        for level, feature in zip(LEVELS, maps, strict=True):
            if level != "high":
                if reversed_too:
                    feature = torch.cat([feature, feature.flip(2)])
                feature = self.excite[level](feature)
            out[level] = F.adaptive_avg_pool3d(feature, (self.steps[level], 1, 1)).flatten(2)
        return out

    def training_step(self, batch: dict[str, Any]) -> dict[str, torch.Tensor]:
        views = batch["views"]
        b = views["first"].shape[0]
        local = slice(distributed.rank() * b, (distributed.rank() + 1) * b)
        epoch = int(self.epoch)
        # the three views as one batch (the seed's forward_multi): BatchNorm statistics of the
        # backbone, motion excitation and project_global are over all 3·b clips
        every = self.levels(torch.cat([views[name] for name in VIEWS]), reversed_too=True)
        clips = [{level: _rows(every[level], j, b) for level in LEVELS} for j in range(3)]
        losses: dict[str, torch.Tensor] = {}
        vectors = {}
        for level in LEVELS:
            normal = [c[level][:b] for c in clips[:2]]
            z = [distributed.all_gather_with_grad(clip_vector(self.project[level], x)) for x in normal]
            vectors[level] = z
            if level == "high":
                losses["instance"] = pair_contrast(z[0], z[1], local, self.temperature)
            else:
                flipped = [clip_vector(self.project[level], c[level][b:]) for c in clips[:2]]
                losses[f"motion_{level}"] = pair_contrast(
                    z[0], z[1], local, self.temperature, torch.stack(flipped, 1)
                )
            fine = [self.fine[level](c[level][:b]) for c in clips]
            losses[f"time_{level}"] = timestamp_loss(*fine, self.temperature)

        with torch.no_grad():
            self.prototypes.weight.copy_(F.normalize(self.prototypes.weight, dim=1))
        weight = self.prototypes.weight if epoch > 0 else self.prototypes.weight.detach()
        g_all = F.normalize(self.project_global(every["high"].mean(2)), dim=1)  # 3b×dim
        g = [g_all[:b], g_all[b : 2 * b]]
        scores = [gv @ weight.t() for gv in g]  # b×K each
        codes = self._codes(torch.stack([s.detach() for s in scores], 1), epoch)  # b×2×K
        log_p = [F.log_softmax(s / self.proto_temperature, dim=1) for s in scores]
        losses["proto"] = -0.5 * ((codes[:, 1] * log_p[0]).sum(1) + (codes[:, 0] * log_p[1]).sum(1)).mean()

        total = (
            losses["instance"]
            + losses["time_high"]
            + self.level_weights["mid"] * (losses["motion_mid"] + losses["time_mid"])
            + self.level_weights["low"] * (losses["motion_low"] + losses["time_low"])
            + self.proto_weight * losses["proto"]
        )
        if epoch >= self.split:
            clusters = distributed.all_gather((codes[:, 0] + codes[:, 1]).argmax(1))
            with torch.no_grad():
                targets = graph_targets(
                    vectors["high"][0].detach(),
                    vectors["high"][1].detach(),
                    clusters,
                    self.temperature,
                    self.threshold,
                )[local]
            graph = 0
            for level in LEVELS:
                e = [
                    distributed.all_gather_with_grad(clip_vector(self.graph[level], c[level][:b]))
                    for c in clips[:2]
                ]
                log_p_graph = F.log_softmax(e[0][local] @ e[1].t() / self.temperature, dim=1)
                graph = graph + self.level_weights[level] * -(targets * log_p_graph).mean()
            losses["graph"] = graph
            total = total + graph
        return {"loss": total, **{k: v.detach() for k, v in losses.items()}}

    @torch.no_grad()
    def _codes(self, scores: torch.Tensor, epoch: int) -> torch.Tensor:
        """Sinkhorn codes ``b×2×K`` of this rank's rows, over the global batch or, from
        ``queue_epoch`` on, over the queue with the global batch appended. Every step's batch is
        enqueued, from epoch 0 on, so the queue holds real scores when it is first used."""
        everything = distributed.all_gather(scores)  # B×2×K
        n = everything.shape[0]
        queued = torch.cat([self.queue, everything])[-max(len(self.queue), n) :]
        self.queue.copy_(queued[-len(self.queue) :])  # filled from the first step, as the seed
        pool = queued if epoch >= self.queue_epoch else everything
        codes = torch.stack(
            [sinkhorn(pool[:, j], self.epsilon, self.sinkhorn_iterations)[-n:] for j in range(2)], 1
        )
        b = scores.shape[0]
        return codes[distributed.rank() * b : (distributed.rank() + 1) * b]
