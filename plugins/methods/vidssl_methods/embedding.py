"""What the embedding methods share: a linear projection to a unit-norm embedding, and the
backbone + embedding head + memory bank of instance recognition and local aggregation."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from vidssl import ConfigError, Method
from vidssl_methods.memory_bank import MemoryBank


class EmbeddingHead(nn.Module):
    """Linear projection ``B×in_dim`` → ``B×dim`` followed by L2 normalisation (VTDL's
    ``id_head`` with torch's default init; seed 000's 512→128 head with ``xavier=True``: Xavier
    uniform weights, zero bias)."""

    def __init__(self, in_dim: int, dim: int, xavier: bool = False) -> None:
        super().__init__()
        self.fc = nn.Linear(in_dim, dim)
        if xavier:
            nn.init.xavier_uniform_(self.fc.weight)
            nn.init.zeros_(self.fc.bias)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return F.normalize(self.fc(features), dim=1)


class EmbeddingMethod(Method):
    """Backbone + ``dim``-d embedding head + memory bank (one row per training video): what IR
    and LA share; ``momentum`` is the bank's update momentum, ``temperature`` the softmax's. The
    head starts as seed 000's (Xavier uniform, zero bias)."""

    views = {"clip": {}}

    def __init__(
        self, backbone: nn.Module, dim: int = 128, momentum: float = 0.5, temperature: float = 0.07
    ) -> None:
        super().__init__(backbone)
        self.head = EmbeddingHead(backbone.feat_dim, dim, xavier=True)
        self.bank = MemoryBank(dim)
        self.momentum, self.temperature = momentum, temperature

    def prepare(self, dataset: Any, work_dir: Path) -> None:
        """One bank row per training video; a dataset whose items hold several clips
        (``repeat``) is refused: each would update the same row."""
        repeats = getattr(dataset, "clips_per_item", 1)
        if repeats > 1:
            raise ConfigError(
                f"{type(self).__name__}: its dataset repeats each video {repeats} "
                f"times per item (repeat={repeats}), but the memory bank keeps one "
                f"row per video that every copy would update; set repeat=1"
            )
        self.bank.resize(len(dataset))

    def embed_batch(self, batch: dict[str, Any]) -> tuple[torch.Tensor, torch.Tensor]:
        """Unit embeddings ``B×dim`` of the batch's clips and their dataset rows ``B``."""
        return self.head(self.backbone(batch["views"]["clip"])), batch["index"]
