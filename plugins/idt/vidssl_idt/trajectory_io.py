"""Reading and writing trajectory files: the original program's text format (one trajectory a
line, 436 tab-separated numbers; gzip-compressed when the name ends in ``.gz``) or a compact
``.npz`` (``trajectories``: float32 ``n×436``)."""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import numpy as np

from vidssl import DataError
from vidssl_idt.trajectories import N_COLUMNS


def write_trajectories(path: str | Path, rows: np.ndarray) -> None:
    """Write ``n×436`` rows to ``path`` (format by suffix), atomically: a crash never leaves a
    partial file under the final name."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    if path.suffix == ".npz":
        with open(partial, "wb") as f:
            np.savez(f, trajectories=rows.astype(np.float32))
    else:
        opener = gzip.open if path.suffix == ".gz" else open
        with opener(partial, "wt") as f:
            for row in rows:
                f.write(f"{int(row[0])}\t" + "\t".join(f"{v:.6f}" for v in row[1:]) + "\n")
    os.replace(partial, path)


def read_trajectories(path: str | Path) -> np.ndarray:
    """``n×436`` float32 rows from a file written by :func:`write_trajectories` or by the
    original program. A malformed line raises :class:`DataError` naming file and line."""
    path = Path(path)
    if path.suffix == ".npz":
        with np.load(path) as data:
            return data["trajectories"]
    opener = gzip.open if path.suffix == ".gz" else open
    rows = []
    with opener(path, "rt") as f:
        for number, line in enumerate(f, 1):
            values = line.split()
            if not values:
                continue
            if len(values) != N_COLUMNS:
                raise DataError(f"{path}:{number}: expected {N_COLUMNS} columns, got {len(values)}")
            rows.append(np.array(values, np.float32))
    return np.stack(rows) if rows else np.zeros((0, N_COLUMNS), np.float32)
