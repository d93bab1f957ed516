"""3D ResNets and R(2+1)D networks as one parameterised family.

* ``r3d`` – 3D-ResNet of Hara, Kataoka & Satoh, "Can Spatiotemporal 3D CNNs Retrace the History
  of 2D CNNs and ImageNet?" (CVPR 2018), depths 10–200, shortcut A or B, 7×7×7 stem with a
  3×3×3 (seed 000), 1×3×3 (seed 003) or no max-pool; ``variant="torchvision"`` is torchvision's
  ``r3d_18`` (3×7×7 stem, no max-pool).
* ``r2plus1d`` – R(2+1)D of Tran et al., "A Closer Look at Spatiotemporal Convolutions for Action
  Recognition" (CVPR 2018): VMZ stem (1×7×7 → 45 → 3×1×1) and every (2+1)D conv sized by the
  parameter-matching rule; ``variant="torchvision"`` reuses the first conv's mid-planes for the
  second conv of each block, as torchvision's ``r2plus1d_18`` does.

Input ``B×3×T×H×W``; pooling adapts to any T, H, W. ``forward`` returns ``B×feat_dim``;
``forward_features`` returns ``stem, layer1, …, layer4`` maps (the last three are the low, mid and
high levels).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from vidssl import FeatureInfo

ConvBuilder = Callable[[int, int, int, int | None], nn.Module]


def conv3x3x3(in_planes: int, out_planes: int, stride: int = 1, mid: int | None = None) -> nn.Module:
    return nn.Conv3d(in_planes, out_planes, 3, stride=stride, padding=1, bias=False)


def mid_planes(in_planes: int, out_planes: int, kernel: tuple[int, int, int] = (3, 3, 3)) -> int:
    """Tran et al.'s rule: (2+1)D mid channels matching the parameters of a full ``kernel`` conv."""
    kt, kh, kw = kernel
    return (kt * kh * kw * in_planes * out_planes) // (kh * kw * in_planes + kt * out_planes)


def factorised_conv(
    in_planes: int,
    out_planes: int,
    kernel: tuple[int, int, int] = (3, 3, 3),
    stride: tuple[int, int, int] = (1, 1, 1),
    mid: int | None = None,
) -> nn.Sequential:
    """1×k×k spatial conv → BN → ReLU → k_t×1×1 temporal conv ("same" padding; ``mid`` defaults
    to the parameter-matching rule)."""
    kt, kh, kw = kernel
    mid = mid or mid_planes(in_planes, out_planes, kernel)
    return nn.Sequential(
        nn.Conv3d(
            in_planes,
            mid,
            (1, kh, kw),
            stride=(1, stride[1], stride[2]),
            padding=(0, kh // 2, kw // 2),
            bias=False,
        ),
        nn.BatchNorm3d(mid),
        nn.ReLU(inplace=True),
        nn.Conv3d(mid, out_planes, (kt, 1, 1), stride=(stride[0], 1, 1), padding=(kt // 2, 0, 0), bias=False),
    )


def conv2plus1d(in_planes: int, out_planes: int, stride: int = 1, mid: int | None = None) -> nn.Module:
    """The (2+1)D factorisation of a 3×3×3 conv."""
    return factorised_conv(in_planes, out_planes, (3, 3, 3), (stride,) * 3, mid)


class Shortcut(nn.Module):
    """Type A: strided identity zero-padded to ``out_planes`` (no parameters); type B: 1×1×1
    strided conv + BN; type ``factorised``: a (2+1)D 1×1×1 conv + BN (VTDL's R(2+1)D)."""

    def __init__(
        self, in_planes: int, out_planes: int, stride: int | tuple[int, int, int], kind: str
    ) -> None:
        super().__init__()
        self.kind, self.stride, self.extra = kind, stride, out_planes - in_planes
        if kind == "B":
            self.conv = nn.Conv3d(in_planes, out_planes, 1, stride=stride, bias=False)
        elif kind == "factorised":
            self.conv = factorised_conv(in_planes, out_planes, (1, 1, 1), (stride,) * 3)
        if kind != "A":
            self.bn = nn.BatchNorm3d(out_planes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.kind != "A":
            return self.bn(self.conv(x))
        x = x[:, :, :: self.stride, :: self.stride, :: self.stride]
        return F.pad(x, (0, 0, 0, 0, 0, 0, 0, self.extra))


class BasicBlock(nn.Module):
    expansion = 1

    def __init__(
        self,
        in_planes: int,
        planes: int,
        stride: int,
        conv: ConvBuilder,
        shortcut: str,
        shared_mid: bool = False,
    ) -> None:
        super().__init__()
        mid = mid_planes(in_planes, planes) if shared_mid else None
        self.conv1 = conv(in_planes, planes, stride, mid)
        self.bn1 = nn.BatchNorm3d(planes)
        self.conv2 = conv(planes, planes, 1, mid)
        self.bn2 = nn.BatchNorm3d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = (
            Shortcut(in_planes, planes, stride, shortcut) if stride != 1 or in_planes != planes else None
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + (x if self.downsample is None else self.downsample(x)))


class Bottleneck(nn.Module):
    expansion = 4

    def __init__(
        self,
        in_planes: int,
        planes: int,
        stride: int,
        conv: ConvBuilder,
        shortcut: str,
        shared_mid: bool = False,
    ) -> None:
        super().__init__()
        out_planes = planes * self.expansion
        self.conv1 = nn.Conv3d(in_planes, planes, 1, bias=False)
        self.bn1 = nn.BatchNorm3d(planes)
        self.conv2 = conv(planes, planes, stride, mid_planes(planes, planes) if shared_mid else None)
        self.bn2 = nn.BatchNorm3d(planes)
        self.conv3 = nn.Conv3d(planes, out_planes, 1, bias=False)
        self.bn3 = nn.BatchNorm3d(out_planes)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = (
            Shortcut(in_planes, out_planes, stride, shortcut)
            if stride != 1 or in_planes != out_planes
            else None
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(out + (x if self.downsample is None else self.downsample(x)))


def init_weights(model: nn.Module, init: str = "fan_out") -> None:
    """Initialise ``model``'s convolutions with Kaiming normal (``"fan_out"``: kenshohara's
    fine-tuning code and torchvision; ``"seed000"``: ``fan_in``, with linear layers Xavier
    uniform with zero bias, as seed 000's pre-training code); BatchNorm γ = 1, β = 0."""
    mode = {"fan_out": "fan_out", "seed000": "fan_in"}[init]
    for m in model.modules():
        if isinstance(m, nn.Conv3d):
            nn.init.kaiming_normal_(m.weight, mode=mode, nonlinearity="relu")
        elif isinstance(m, nn.BatchNorm3d):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Linear) and init == "seed000":
            nn.init.xavier_uniform_(m.weight)
            nn.init.zeros_(m.bias)


class ResNet3D(nn.Module):
    """A stem (of total stride ``stem_stride``, t×h×w), four residual stages of ``layers`` blocks
    (the last three halve every dimension) and global average pooling."""

    def __init__(
        self,
        block: type[BasicBlock | Bottleneck],
        layers: list[int],
        stem: nn.Module,
        stem_planes: int,
        stem_stride: tuple[int, int, int],
        conv: ConvBuilder = conv3x3x3,
        shortcut: str = "B",
        width: float = 1.0,
        shared_mid: bool = False,
        init: str = "fan_out",
    ) -> None:
        super().__init__()
        self.stem = stem
        planes = [max(1, round(p * width)) for p in (64, 128, 256, 512)]
        in_planes = stem_planes
        self.feature_info = [FeatureInfo("stem", stem_planes, stem_stride)]
        for i, (n_blocks, p) in enumerate(zip(layers, planes, strict=True)):
            stride = 1 if i == 0 else 2
            blocks = []
            for j in range(n_blocks):
                blocks.append(block(in_planes, p, stride if j == 0 else 1, conv, shortcut, shared_mid))
                in_planes = p * block.expansion
            self.add_module(f"layer{i + 1}", nn.Sequential(*blocks))
            previous = self.feature_info[-1].stride
            self.feature_info.append(
                FeatureInfo(f"layer{i + 1}", in_planes, tuple(d * stride for d in previous))
            )
        self.feat_dim = in_planes
        self.pool = nn.AdaptiveAvgPool3d(1)
        init_weights(self, init)

    def forward_features(self, x: torch.Tensor) -> OrderedDict[str, torch.Tensor]:
        """Stage maps ``stem, layer1..layer4``, each ``B×C×T'×H'×W'``."""
        maps = OrderedDict(stem=self.stem(x))
        for name in ("layer1", "layer2", "layer3", "layer4"):
            maps[name] = getattr(self, name)(next(reversed(maps.values())))
        return maps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``B×3×T×H×W`` → ``B×feat_dim``."""
        x = self.stem(x)
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.pool(x).flatten(1)


def _conv_bn_relu(
    in_planes: int, out_planes: int, kernel: tuple, stride: tuple, padding: tuple
) -> list[nn.Module]:
    return [
        nn.Conv3d(in_planes, out_planes, kernel, stride, padding, bias=False),
        nn.BatchNorm3d(out_planes),
        nn.ReLU(inplace=True),
    ]


_R3D_LAYERS = {
    10: [1, 1, 1, 1],
    18: [2, 2, 2, 2],
    34: [3, 4, 6, 3],
    50: [3, 4, 6, 3],
    101: [3, 4, 23, 3],
    152: [3, 8, 36, 3],
    200: [3, 24, 36, 3],
}
_STEM_POOLS = {"3x3x3": nn.MaxPool3d(3, 2, 1), "1x3x3": nn.MaxPool3d((1, 3, 3), (1, 2, 2), (0, 1, 1))}
#: total stride (t, h, w) of the kenshohara stem (7×7×7 conv, stride 1×2×2) per max-pool
_STEM_STRIDES = {"3x3x3": (2, 4, 4), "1x3x3": (1, 4, 4), "none": (1, 2, 2)}


def r3d(
    depth: Literal[10, 18, 34, 50, 101, 152, 200] = 18,
    shortcut: Literal["A", "B"] = "B",
    width: float = 1.0,
    variant: Literal["kenshohara", "torchvision"] = "kenshohara",
    stem_pool: Literal["3x3x3", "1x3x3", "none"] = "3x3x3",
    init: Literal["fan_out", "seed000"] = "fan_out",
) -> ResNet3D:
    """3D-ResNet (Hara et al. 2018). ``stem_pool`` is the max-pool after the 7×7×7 stem:
    ``3x3x3`` (stride 2 in time too; seed 000), ``1x3x3`` (seed 003) or ``none``.
    ``variant="torchvision"`` gives torchvision's r3d (3×7×7 stem, no pool; depth 18 only
    matches ``r3d_18``). ``init``: Kaiming ``fan_out`` (kenshohara's fine-tuning code), or
    ``seed000`` (``fan_in``, as seed 000's pre-training code; see :func:`init_weights`)."""
    stem_planes = max(1, round(64 * width))
    stem_stride = (1, 2, 2) if variant == "torchvision" else _STEM_STRIDES[stem_pool]
    if variant == "torchvision":
        stem = nn.Sequential(*_conv_bn_relu(3, stem_planes, (3, 7, 7), (1, 2, 2), (1, 3, 3)))
    else:
        layers = _conv_bn_relu(3, stem_planes, (7, 7, 7), (1, 2, 2), (3, 3, 3))
        if stem_pool != "none":
            pool = _STEM_POOLS[stem_pool]
            layers.append(nn.MaxPool3d(pool.kernel_size, pool.stride, pool.padding))
        stem = nn.Sequential(*layers)
    block = BasicBlock if depth < 50 else Bottleneck
    return ResNet3D(
        block, _R3D_LAYERS[depth], stem, stem_planes, stem_stride, conv3x3x3, shortcut, width, init=init
    )


def r2plus1d(
    depth: Literal[10, 18, 34] = 18,
    width: float = 1.0,
    variant: Literal["vmz", "torchvision", "irhum"] = "vmz",
) -> ResNet3D:
    """R(2+1)D (Tran et al. 2018).

    * ``vmz`` (seed 001): stem 1×7×7 conv to 45 channels then 3×1×1 conv to 64, 1×1×1 shortcuts,
      every (2+1)D conv sized by the parameter-matching rule; depths 18 and 34;
    * ``torchvision``: the same, but both convs of a block use the first conv's mid-planes, as
      torchvision's ``r2plus1d_18``;
    * ``irhum`` (VTDL, seed 002): a factorised 3×7×7 stem (83 mid channels for width 1) and
      factorised 1×1×1 shortcuts; depth 10 is VTDL's pre-training net, 18 its fine-tuning net.
    """
    stem_planes = max(1, round(64 * width))
    if variant == "irhum":
        stem = nn.Sequential(
            factorised_conv(3, stem_planes, (3, 7, 7), (1, 2, 2)),
            nn.BatchNorm3d(stem_planes),
            nn.ReLU(inplace=True),
        )
    else:
        stem_mid = max(1, round(45 * width))
        stem = nn.Sequential(
            *_conv_bn_relu(3, stem_mid, (1, 7, 7), (1, 2, 2), (0, 3, 3)),
            *_conv_bn_relu(stem_mid, stem_planes, (3, 1, 1), (1, 1, 1), (1, 0, 0)),
        )
    shortcut = "factorised" if variant == "irhum" else "B"
    return ResNet3D(
        BasicBlock,
        _R3D_LAYERS[depth],
        stem,
        stem_planes,
        (1, 2, 2),
        conv2plus1d,
        shortcut,
        width,
        shared_mid=variant == "torchvision",
    )
