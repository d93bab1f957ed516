"""I3D-ResNet-50 (the "NL-I3D baseline" of seed 001; Wang et al., "Non-local Neural Networks",
CVPR 2018), optionally with embedded-Gaussian non-local blocks where video-nonlocal-net puts them
(after blocks 1 and 3 of res3 and blocks 1, 3 and 5 of res4).

Bottleneck: conv-a k_t×1×1 (k_t 3 or 1 by block), conv-b 1×3×3 (spatial stride), conv-c 1×1×1,
each with BN; a 1×1×1 strided shortcut where shape changes. Stem 5×7×7 conv + 1×3×3 max-pool; a
2×1×1 max-pool after res2 halves time. 2048-d features.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Literal

import torch
from torch import nn

from vidssl import FeatureInfo
from vidssl_backbones.resnet3d import Shortcut


class NonLocal(nn.Module):
    """Embedded-Gaussian non-local block: θ, φ, g 1×1×1 convs to C/2 (φ and g on a 1×2×2
    max-pooled map), softmax(θᵀφ)·g, a 1×1×1 conv back to C and a BN whose γ starts at 0, added
    to the input."""

    def __init__(self, channels: int, scale: bool = True) -> None:
        super().__init__()
        inner = channels // 2
        self.scale = inner**-0.5 if scale else 1.0
        self.theta = nn.Conv3d(channels, inner, 1)
        self.phi = nn.Conv3d(channels, inner, 1)
        self.g = nn.Conv3d(channels, inner, 1)
        self.pool = nn.MaxPool3d((1, 2, 2), (1, 2, 2))
        self.out = nn.Conv3d(inner, channels, 1)
        self.bn = nn.BatchNorm3d(channels)
        nn.init.zeros_(self.bn.weight)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, t, h, w = x.shape
        theta = self.theta(x).flatten(2)  # B×C'×THW
        phi = self.phi(self.pool(x)).flatten(2)  # B×C'×THW/4
        g = self.g(self.pool(x)).flatten(2)
        attention = torch.softmax(theta.transpose(1, 2) @ phi * self.scale, dim=-1)
        y = (g @ attention.transpose(1, 2)).view(b, -1, t, h, w)
        return x + self.bn(self.out(y))


class I3DBottleneck(nn.Module):
    def __init__(
        self,
        in_planes: int,
        inner: int,
        out_planes: int,
        stride: int,
        temporal: bool,
        non_local: bool = False,
    ) -> None:
        super().__init__()
        kt = 3 if temporal else 1
        self.conv1 = nn.Conv3d(in_planes, inner, (kt, 1, 1), padding=(kt // 2, 0, 0), bias=False)
        self.bn1 = nn.BatchNorm3d(inner)
        self.conv2 = nn.Conv3d(
            inner, inner, (1, 3, 3), stride=(1, stride, stride), padding=(0, 1, 1), bias=False
        )
        self.bn2 = nn.BatchNorm3d(inner)
        self.conv3 = nn.Conv3d(inner, out_planes, 1, bias=False)
        self.bn3 = nn.BatchNorm3d(out_planes)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = (
            Shortcut(in_planes, out_planes, (1, stride, stride), "B")
            if stride != 1 or in_planes != out_planes
            else None
        )
        self.nonlocal_block = NonLocal(out_planes) if non_local else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        out = self.relu(out + (x if self.downsample is None else self.downsample(x)))
        return out if self.nonlocal_block is None else self.nonlocal_block(out)


#: blocks per stage and which of them have a 3×1×1 conv-a (video-nonlocal-net, arc 2)
_STAGES = [(3, [1, 1, 1]), (4, [1, 0, 1, 0]), (6, [1, 0, 1, 0, 1, 0]), (3, [0, 1, 0])]
_NON_LOCAL = {1: (1, 3), 2: (1, 3, 5)}  # stage index (layer2, layer3) → blocks followed by NL


class I3DResNet(nn.Module):
    """I3D-ResNet-50: ``B×3×T×H×W`` → ``B×2048``."""

    feat_dim = 2048
    feature_info = [
        FeatureInfo("stem", 64, (1, 4, 4)),
        FeatureInfo("layer1", 256, (1, 4, 4)),
        FeatureInfo("layer2", 512, (2, 8, 8)),
        FeatureInfo("layer3", 1024, (2, 16, 16)),
        FeatureInfo("layer4", 2048, (2, 32, 32)),
    ]

    def __init__(self, non_local: bool = False) -> None:
        super().__init__()
        self.stem = nn.Sequential(
            nn.Conv3d(3, 64, (5, 7, 7), stride=(1, 2, 2), padding=(2, 3, 3), bias=False),
            nn.BatchNorm3d(64),
            nn.ReLU(inplace=True),
            nn.MaxPool3d((1, 3, 3), (1, 2, 2), (0, 1, 1)),
        )
        self.pool2 = nn.MaxPool3d((2, 1, 1), (2, 1, 1))
        in_planes = 64
        for i, (blocks, temporal) in enumerate(_STAGES):
            inner, out = 64 * 2**i, 256 * 2**i
            layer = [
                I3DBottleneck(
                    in_planes if j == 0 else out,
                    inner,
                    out,
                    2 if (i > 0 and j == 0) else 1,
                    bool(temporal[j]),
                    non_local and j in _NON_LOCAL.get(i, ()),
                )
                for j in range(blocks)
            ]
            self.add_module(f"layer{i + 1}", nn.Sequential(*layer))
            in_planes = out
        self.pool = nn.AdaptiveAvgPool3d(1)
        for m in self.modules():
            if isinstance(m, nn.Conv3d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def forward_features(self, x: torch.Tensor) -> OrderedDict[str, torch.Tensor]:
        """``stem``, ``layer1`` (res2) … ``layer4`` (res5) maps."""
        maps = OrderedDict(stem=self.stem(x))
        maps["layer1"] = self.layer1(maps["stem"])
        maps["layer2"] = self.layer2(self.pool2(maps["layer1"]))
        maps["layer3"] = self.layer3(maps["layer2"])
        maps["layer4"] = self.layer4(maps["layer3"])
        return maps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pool(self.forward_features(x)["layer4"]).flatten(1)


def i3d_resnet(depth: Literal[50] = 50, non_local: bool = False) -> I3DResNet:
    """I3D-ResNet-50 (27,223,872 parameters without non-local blocks)."""
    return I3DResNet(non_local)
