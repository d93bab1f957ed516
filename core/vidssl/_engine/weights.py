"""Loading backbone weights is the core's job: a stage's ``init_from`` names a stage or a file,
``init_format`` the layout of that file's keys. ``vidssl`` (the core's own layout: a stage file's
``backbone`` entry, or the ``backbone.*`` method entries of ``last.pt``) is registered here;
foreign layouts (torchvision's, the seed repositories') are ``weight_format`` components that
plugins register (vidssl-backbones ships them), and the same components export weights back.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import torch
from torch import nn

from vidssl._common import checkpoint
from vidssl._common.errors import CheckpointError, ConfigError
from vidssl._distributed import process_group as distributed
from vidssl._plugin_system.contracts import WeightFormat, check
from vidssl._plugin_system.manager import get_plugins

#: the core's own layout, the default ``init_format``
VIDSSL = "vidssl"
#: prefix of a model folder's classifier tensors in vidssl's layout (not the backbone's)
HEAD = "head."


class VidsslLayout:
    """vidssl's own checkpoints: nothing to rename (a model folder's ``head.*`` classifier is
    left out)."""

    def to_vidssl(self, state: dict[str, Any]) -> tuple[dict[str, torch.Tensor], list[str]]:
        if all(isinstance(v, torch.Tensor) for v in state.values()):
            head = [k for k in state if k.startswith(HEAD)]
            return {k: v for k, v in state.items() if not k.startswith(HEAD)}, head
        return checkpoint.backbone_state(state, ""), []

    def from_vidssl(self, state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        return dict(state)


def weight_format(name: str, path: list | None = None) -> WeightFormat:
    """The registered weight format ``name`` (a :class:`ConfigError` lists the installed ones)."""

    fmt = get_plugins().registry.build("weight_format", {"type": name}, path or ["init_format"])
    check(fmt, WeightFormat, f"weight_format '{name}'")
    return fmt


def folder_config(folder: str | Path) -> dict[str, Any]:
    """The ``config.json`` of a model folder (``vidssl-export``'s: weights layout, backbone,
    input)."""
    path = Path(folder) / "config.json"
    if not path.is_file():
        raise CheckpointError(
            f"{folder} holds {checkpoint.FOLDER_WEIGHTS} but no config.json: "
            f"not a model folder written by vidssl-export"
        )
    return json.loads(path.read_text())


def check_folder_format(source: str | Path, fmt: str) -> None:
    """Refuse to read a model folder ``source`` as layout ``fmt`` when its config.json says it
    holds another (nothing to check for a file)."""
    if not (Path(source) / checkpoint.FOLDER_WEIGHTS).is_file():
        return
    held = folder_config(source).get("format", VIDSSL)
    if held != fmt:
        raise ConfigError(
            f"{source} holds weights in the '{held}' layout (its config.json): "
            f"read it with init_format='{held}' (vidssl-eval: --format {held})"
        )


def load_weights(
    backbone: nn.Module, source: str | Path | dict[str, Any], fmt: str = VIDSSL, where: str | None = None
) -> list[str]:
    """Load ``source`` (a checkpoint file or model folder, or a loaded checkpoint read from
    ``where``) of layout
    ``fmt`` into ``backbone``, strictly; return the source keys left out as heads or method
    modules.

    Missing, unexpected and mis-shaped keys are listed in one :class:`CheckpointError`, and then
    nothing is loaded. Prints (rank 0) how many tensors were loaded from where."""
    where = where or (str(source) if isinstance(source, (str, Path)) else "the checkpoint")
    if isinstance(source, (str, Path)):
        check_folder_format(source, fmt)
    saved = checkpoint.load(source) if isinstance(source, (str, Path)) else source
    try:
        state, ignored = weight_format(fmt).to_vidssl(saved)
    except CheckpointError as exc:
        raise CheckpointError(f"{where} (format '{fmt}'): {exc}") from None
    _check_keys(backbone.state_dict(), state, f"{where} does not match the backbone as format '{fmt}'")
    backbone.load_state_dict(state, strict=True)
    if distributed.is_main():
        left = (
            f"; left out as head/method keys: {', '.join(ignored[:6])}{' ...' if len(ignored) > 6 else ''}"
            if ignored
            else ""
        )
        print(
            f"vidssl: loaded {len(state)} backbone tensors from {where} (format '{fmt}'){left}",
            file=sys.stderr,
        )
    return ignored


def export_weights(backbone: nn.Module, fmt: str) -> dict[str, torch.Tensor]:
    """``backbone``'s state dict in the layout of weight format ``fmt``."""
    return weight_format(fmt).from_vidssl(backbone.state_dict())


def _check_keys(own: dict[str, torch.Tensor], state: dict[str, torch.Tensor], what: str) -> None:
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    shapes = sorted(
        f"{k} {tuple(state[k].shape)} vs {tuple(own[k].shape)}"
        for k in set(own) & set(state)
        if state[k].shape != own[k].shape
    )
    if missing or unexpected or shapes:
        parts = [
            f"{label} ({len(keys)}): {', '.join(keys[:8])}{' ...' if len(keys) > 8 else ''}"
            for label, keys in (("missing", missing), ("unexpected", unexpected), ("shape mismatch", shapes))
            if keys
        ]
        raise CheckpointError(f"{what}: " + "; ".join(parts))
