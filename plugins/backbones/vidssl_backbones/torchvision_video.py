"""Thin wrappers over torchvision's video classification models, registered as ``tv_<name>``.

The classification head is removed (features come out pooled, ``B×feat_dim``) and S3D's fixed
7×7 average pool is made adaptive so any input size works. MViT is left out: its blocks carry
token sequences, not the stage maps ``forward_features`` promises.
"""

from __future__ import annotations

from collections import OrderedDict

import torch
from torch import nn

from vidssl import FeatureInfo

#: input of the shape-only trace that describes a torchvision model's stages
_TRACE_INPUT = (1, 3, 32, 224, 224)

#: torchvision video builders that fit the backbone contract
MODELS = ("r3d_18", "mc3_18", "r2plus1d_18", "s3d", "swin3d_t", "swin3d_s", "swin3d_b")


def _headless(name: str) -> tuple[nn.Module, int]:
    """torchvision's model ``name`` without its head (S3D's pool made adaptive), and its
    feature size."""
    # registering the plugin costs no torchvision
    import torchvision.models.video  # noqa: PLC0415 -- lazy: start-up

    model = getattr(torchvision.models.video, name)(weights=None)
    if hasattr(model, "fc"):  # VideoResNet
        feat_dim = model.fc.in_features
        model.fc = nn.Identity()
    elif hasattr(model, "classifier"):  # S3D
        feat_dim = model.classifier[-1].in_channels
        model.classifier = nn.Identity()
        model.avgpool = nn.AdaptiveAvgPool3d(1)
    else:  # Swin3D
        feat_dim = model.head.in_features
        model.head = nn.Identity()
    return model, feat_dim


class TorchvisionVideo(nn.Module):
    """A torchvision video model without its head: ``B×3×T×H×W`` → ``B×feat_dim``."""

    def __init__(self, name: str, trace: bool = True) -> None:
        super().__init__()
        self.name = name
        self.model, self.feat_dim = _headless(name)
        if trace:
            self.feature_info = self._trace_feature_info()

    def _trace_feature_info(self) -> list[FeatureInfo]:
        """Channels and strides of :meth:`forward_features`, from a shape-only pass of a copy
        built on the meta device (no weights, no computation; torchvision's models carry no stage
        metadata of their own)."""
        rng = torch.get_rng_state()
        with torch.device("meta"):
            shadow = TorchvisionVideo(self.name, trace=False)
        torch.set_rng_state(rng)
        with torch.no_grad():
            maps = shadow.forward_features(torch.empty(_TRACE_INPUT, device="meta"))
        return [
            FeatureInfo(
                name,
                m.shape[1],
                tuple(-(-size // out) for size, out in zip(_TRACE_INPUT[2:], m.shape[2:], strict=True)),
            )
            for name, m in maps.items()
        ]

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
