"""Entry point of vidssl-backbones: registers every backbone builder and the weight formats of
torchvision and the seed repositories (:mod:`vidssl_backbones.weight_formats`). The builders are
imported inside the hooks: a command that builds no backbone imports no torch for them."""

from __future__ import annotations

from vidssl import hookimpl


@hookimpl
def vidssl_register_backbones(register):
    from vidssl_backbones import torchvision_video  # noqa: PLC0415 -- lazy: imports torch
    from vidssl_backbones.c3d import c3d  # noqa: PLC0415 -- lazy: imports torch
    from vidssl_backbones.i3d import i3d  # noqa: PLC0415 -- lazy: imports torch
    from vidssl_backbones.i3d_resnet import i3d_resnet  # noqa: PLC0415 -- lazy: imports torch
    from vidssl_backbones.resnet3d import r2plus1d, r3d  # noqa: PLC0415 -- lazy: imports torch

    for name, builder in [
        ("r3d", r3d),
        ("r2plus1d", r2plus1d),
        ("i3d", i3d),
        ("i3d_resnet", i3d_resnet),
        ("c3d", c3d),
    ]:
        register(name, builder)
    for name in torchvision_video.MODELS:
        register(f"tv_{name}", torchvision_video.builder(name))


@hookimpl
def vidssl_register_weight_formats(register):
    from vidssl_backbones.weight_formats import FORMATS  # noqa: PLC0415 -- lazy: imports torch

    for name, weight_format in FORMATS.items():
        register(name, _returning(weight_format))


def _returning(weight_format):
    """A builder without arguments that gives ``weight_format`` (the formats are constants)."""
    return lambda: weight_format
