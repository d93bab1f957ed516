"""Model folders: a trained backbone for exchange, as Hugging Face-style folders hold models.

``vidssl-export`` writes ``model.safetensors`` (the backbone in a registered weight format's
layout; with a head, the stage's classifier too), ``config.json`` (that format, the backbone's
type and arguments, its feature size, the input it reads: frames, clip length, stride, size,
normalisation) and ``README.md`` (a model card from the run's protocol cards). Such a folder is a
source wherever weights are read: a stage's ``init_from``, ``vidssl-eval SOURCE`` and
:func:`load_backbone`.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import save_file
from torch import nn

from vidssl._common import checkpoint
from vidssl._common.errors import ConfigError
from vidssl._common.files import write_json
from vidssl._engine.model_card import model_card
from vidssl._engine.stage import stage_file
from vidssl._engine.weights import HEAD, VIDSSL, export_weights, folder_config, load_weights
from vidssl._plugin_system.contracts import NUM_CLASSES
from vidssl._plugin_system.manager import get_plugins

CARD = "README.md"


def load_backbone(folder: str | Path) -> nn.Module:
    """The backbone of model folder ``folder``, built from its config.json, its weights loaded
    strictly, in eval mode: ``B×3×T×H×W`` clips → ``B×feat_dim`` features."""

    cfg = folder_config(folder)
    backbone = get_plugins().registry.build("backbone", dict(cfg["backbone"]), ["backbone"])
    load_weights(backbone, folder, cfg.get("format", VIDSSL))
    return backbone.eval()


def trained_stage(work_dir: Path, name: str | None = None, classifier: bool = False) -> dict:
    """The config of the stage of run ``work_dir`` whose weights leave it: ``name``, else its
    last finished self-supervised training stage (else its last training stage); with
    ``classifier``, else its last finished stage with a classifier (a probe, a supervised run)."""
    saved = work_dir / "config.json"
    if not saved.is_file():
        raise ConfigError(f"{work_dir} is not a vidssl work dir (no config.json)")
    stages = [
        s for s in json.loads(saved.read_text())["_stages"] if stage_file(work_dir, s["name"]).is_file()
    ]
    if name:
        chosen = [s for s in stages if s["name"] == name]
        what = f"no finished stage '{name}'"
    elif classifier:
        chosen = [s for s in stages if NUM_CLASSES in (s.get("method") or {})]
        what = "no finished stage with a classifier"
    else:
        trained = [s for s in stages if s["type"] == "train"]
        chosen = [s for s in trained if NUM_CLASSES not in (s.get("method") or {})] or trained
        what = "no finished training stage"
    if not chosen:
        raise ConfigError(
            f"{work_dir} has {what} (finished stages: {', '.join(s['name'] for s in stages) or 'none'})"
        )
    return chosen[-1]


def export_model_folder(
    work_dir: Path, out: Path, stage: str | None = None, head: bool = False, fmt: str = VIDSSL
) -> Path:
    """Write the model folder of run ``work_dir``'s stage ``stage`` (see
    :func:`trained_stage`) into ``out``, its weights in layout ``fmt`` and with ``head`` its
    classifier; return the weights file."""

    cfg = json.loads((work_dir / "config.json").read_text())
    chosen = trained_stage(work_dir, stage, classifier=head)
    source = stage_file(work_dir, chosen["name"])
    saved = checkpoint.load(source)
    backbone = get_plugins().registry.build("backbone", dict(cfg["backbone"]), ["backbone"])
    load_weights(backbone, saved, VIDSSL, where=str(source))
    tensors = export_weights(backbone, fmt)
    classifier = _classifier(saved, chosen, fmt) if head else {}
    tensors |= classifier
    out.mkdir(parents=True, exist_ok=True)
    weights = out / checkpoint.FOLDER_WEIGHTS
    write_weights(tensors, weights, fmt)
    digest = hashlib.sha256(weights.read_bytes()).hexdigest()
    cards = _read_json(work_dir / "protocols.json")
    config = {
        "format": fmt,
        "backbone": cfg["backbone"],
        "feat_dim": int(backbone.feat_dim),
        "input": (cards.get(chosen["name"]) or {}).get("input"),
        "head": {
            "method": chosen["method"]["type"],
            "num_classes": chosen["method"][NUM_CLASSES],
            "tensors": sorted(classifier),
        }
        if head
        else None,
        "stage": chosen["name"],
        "weights_sha256": digest,
    }
    write_json(out / "config.json", config)
    (out / CARD).write_text(
        model_card(work_dir.resolve().name, config, cards, _read_json(work_dir / "results.json"))
    )
    return weights


def write_weights(tensors: dict[str, torch.Tensor], path: Path, fmt: str) -> None:
    """Save ``tensors`` (layout ``fmt``, recorded in the file's metadata) as safetensors, made
    dense and row-major first: safetensors refuses others, and a backbone that trained in
    channels_last holds 5-D weights in that layout."""

    save_file(
        {k: v.detach().cpu().contiguous() for k, v in tensors.items()}, str(path), metadata={"format": fmt}
    )


def _classifier(saved: dict[str, Any], stage: dict, fmt: str) -> dict[str, torch.Tensor]:
    """The tensors of stage ``stage``'s method beyond the backbone, named for layout ``fmt``:
    ``head.<name>`` in vidssl's; a foreign layout takes a plain linear ``fc`` only."""
    head = {k: v for k, v in saved.get("method", {}).items() if not k.startswith("backbone.")}
    if not head:
        raise ConfigError(f"stage '{stage['name']}' saved no classifier to export with --head")
    if fmt == VIDSSL:
        return {HEAD + k: v for k, v in head.items()}
    if set(head) != {"fc.weight", "fc.bias"}:
        raise ConfigError(
            f"--head with --format {fmt}: the layout has a plain linear 'fc' head, "
            f"stage '{stage['name']}''s classifier holds {', '.join(sorted(head))}; "
            f"export it in vidssl's layout (--format {VIDSSL})"
        )
    return head


def _read_json(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text()) if path.is_file() else {}
