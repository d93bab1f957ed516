"""C3D with BatchNorm (Tran et al., "Learning Spatiotemporal Features with 3D Convolutional
Networks", ICCV 2015; the BN variant of VTDL, seed 002): eight 3×3×3 convs (with bias) each
followed by BN and ReLU, max-pools after conv1 (1×2×2), conv2, conv3b and conv4b (2×2×2), global
average pooling → 512-d features. Module names are the paper's (``conv3a``, ``bn3a``, ...)."""

from __future__ import annotations

from collections import OrderedDict

import torch
from torch import nn

from vidssl import FeatureInfo

#: (stage, [(conv name, out channels)], pool after the stage)
_STAGES = [
    ("conv1", [("1", 64)], (1, 2, 2)),
    ("conv2", [("2", 128)], (2, 2, 2)),
    ("conv3", [("3a", 256), ("3b", 256)], (2, 2, 2)),
    ("conv4", [("4a", 512), ("4b", 512)], (2, 2, 2)),
    ("conv5", [("5a", 512), ("5b", 512)], None),
]


class C3D(nn.Module):
    """``B×3×T×H×W`` → ``B×512``."""

    feat_dim = 512
    feature_info = [
        FeatureInfo("conv1", 64, (1, 2, 2)),
        FeatureInfo("conv2", 128, (2, 4, 4)),
        FeatureInfo("conv3", 256, (4, 8, 8)),
        FeatureInfo("conv4", 512, (8, 16, 16)),
        FeatureInfo("conv5", 512, (8, 16, 16)),
    ]

    def __init__(self) -> None:
        super().__init__()
        in_channels = 3
        for _, convs, _pool in _STAGES:
            for suffix, out in convs:
                self.add_module(f"conv{suffix}", nn.Conv3d(in_channels, out, 3, padding=1))
                self.add_module(f"bn{suffix}", nn.BatchNorm3d(out))
                in_channels = out
        self.pools = nn.ModuleList(nn.MaxPool3d(p, p) for _, _, p in _STAGES if p)
        self.relu = nn.ReLU(inplace=True)
        self.pool = nn.AdaptiveAvgPool3d(1)

    def forward_features(self, x: torch.Tensor) -> OrderedDict[str, torch.Tensor]:
        """Maps after each stage ``conv1`` … ``conv5`` (pooled where C3D pools)."""
        maps = OrderedDict()
        for i, (stage, convs, pool) in enumerate(_STAGES):
            for suffix, _ in convs:
                x = self.relu(getattr(self, f"bn{suffix}")(getattr(self, f"conv{suffix}")(x)))
            if pool:
                x = self.pools[i](x)
            maps[stage] = x
        return maps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pool(self.forward_features(x)["conv5"]).flatten(1)


def c3d() -> C3D:
    """C3D with BatchNorm, 27,661,440 parameters."""
    return C3D()
