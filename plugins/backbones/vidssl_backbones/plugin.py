"""Entry point of vidssl-backbones: registers every backbone builder.

Every backbone also accepts ``pretrained`` (a checkpoint path) and ``pretrained_format`` (how its
keys are laid out; see :mod:`vidssl_backbones.checkpoint_import`).
"""
from __future__ import annotations

import functools
from collections.abc import Callable

from torch import nn

from vidssl import hookimpl, schema_from_signature
from vidssl_backbones import torchvision_video
from vidssl_backbones.c3d import c3d
from vidssl_backbones.checkpoint_import import FORMATS, load_into
from vidssl_backbones.i3d import i3d
from vidssl_backbones.i3d_resnet import i3d_resnet
from vidssl_backbones.resnet3d import r2plus1d, r3d


def with_pretrained(builder: Callable[..., nn.Module]) -> tuple[Callable[..., nn.Module], dict]:
    """``builder`` plus the ``pretrained`` / ``pretrained_format`` arguments, and its schema."""

    @functools.wraps(builder)
    def build(pretrained: str | None = None, pretrained_format: str = "vidssl", **kwargs) -> nn.Module:
        model = builder(**kwargs)
        if pretrained:
            load_into(model, pretrained, pretrained_format)
        return model

    schema = schema_from_signature(builder)
    schema["properties"] |= {"pretrained": {"type": ["string", "null"]},
                             "pretrained_format": {"enum": list(FORMATS)}}
    return build, schema


@hookimpl
def vidssl_register_backbones(register):
    for name, builder in [("r3d", r3d), ("r2plus1d", r2plus1d), ("i3d", i3d),
                          ("i3d_resnet", i3d_resnet), ("c3d", c3d)]:
        register(name, *with_pretrained(builder))
    for name in torchvision_video.MODELS:
        register(f"tv_{name}", *with_pretrained(torchvision_video.builder(name)))
