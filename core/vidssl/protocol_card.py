"""Protocol cards: what stands behind each stage's numbers (``protocols.json``).

A number in ``results.json`` cannot be reproduced without its protocol: linear probe or
fine-tune, clip- or video-level, how many clips × crops averaged how, which split, what input,
which features, how long the head was trained, from which weights. The runner writes, beside
``results.json``, ``protocols.json``: stage name → the card :func:`protocol_card` makes from the
stage's config (generic keys only) and from the components themselves: a method or an evaluator
with a ``card()`` method adds what only it knows (the features a probe reads, how an evaluator
aggregates). ``vidssl-eval`` adds the runs behind a mean (``runs``, ``mean``, ``std``).
"""
from __future__ import annotations

import hashlib
from typing import Any

import torch
from torch import nn

#: dataset arguments that say where the data is, not which data: left off the card
_PLACES = ("root", "annotation", "annotation_dir", "labels", "data_root")


def backbone_sha256(backbone: nn.Module | None) -> str | None:
    """SHA-256 of the backbone's weights (every state-dict tensor, in key order): the identity of
    what a stage started from, whatever file it came in."""
    if backbone is None:
        return None
    digest = hashlib.sha256()
    for key, value in sorted(backbone.state_dict().items()):
        digest.update(key.encode())
        digest.update(value.detach().cpu().contiguous().reshape(-1).view(torch.uint8)
                      .numpy().tobytes())
    return digest.hexdigest()


def dataset_card(cfg: dict[str, Any] | None) -> dict[str, Any] | None:
    """A dataset config without its paths: its type, split/subset and view."""
    if cfg is None:
        return None
    return {k: v for k, v in cfg.items() if k not in _PLACES}


def input_card(view: dict[str, Any]) -> dict[str, Any]:
    """The input a view gives the network: RGB or residual frames, clip length, stride, size."""
    out: dict[str, Any] = {"frames": "residual" if view.get("residual") else "rgb"}
    out |= {k: view[k] for k in ("clip_len", "stride", "size", "resize") if k in view}
    return out


def views_card(view: dict[str, Any]) -> dict[str, Any]:
    """Clips × crops per video of a (test) view and how they are chosen."""
    clips = int(view.get("num_clips", 1))
    crops = 3 if view.get("crop") == "three" else 1
    return {"clips": clips, "crops": crops, "per_video": clips * crops,
            "sampler": view.get("sampler", "random"), "crop": view.get("crop", "center")}


def protocol_card(cfg: dict[str, Any], stage_cfg: dict[str, Any], method: Any, evaluator: Any,
                  start_sha256: str | None) -> dict[str, Any]:
    """The card of one stage: ``cfg`` is the run's config, ``stage_cfg`` the stage's (defaults
    filled in), ``method`` / ``evaluator`` the built components (or ``None``), ``start_sha256`` the
    :func:`backbone_sha256` of the weights the stage started from."""
    protocol = cfg.get("protocol") or {}
    train = stage_cfg.get("dataset")
    test = stage_cfg.get("val_dataset")
    card: dict[str, Any] = {"protocol": protocol.get("name"), "stage_type": stage_cfg["type"]}
    data = {"train": dataset_card(train), "test": dataset_card(test)}
    gallery = (stage_cfg.get("evaluator") or {}).get("train_dataset")
    if gallery is not None:
        data["gallery"] = dataset_card(gallery)
    card["data"] = {k: v for k, v in data.items() if v is not None}
    shown = test if test is not None else train
    if shown is not None:
        card["input"] = input_card(shown.get("view") or {})
    if test is not None:
        card["test_views"] = views_card(test.get("view") or {})
    if method is not None:
        card["method"] = {"type": (stage_cfg.get("method") or {}).get("type", "backbone features"),
                          **(method.card() if hasattr(method, "card") else {})}
    if evaluator is not None:
        card["evaluator"] = {"type": stage_cfg["evaluator"]["type"],
                             **(evaluator.card() if hasattr(evaluator, "card") else {})}
    if stage_cfg["type"] in ("train", "probe"):
        card["training"] = {"epochs": stage_cfg["epochs"], "batch_size": stage_cfg["batch_size"],
                            "accumulate": stage_cfg["accumulate"],
                            "backbone": "frozen (eval mode)" if stage_cfg["type"] == "probe"
                            else "trained",
                            "optimizer": stage_cfg.get("optimizer"),
                            "scheduler": stage_cfg.get("scheduler"),
                            "precision": stage_cfg["precision"], "max_iters": stage_cfg["max_iters"]}
    card["checkpoint"] = {"init_from": stage_cfg.get("init_from") or "the previous stage's backbone",
                          "backbone_sha256": start_sha256, "backbone": cfg.get("backbone")}
    if stage_cfg.get("max_videos"):
        card["max_videos"] = stage_cfg["max_videos"]
    return card
