"""Protocol cards: what stands behind each stage's numbers (``protocols.json``).

A number in ``results.json`` cannot be reproduced without its protocol: linear probe or
fine-tune, clip- or video-level, how many clips × crops averaged how, which split, what input,
which features, how long the head was trained, from which weights. The runner writes, beside
``results.json``, ``protocols.json``: stage name → the card :func:`protocol_card` makes from the
stage's config (generic keys only), from its kind (a training stage's schedule) and from the
components themselves: a dataset's plugin describes its data, input and test views (hook
``vidssl_dataset_card``), a method or an evaluator with a ``card()`` method adds what only it
knows (the features a probe reads, how an evaluator aggregates). ``vidssl-eval`` adds the runs
behind a mean (``runs``, ``mean``, ``std``).
"""

from __future__ import annotations

import hashlib
from typing import Any

import torch
from torch import nn

from vidssl._config.loading import dataset_slots
from vidssl._plugin_system.manager import get_plugins


def backbone_sha256(backbone: nn.Module | None) -> str | None:
    """SHA-256 of the backbone's weights (every state-dict tensor, in key order): the identity of
    what a stage started from, whatever file it came in."""
    if backbone is None:
        return None
    digest = hashlib.sha256()
    for key, value in sorted(backbone.state_dict().items()):
        digest.update(key.encode())
        digest.update(value.detach().cpu().contiguous().reshape(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def _dataset_parts(cfg: dict[str, Any]) -> dict[str, Any]:
    """What the dataset's plugin says of a dataset config (``vidssl_dataset_card``); without an
    answer, the config itself."""
    return get_plugins().hook.vidssl_dataset_card(cfg=cfg) or {"data": cfg}


def protocol_card(cfg: dict[str, Any], stage: Any, start_sha256: str | None) -> dict[str, Any]:
    """The card of one built :class:`~vidssl._engine.stage.Stage` of the run whose config is
    ``cfg``; ``start_sha256`` is the :func:`backbone_sha256` of the weights it started from."""
    stage_cfg, protocol = stage.cfg, cfg.get("protocol") or {}
    card: dict[str, Any] = {"protocol": protocol.get("name"), "stage_type": stage_cfg["type"]}
    parts = {slot.role: _dataset_parts(slot.holder[slot.key]) for slot in dataset_slots(stage_cfg)}
    card["data"] = {role: part["data"] for role, part in parts.items()}
    shown = parts.get("test", parts.get("train"))
    if shown is not None and "input" in shown:
        card["input"] = shown["input"]
    if "views" in parts.get("test", {}):
        card["test_views"] = parts["test"]["views"]
    if stage.method is not None:
        card["method"] = {
            "type": (stage_cfg.get("method") or {}).get("type", "backbone features"),
            **(stage.method.card() if hasattr(stage.method, "card") else {}),
        }
    if stage.evaluator is not None:
        card["evaluator"] = {
            "type": stage_cfg["evaluator"]["type"],
            **(stage.evaluator.card() if hasattr(stage.evaluator, "card") else {}),
        }
    card |= stage.kind.card(stage_cfg)
    card["checkpoint"] = {
        "init_from": stage_cfg.get("init_from") or "the previous stage's backbone",
        "init_format": stage_cfg.get("init_format", "vidssl"),
        "backbone_sha256": start_sha256,
        "backbone": cfg.get("backbone"),
    }
    if stage_cfg.get("max_videos"):
        card["max_videos"] = stage_cfg["max_videos"]
    return card
