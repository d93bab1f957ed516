"""What a protocol card says of a dataset config of this plugin (hook ``vidssl_dataset_card``):
which data (the config without the paths where it lies), the input a clip gives the network, and
the clips × crops a test averages per video."""

from __future__ import annotations

from typing import Any

from vidssl_datasets.view import IMAGENET_MEAN, IMAGENET_STD

#: dataset arguments that say where the data is, not which data: left off the card
_PLACES = ("root", "annotation", "annotation_dir", "labels", "data_root")


def dataset_card(cfg: dict[str, Any]) -> dict[str, Any]:
    """``{"data", "input", "views"}`` of one dataset config."""
    view = cfg.get("view") or {}
    return {
        "data": {k: v for k, v in cfg.items() if k not in _PLACES},
        "input": input_card(view),
        "views": views_card(view),
    }


def input_card(view: dict[str, Any]) -> dict[str, Any]:
    """The input a view gives the network: RGB or residual frames, clip length, stride, size,
    and the per-channel normalisation of the [0, 1] pixels."""
    out: dict[str, Any] = {"frames": "residual" if view.get("residual") else "rgb"}
    out |= {k: view[k] for k in ("clip_len", "stride", "size", "resize") if k in view}
    return out | {"mean": list(view.get("mean", IMAGENET_MEAN)), "std": list(view.get("std", IMAGENET_STD))}


def views_card(view: dict[str, Any]) -> dict[str, Any]:
    """Clips × crops per video of a (test) view and how they are chosen."""
    clips = int(view.get("num_clips", 1))
    crops = 3 if view.get("crop") == "three" else 1
    return {
        "clips": clips,
        "crops": crops,
        "per_video": clips * crops,
        "sampler": view.get("sampler", "random"),
        "crop": view.get("crop", "center"),
    }
