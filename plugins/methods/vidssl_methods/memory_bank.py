"""Seed 000's memory bank: one unit-norm 128-d row per training video, updated with momentum.

Rows start uniform in [−σ, σ] with σ = 1/√(dim/3) and are L2-normalised; after each step the
batch's rows become ``normalise(m·V_i + (1 − m)·v_i)``. Under torch.distributed the batch's
embeddings and indices are gathered from every rank first, so all ranks hold the same bank.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from vidssl import distributed


class MemoryBank(nn.Module):
    """``memory``: ``N×dim`` buffer (part of every checkpoint); N is set by :meth:`resize`."""

    def __init__(self, dim: int = 128) -> None:
        super().__init__()
        self.register_buffer("memory", torch.zeros(0, dim))

    def __len__(self) -> int:
        return self.memory.shape[0]

    def resize(self, size: int, seed: int = 0) -> None:
        """Fresh bank of ``size`` rows (the seed's initialisation, reproducible by ``seed``)."""
        dim = self.memory.shape[1]
        sigma = 1 / math.sqrt(dim / 3)
        generator = torch.Generator().manual_seed(seed)
        rows = torch.rand(size, dim, generator=generator) * 2 * sigma - sigma
        self.memory = F.normalize(rows, dim=1).to(self.memory.device)

    @torch.no_grad()
    def update(self, indices: torch.Tensor, embeddings: torch.Tensor, momentum: float) -> None:
        """Momentum update of rows ``indices`` (``B``) with ``embeddings`` (``B×dim``) from every
        rank."""
        indices = distributed.all_gather(indices)
        embeddings = distributed.all_gather(embeddings.detach())
        mixed = momentum * self.memory[indices] + (1 - momentum) * embeddings
        # out of place: a bank read earlier in the step (saved for backward) keeps its values
        self.memory = self.memory.index_put((indices,), F.normalize(mixed, dim=1))
