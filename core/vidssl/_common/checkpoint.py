"""Checkpoint files: atomic writes, ``weights_only`` loads, and the RNG state they carry.

A checkpoint holds tensors and plain containers only (dict, list, tuple, str, int, float, bool,
None), so it always loads with ``torch.load(..., weights_only=True)``. Weights for exchange are
``.safetensors`` files, alone or in a model folder (``model.safetensors`` + ``config.json``, as
``vidssl-export`` writes), which load as their flat tensor dict; nothing else is ever unpickled.
"""

from __future__ import annotations

import io
import pickle
import random
import re
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load_file

from vidssl._common.errors import CheckpointError
from vidssl._common.files import write_atomic

#: file names a config's ``init_from`` may give instead of a stage name
SUFFIXES = (".pt", ".pth", ".pth.tar", ".safetensors")
#: the weights of a model folder (vidssl-export writes it beside config.json and README.md)
FOLDER_WEIGHTS = "model.safetensors"


def is_weights_source(text: str) -> bool:
    """Whether ``init_from`` text names weights (a checkpoint file or a model folder), not a
    stage."""
    return text.endswith(SUFFIXES) or (Path(text) / FOLDER_WEIGHTS).is_file()


def save_atomic(obj: dict[str, Any], path: str | Path) -> None:
    """Write ``obj`` to ``path`` atomically (see :func:`~vidssl._common.files.write_atomic`): a
    crash mid-write never leaves a truncated checkpoint under the final name."""
    write_atomic(path, lambda f: torch.save(obj, f))


def check_loadable(entries: dict[str, Any], owner_of: Callable[[str], str]) -> None:
    """Raise :class:`CheckpointError` naming ``owner_of(key)`` if an entry of ``entries`` (added
    to a checkpoint) would not load with ``weights_only=True``, before anything is written."""

    for key, value in entries.items():
        buffer = io.BytesIO()
        try:
            torch.save(value, buffer)
            buffer.seek(0)
            torch.load(buffer, weights_only=True)
        except (pickle.PicklingError, pickle.UnpicklingError, TypeError, AttributeError) as exc:
            found = re.search(r"GLOBAL ([\w.]+)", str(exc))
            detail = found.group(1) if found else str(exc).splitlines()[0]
            raise CheckpointError(
                f"{owner_of(key)} added the checkpoint entry '{key}', which would not load with "
                f"weights_only=True ({detail}); store tensors and plain containers only, so "
                f"every later --resume works"
            ) from None


def load(path: str | Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Load a checkpoint with ``weights_only=True``; raise :class:`CheckpointError` saying what is
    wrong with the file (missing, truncated or corrupt, or holding pickled objects). A model
    folder or ``.safetensors`` file gives its tensors by name."""
    path = Path(path)
    if path.is_dir() and (path / FOLDER_WEIGHTS).is_file():
        path = path / FOLDER_WEIGHTS
    if path.suffix == ".safetensors" and path.is_file():
        return _load_safetensors(path, map_location)
    if not path.is_file():
        raise CheckpointError(f"checkpoint not found: {path}")
    if path.stat().st_size == 0:
        raise CheckpointError(f"checkpoint {path} is empty (0 bytes)")
    try:
        obj = torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as exc:
        found = re.search(r"GLOBAL ([\w.]+)", str(exc))
        detail = f"it references {found.group(1)}" if found else str(exc).splitlines()[0]
        raise CheckpointError(
            f"checkpoint {path} contains a pickled Python object, which weights_only loading "
            f"refuses ({detail}); a checkpoint must hold only tensors and plain containers "
            f"(re-save its state_dict)"
        ) from None
    except (RuntimeError, EOFError, zipfile.BadZipFile, OSError, ValueError) as exc:
        size = path.stat().st_size
        raise CheckpointError(
            f"checkpoint {path} is truncated or corrupt ({size} bytes; "
            f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''})"
        ) from None
    if not isinstance(obj, dict):
        raise CheckpointError(f"checkpoint {path} holds a {type(obj).__name__}, expected a dict")
    return obj


def _load_safetensors(path: Path, map_location: str | torch.device) -> dict[str, torch.Tensor]:

    try:
        return load_file(path, device=str(map_location))
    except (SafetensorError, OSError, ValueError) as exc:
        raise CheckpointError(
            f"weights file {path} is truncated or corrupt ({path.stat().st_size} bytes; {exc})"
        ) from None


def backbone_state(saved: dict[str, Any], path: str | Path) -> dict[str, torch.Tensor]:
    """The backbone weights in any vidssl checkpoint ``saved`` (read from ``path``): a stage file's
    ``backbone`` entry, or the ``backbone.*`` entries of the method state in a ``last.pt`` /
    ``best.pt``. Raises :class:`CheckpointError` listing what the file holds instead."""
    if isinstance(saved.get("backbone"), dict) and saved["backbone"]:
        return saved["backbone"]
    method = saved.get("progress", {}).get("method", {}) if isinstance(saved.get("progress"), dict) else {}
    state = {k[len("backbone.") :]: v for k, v in method.items() if k.startswith("backbone.")}
    if not state:
        raise CheckpointError(
            f"{f'checkpoint {path}' if path else 'it'} has no backbone weights (entries: "
            f"{', '.join(sorted(saved)) or 'none'})"
        )
    return state


def rng_state() -> dict[str, Any]:
    """Python, numpy, torch (and CUDA) RNG states as tensors and plain containers."""
    kind, keys, pos, has_gauss, gauss = cast(tuple[str, np.ndarray, int, int, float], np.random.get_state())
    state = {
        "python": _tuples_to_lists(random.getstate()),
        "numpy": {
            "kind": kind,
            "keys": torch.from_numpy(keys.astype(np.int64)),
            "pos": int(pos),
            "has_gauss": int(has_gauss),
            "gauss": float(gauss),
        },
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    """Restore what :func:`rng_state` captured."""
    random.setstate(_lists_to_tuples(state["python"]))
    n = state["numpy"]
    np.random.set_state(
        (n["kind"], n["keys"].numpy().astype(np.uint32), n["pos"], n["has_gauss"], n["gauss"])
    )
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def _tuples_to_lists(value: Any) -> Any:
    return [_tuples_to_lists(v) for v in value] if isinstance(value, (tuple, list)) else value


def _lists_to_tuples(value: Any) -> Any:
    return tuple(_lists_to_tuples(v) for v in value) if isinstance(value, list) else value
