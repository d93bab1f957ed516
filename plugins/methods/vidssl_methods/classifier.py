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

from vidssl import ConfigError, Method


def freeze_below(backbone: nn.Module, ft_begin_index: int) -> None:
    """Seed 000's ``ft_begin_index``: stage 0 (the stem) and ``layer1 .. layer{index-1}`` get
    ``requires_grad=False`` (their BatchNorm statistics still update in train mode)."""
    names = ["stem"] + [f"layer{i}" for i in range(1, ft_begin_index)]
    if ft_begin_index > 0 and not all(hasattr(backbone, n) for n in names):
        raise ConfigError(
            f"ft_begin_index={ft_begin_index} needs a backbone with stages named "
            f"{', '.join(names)} ({type(backbone).__name__} has other names)"
        )
    for name in names[:ft_begin_index]:
        for param in getattr(backbone, name).parameters():
            param.requires_grad_(False)


class Classifier(Method):
    """Backbone + classification head; ``normalize`` selects the linear-probe head."""

    def __init__(
        self,
        backbone: nn.Module,
        num_classes: int,
        dropout: float = 0.0,
        normalize: bool = False,
        ft_begin_index: int = 0,
    ) -> None:
        super().__init__(backbone)
        freeze_below(backbone, ft_begin_index)
        self.normalize, self.ft_begin_index = normalize, ft_begin_index
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

    def card(self) -> dict[str, Any]:
        card = super().card()
        if self.normalize:
            card["head"] = "L2-normalise → BatchNorm1d → linear (CoCLR linear probe)"
        else:
            card["head"] = f"dropout {self.dropout.p} → linear"
            card["frozen_below"] = self.ft_begin_index
        return card


def supervised(
    backbone: nn.Module, num_classes: int, dropout: float = 0.5, ft_begin_index: int = 0
) -> Classifier:
    """Backbone + dropout + linear classifier, trained with cross-entropy; stages below
    ``ft_begin_index`` stay frozen (seed 000's fine-tuning)."""
    return Classifier(backbone, num_classes, dropout=dropout, ft_begin_index=ft_begin_index)


def linear_probe(backbone: nn.Module, num_classes: int) -> Classifier:
    """CoCLR linear probe: L2-norm + BatchNorm1d + linear on frozen backbone features."""
    return Classifier(backbone, num_classes, normalize=True)
