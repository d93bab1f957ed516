"""Classifying methods: supervised training / fine-tuning and the linear probe.

* ``supervised``: backbone → dropout → linear, cross-entropy; every layer trains unless the
  optimizer's ``paramwise.lr_mult`` freezes some.
* ``linear_probe``: the CoCLR protocol: frozen backbone features → L2-normalise → BatchNorm1d →
  linear (weights N(0, 0.01)); run it as a ``probe`` stage so the backbone stays in eval mode.
"""
from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from vidssl import Method


class Classifier(Method):
    """Backbone + classification head; ``normalize`` selects the linear-probe head."""

    def __init__(self, backbone: nn.Module, num_classes: int, dropout: float = 0.0,
                 normalize: bool = False) -> None:
        super().__init__(backbone)
        self.normalize = normalize
        dim = backbone.feat_dim
        self.bn = nn.BatchNorm1d(dim) if normalize else nn.Identity()
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(dim, num_classes)
        if normalize:
            nn.init.normal_(self.fc.weight, 0, 0.01)
            nn.init.zeros_(self.fc.bias)

    def logits(self, clip: torch.Tensor) -> torch.Tensor:
        """``B×3×T×H×W`` → ``B×num_classes``."""
        frozen = not any(p.requires_grad for p in self.backbone.parameters())
        with torch.set_grad_enabled(torch.is_grad_enabled() and not frozen):
            features = self.backbone(clip)
        if self.normalize:
            features = F.normalize(features, dim=1)
        return self.fc(self.dropout(self.bn(features)))

    def training_step(self, batch: dict[str, Any]) -> dict[str, torch.Tensor]:
        logits = self.logits(batch["views"]["clip"])
        loss = F.cross_entropy(logits, batch["label"])
        accuracy = (logits.argmax(1) == batch["label"]).float().mean() * 100
        return {"loss": loss, "train_top1": accuracy.detach()}

    def predict(self, batch: dict[str, Any]) -> torch.Tensor:
        return self.logits(batch["views"]["clip"])


def supervised(backbone: nn.Module, num_classes: int, dropout: float = 0.5) -> Classifier:
    """Backbone + dropout + linear classifier, trained with cross-entropy."""
    return Classifier(backbone, num_classes, dropout=dropout)


def linear_probe(backbone: nn.Module, num_classes: int) -> Classifier:
    """CoCLR linear probe: L2-norm + BatchNorm1d + linear on frozen backbone features."""
    return Classifier(backbone, num_classes, normalize=True)
