"""Atomic file writes: a crash mid-write leaves the previous file (or none), never a partial one."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO


def write_atomic(path: str | Path, write: Callable[[BinaryIO], Any]) -> None:
    """Create ``path`` (and its folders) with ``write(file)`` on a temporary file beside it, synced
    to disk and renamed into place; on any failure (disk full, read-only, interrupted) the
    temporary file is removed and the error raised."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    try:
        with open(tmp, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_json(path: str | Path, content: Any, indent: int = 2) -> None:
    """``content`` as strict JSON (no NaN), written atomically at ``path``."""
    text = json.dumps(content, indent=indent, allow_nan=False) + "\n"
    write_atomic(path, lambda f: f.write(text.encode()))
