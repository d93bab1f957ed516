"""Thin wrappers over torchvision's video classification models, registered as ``tv_<name>``.

The classification head is removed (features come out pooled, ``B×feat_dim``) and S3D's fixed
7×7 average pool is made adaptive so any input size works. MViT is left out: its blocks carry
token sequences, not the stage maps ``forward_features`` promises.
"""
from __future__ import annotations

from collections import OrderedDict

import torch
import torchvision
from torch import nn

#: torchvision video builders that fit the backbone contract
MODELS = ("r3d_18", "mc3_18", "r2plus1d_18", "s3d", "swin3d_t", "swin3d_s", "swin3d_b")


class TorchvisionVideo(nn.Module):
    """A torchvision video model without its head: ``B×3×T×H×W`` → ``B×feat_dim``."""

    def __init__(self, name: str) -> None:
        super().__init__()
        self.name = name
        self.model = getattr(torchvision.models.video, name)(weights=None)
        if hasattr(self.model, "fc"):            # VideoResNet
            self.feat_dim = self.model.fc.in_features
            self.model.fc = nn.Identity()
        elif hasattr(self.model, "classifier"):  # S3D
            self.feat_dim = self.model.classifier[-1].in_channels
            self.model.classifier = nn.Identity()
            self.model.avgpool = nn.AdaptiveAvgPool3d(1)
        else:                                    # Swin3D
            self.feat_dim = self.model.head.in_features
            self.model.head = nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)

    def forward_features(self, x: torch.Tensor) -> OrderedDict[str, torch.Tensor]:
        """VideoResNet: ``stem, layer1..layer4``; S3D and Swin3D: the output of every child of
        ``features`` (Swin3D's maps permuted to ``B×C×T×H×W``, then its final ``norm``)."""
        maps = OrderedDict()
        if hasattr(self.model, "layer1"):
            for name in ("stem", "layer1", "layer2", "layer3", "layer4"):
                x = getattr(self.model, name)(x)
                maps[name] = x
            return maps
        swin = hasattr(self.model, "patch_embed")
        if swin:
            x = self.model.pos_drop(self.model.patch_embed(x))
        for i, module in enumerate(self.model.features):
            x = module(x)
            maps[f"features.{i}"] = x.permute(0, 4, 1, 2, 3) if swin else x
        if swin:  # the final LayerNorm comes before Swin3D's pooling
            maps["norm"] = self.model.norm(x).permute(0, 4, 1, 2, 3)
        return maps


def builder(name: str):
    """The registry builder for torchvision model ``name``."""

    def build() -> TorchvisionVideo:
        return TorchvisionVideo(name)

    build.__doc__ = f"torchvision's {name} without its classification head."
    return build
