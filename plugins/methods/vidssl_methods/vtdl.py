"""VTDL: video-based temporal-discriminative learning (Wang, Lin, Ma & Yuen, arXiv 2008.02129;
seed 002).

MoCo-style instance discrimination with two additions, each a switch so the README's ablation
rows are configs:

* ``temporal_negative``: a clip of the *same video at a different time* (start at least
  ``min_gap`` frames away) is an extra negative, encoded by the online encoder with gradient in a
  pass of its own after the key's, as the seed (``train_temporal_dis.py::train_moco``:
  ``model(anchor)``, ``model_ema(positive)``, ``model(negative)``; BatchNorm statistics and
  running-stat updates per pass, anchor first);
* ``tca`` (temporal consistent augmentation): every frame of the anchor is mixed with one random
  frame of the same clip, ``x'_t = (1 − λ) x_t + λ x_r`` with ``λ ~ U(0, tca_max)`` drawn once
  per batch, so every temporal difference is scaled by exactly ``1 − λ``.

"BA" (basic augmentation: rotation, resize + random crop, colour jitter) is a property of the
views, set in the dataset's ``view`` config.

Loss: ``q = f_θ(TCA(anchor))``, ``k = f_ξ(positive)`` (momentum encoder, no gradient),
``n = f_θ(negative)``, all 128-d and L2-normalised; logits ``[q·k, q·Q_1..Q_K, q·n] / τ`` and
cross-entropy towards index 0. After each step the keys (gathered from every rank) replace the
oldest queue rows.
"""

from __future__ import annotations

import copy
import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from vidssl import Method, distributed
from vidssl_methods.embedding import EmbeddingHead


def temporal_consistent_mix(clip: torch.Tensor, lam: float, frames: torch.Tensor) -> torch.Tensor:
    """TCA of a ``B×C×T×H×W`` batch: every frame of sample ``b`` blended with its frame
    ``frames[b]`` with weight ``lam``."""
    still = clip[torch.arange(clip.shape[0], device=clip.device), :, frames]  # B×C×H×W
    return (1 - lam) * clip + lam * still.unsqueeze(2)


def contrastive_logits(
    q: torch.Tensor, k: torch.Tensor, queue: torch.Tensor, n: torch.Tensor | None, temperature: float
) -> torch.Tensor:
    """``B×(1+K[+1])`` logits ``[q·k, q·queue_1..K, q·n] / τ``; the positive is column 0."""
    logits = [(q * k).sum(1, keepdim=True), q @ queue.t()]
    if n is not None:
        logits.append((q * n).sum(1, keepdim=True))
    return torch.cat(logits, dim=1) / temperature


class VTDL(Method):
    """VTDL (seed 002): MoCo queue + same-video different-time negative + TCA on the anchor.
    The key encoder keeps BatchNorm in train mode (its own running statistics); with
    ``shuffle_bn`` its batch is shuffled across ranks and back (the seed's Shuffle-BN under DDP;
    identity in one process).

    Args:
        queue_size: keys kept in the FIFO queue of negatives.
        dim: size of the L2-normalised embedding.
        momentum: of the key encoder's exponential moving average.
        temperature: τ dividing the logits.
        temporal_negative: add the same-video different-time negative.
        tca: temporal consistent augmentation on the anchor.
        tca_max: the upper end of TCA's mixing weight λ.
        min_gap: least distance in frames between the anchor's start and the temporal
            negative's.
        shuffle_bn: shuffle the key batch across ranks and back (Shuffle-BN).
    """

    def __init__(
        self,
        backbone: nn.Module,
        queue_size: int = 5000,
        dim: int = 128,
        momentum: float = 0.999,
        temperature: float = 0.07,
        temporal_negative: bool = True,
        tca: bool = True,
        tca_max: float = 0.1,
        min_gap: int = 2,
        shuffle_bn: bool = False,
    ) -> None:
        super().__init__(backbone)
        self.momentum, self.temperature, self.shuffle_bn = momentum, temperature, shuffle_bn
        self.temporal_negative, self.tca, self.tca_max = temporal_negative, tca, tca_max
        self.head = EmbeddingHead(backbone.feat_dim, dim)
        self.key_backbone = copy.deepcopy(backbone)
        self.key_head = copy.deepcopy(self.head)
        for param in [*self.key_backbone.parameters(), *self.key_head.parameters()]:
            param.requires_grad_(False)
        bound = 1 / math.sqrt(dim / 3)
        self.register_buffer("queue", torch.rand(queue_size, dim) * 2 * bound - bound)
        self.register_buffer("queue_ptr", torch.zeros((), dtype=torch.long))
        self.views = {"query": {}, "key": {"same_time_as": "query"}}
        if temporal_negative:
            self.views["negative"] = {"different_time_from": "query", "min_gap": min_gap}

    def embed_query(self, clip: torch.Tensor) -> torch.Tensor:
        return self.head(self.backbone(clip))

    @torch.no_grad()
    def _momentum_update(self) -> None:
        online = [*self.backbone.parameters(), *self.head.parameters()]
        target = [*self.key_backbone.parameters(), *self.key_head.parameters()]
        torch._foreach_mul_(target, self.momentum)
        torch._foreach_add_(target, online, alpha=1 - self.momentum)

    @torch.no_grad()
    def _enqueue(self, keys: torch.Tensor) -> None:
        keys = distributed.all_gather(keys)
        size, ptr = self.queue.shape[0], int(self.queue_ptr)
        rows = (torch.arange(keys.shape[0], device=keys.device) + ptr) % size
        self.queue[rows] = keys[:size]
        self.queue_ptr.fill_((ptr + keys.shape[0]) % size)

    def training_step(self, batch: dict[str, Any]) -> dict[str, torch.Tensor]:
        views = batch["views"]
        anchor = views["query"]
        if self.tca:
            lam = float(torch.rand(()) * self.tca_max)
            frames = torch.randint(anchor.shape[2], (anchor.shape[0],), device=anchor.device)
            anchor = temporal_consistent_mix(anchor, lam, frames)
        q = self.embed_query(anchor)
        with torch.no_grad():
            self._momentum_update()
            self.key_backbone.train()
            key, permutation = (
                distributed.shuffle_batch(views["key"]) if self.shuffle_bn else (views["key"], None)
            )
            k = distributed.unshuffle_batch(self.key_head(self.key_backbone(key)), permutation)
        n = self.embed_query(views["negative"]) if self.temporal_negative else None
        logits = contrastive_logits(q, k, self.queue.clone(), n, self.temperature)
        loss = F.cross_entropy(logits, torch.zeros(q.shape[0], dtype=torch.long, device=q.device))
        self._enqueue(k)
        accuracy = (logits.argmax(1) == 0).float().mean() * 100
        return {"loss": loss, "instance_acc": accuracy.detach()}
