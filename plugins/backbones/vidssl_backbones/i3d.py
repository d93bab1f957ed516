"""I3D: Inception-v1 inflated to 3D (Carreira & Zisserman, "Quo Vadis, Action Recognition?",
CVPR 2017), as used by VTDL (seed 002): 1024-d features.

Convolutions and max-pools use TensorFlow-style "SAME" padding computed from kernel and stride
(``k - s`` split as evenly as possible, the extra pixel after), zero-padded, pools in ceil mode.
Module names follow the TF I3D release (``conv3d_1a_7x7``, ``mixed_4f``, each unit a ``conv3d``
and a ``batch3d``), so VTDL's checkpoints map onto it by name.
"""

from __future__ import annotations

from collections import OrderedDict

import torch
import torch.nn.functional as F
from torch import nn

from vidssl import FeatureInfo

Triple = tuple[int, int, int]


def _same_padding(kernel: Triple, stride: Triple) -> tuple[int, ...]:
    """F.pad order (W, H, T), each (before, after), for TF SAME padding."""
    pads = []
    for k, s in reversed(list(zip(kernel, stride, strict=True))):
        total = max(k - s, 0)
        pads += [total // 2, total - total // 2]
    return tuple(pads)


class Unit3D(nn.Module):
    """SAME-padded conv (no bias) + BatchNorm + ReLU."""

    def __init__(
        self, in_channels: int, out_channels: int, kernel: Triple = (1, 1, 1), stride: Triple = (1, 1, 1)
    ) -> None:
        super().__init__()
        self.padding = _same_padding(kernel, stride)
        self.conv3d = nn.Conv3d(in_channels, out_channels, kernel, stride=stride, bias=False)
        self.batch3d = nn.BatchNorm3d(out_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.batch3d(self.conv3d(F.pad(x, self.padding))))


class MaxPoolSame(nn.Module):
    """Zero-padded SAME max-pool in ceil mode."""

    def __init__(self, kernel: Triple, stride: Triple) -> None:
        super().__init__()
        self.padding = _same_padding(kernel, stride)
        self.pool = nn.MaxPool3d(kernel, stride, ceil_mode=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pool(F.pad(x, self.padding))


class Mixed(nn.Module):
    """Inception module: 1×1; 1×1→3×3×3; 1×1→3×3×3; 3×3×3 max-pool→1×1, concatenated.
    ``channels`` = (b0, b1 reduce, b1, b2 reduce, b2, b3)."""

    def __init__(self, in_channels: int, channels: tuple[int, int, int, int, int, int]) -> None:
        super().__init__()
        c0, c1r, c1, c2r, c2, c3 = channels
        self.branch_0 = Unit3D(in_channels, c0)
        self.branch_1 = nn.Sequential(Unit3D(in_channels, c1r), Unit3D(c1r, c1, (3, 3, 3)))
        self.branch_2 = nn.Sequential(Unit3D(in_channels, c2r), Unit3D(c2r, c2, (3, 3, 3)))
        self.branch_3 = nn.Sequential(MaxPoolSame((3, 3, 3), (1, 1, 1)), Unit3D(in_channels, c3))
        self.out_channels = c0 + c1 + c2 + c3

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.branch_0(x), self.branch_1(x), self.branch_2(x), self.branch_3(x)], 1)


#: (name, in channels, branch channels) of every Inception module, grouped by stage
_MIXED = {
    "mixed_3": [("mixed_3b", 192, (64, 96, 128, 16, 32, 32)), ("mixed_3c", 256, (128, 128, 192, 32, 96, 64))],
    "mixed_4": [
        ("mixed_4b", 480, (192, 96, 208, 16, 48, 64)),
        ("mixed_4c", 512, (160, 112, 224, 24, 64, 64)),
        ("mixed_4d", 512, (128, 128, 256, 24, 64, 64)),
        ("mixed_4e", 512, (112, 144, 288, 32, 64, 64)),
        ("mixed_4f", 528, (256, 160, 320, 32, 128, 128)),
    ],
    "mixed_5": [
        ("mixed_5b", 832, (256, 160, 320, 32, 128, 128)),
        ("mixed_5c", 832, (384, 192, 384, 48, 128, 128)),
    ],
}
_POOL_BEFORE = {
    "mixed_3": ("maxPool3d_3a_3x3", (1, 3, 3), (1, 2, 2)),
    "mixed_4": ("maxPool3d_4a_3x3", (3, 3, 3), (2, 2, 2)),
    "mixed_5": ("maxPool3d_5a_2x2", (2, 2, 2), (2, 2, 2)),
}


class I3D(nn.Module):
    """Inception-v1 I3D backbone: ``B×3×T×H×W`` → ``B×1024``."""

    feat_dim = 1024
    feature_info = [
        FeatureInfo("stem", 192, (2, 4, 4)),
        FeatureInfo("mixed_3", 480, (2, 8, 8)),
        FeatureInfo("mixed_4", 832, (4, 16, 16)),
        FeatureInfo("mixed_5", 1024, (8, 32, 32)),
    ]

    def __init__(self, in_channels: int = 3) -> None:
        super().__init__()
        self.conv3d_1a_7x7 = Unit3D(in_channels, 64, (7, 7, 7), (2, 2, 2))
        self.maxPool3d_2a_3x3 = MaxPoolSame((1, 3, 3), (1, 2, 2))
        self.conv3d_2b_1x1 = Unit3D(64, 64)
        self.conv3d_2c_3x3 = Unit3D(64, 192, (3, 3, 3))
        for stage, modules in _MIXED.items():
            name, kernel, stride = _POOL_BEFORE[stage]
            self.add_module(name, MaxPoolSame(kernel, stride))
            for module_name, in_c, channels in modules:
                self.add_module(module_name, Mixed(in_c, channels))
        self.pool = nn.AdaptiveAvgPool3d(1)

    def forward_features(self, x: torch.Tensor) -> OrderedDict[str, torch.Tensor]:
        """``stem`` (after Conv3d_2c), then ``mixed_3``, ``mixed_4``, ``mixed_5`` maps."""
        x = self.conv3d_2c_3x3(self.conv3d_2b_1x1(self.maxPool3d_2a_3x3(self.conv3d_1a_7x7(x))))
        maps = OrderedDict(stem=x)
        for stage, modules in _MIXED.items():
            x = getattr(self, _POOL_BEFORE[stage][0])(x)
            for module_name, _, _ in modules:
                x = getattr(self, module_name)(x)
            maps[stage] = x
        return maps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pool(self.forward_features(x)["mixed_5"]).flatten(1)


def i3d() -> I3D:
    """Inception-v1 I3D (Carreira & Zisserman 2017), 12,287,264 parameters, 1024-d features."""
    return I3D()
