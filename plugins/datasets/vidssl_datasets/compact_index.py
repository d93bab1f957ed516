"""The video index as flat arrays that every process memory-maps: a snapshot of the JSON-lines
index (:mod:`~vidssl_datasets.video_index`) for datasets of hundreds of thousands of videos.

A dict of dicts per video costs kilobytes each and every forked data worker slowly copies it (reading
a Python object writes its reference count); a snapshot is a folder of ``.npy`` files opened with
``mmap_mode='r'``: one array per field, the keyframes of every video as one ``K×3`` int64 array
with per-video offsets, paths and error texts as byte blobs with offsets, and a 128-bit hash of
each path in two halves: rows are sorted by the first to find a video's row, the second confirms
it. Touching an entry reads shared pages and copies nothing.

The snapshot lives beside the index file (``<index>.d/<name>/``, the one in use named by the
``current`` link) and records how many bytes of the index file it holds. :func:`open_snapshot`
takes an exclusive lock on ``<index>.lock``, rebuilds the snapshot where the index file has grown
since, and maps it: the first process of a node (or of a shared file system) parses the JSON
lines, the others wait on the lock and map what it wrote.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from vidssl_datasets.video_reader import VideoInfo

#: the snapshot layout; a snapshot of another is rebuilt
FORMAT = 2
STATUSES = ("ok", "missing", "unreadable", "empty")
#: the ``dts`` of a keyframe that has none (a file read from its start)
NO_DTS = np.iinfo(np.int64).min
#: what tells one file from another at the same path (an entry is valid while these match)
IDENTITY = ("size", "mtime_ns", "ctime_ns", "inode")
#: per-video integer fields (``-1`` where an entry has none)
INT_FIELDS = (*IDENTITY, "n_frames", "width", "height")


def path_hashes(keys: list[str]) -> np.ndarray:
    """``len(keys)×2`` int64: the two halves of each key's 128-bit hash (the first finds a row,
    the second confirms it: two paths sharing both is not a practical possibility)."""
    digests = b"".join(hashlib.blake2b(k.encode(), digest_size=16).digest() for k in keys)
    return np.frombuffer(digests, np.int64).reshape(-1, 2)


def text_blob(texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """UTF-8 ``texts`` as one byte array and ``len + 1`` offsets (text ``i`` is
    ``blob[offsets[i]:offsets[i + 1]]``)."""
    encoded = [t.encode() for t in texts]
    offsets = np.zeros(len(encoded) + 1, np.int64)
    np.cumsum([len(e) for e in encoded], out=offsets[1:])
    return np.frombuffer(b"".join(encoded), np.uint8).copy(), offsets


def write_snapshot(entries: dict[str, dict[str, Any]], folder: Path, source_bytes: int) -> None:
    """Write the snapshot of ``entries`` (path → index entry) into ``folder``."""
    folder.mkdir(parents=True)
    unordered = list(entries)
    hashes = path_hashes(unordered)
    order = np.argsort(hashes[:, 0], kind="stable")
    keys = [unordered[i] for i in order]
    rows = [entries[k] for k in keys]
    arrays: dict[str, np.ndarray] = {
        "hash": hashes[order, 0],
        "check": hashes[order, 1],
        "status": np.array([STATUSES.index(e["status"]) for e in rows], np.int8),
        "fps": np.array([e.get("fps") or 0.0 for e in rows], np.float64),
        "time_base": np.array([e.get("time_base") or (0, 1) for e in rows], np.int64).reshape(-1, 2),
        "flags": np.array(
            [int(bool(e.get("constant_rate"))) | 2 * int(bool(e.get("reordered"))) for e in rows], np.int8
        ),
    }
    for field in INT_FIELDS:
        arrays[field] = np.array([-1 if e.get(field) is None else e[field] for e in rows], np.int64)
    codecs = sorted({e.get("codec", "") for e in rows})
    arrays["codec"] = np.array([codecs.index(e.get("codec", "")) for e in rows], np.int16)
    keyframes = [k for e in rows for k in (e.get("keyframes") or [])]
    arrays["keyframes"] = np.array(
        [[k[0], k[1], NO_DTS if len(k) < 3 or k[2] is None else k[2]] for k in keyframes], np.int64
    ).reshape(-1, 3)
    arrays["key_offsets"] = np.zeros(len(rows) + 1, np.int64)
    np.cumsum([len(e.get("keyframes") or []) for e in rows], out=arrays["key_offsets"][1:])
    arrays["paths"], arrays["path_offsets"] = text_blob(keys)
    arrays["errors"], arrays["error_offsets"] = text_blob([e.get("error", "") for e in rows])
    for name, array in arrays.items():
        np.save(folder / f"{name}.npy", array)
    (folder / "meta.json").write_text(
        json.dumps({"format": FORMAT, "source_bytes": source_bytes, "codecs": codecs, "videos": len(rows)})
    )


class Snapshot:
    """A mapped snapshot: rows by path, entries and :class:`VideoInfo` by row."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        meta = json.loads((folder / "meta.json").read_text())
        self.format = meta.get("format", 1)
        self.source_bytes, self.codecs = meta["source_bytes"], meta["codecs"]
        self.arrays = {f.stem: np.load(f, mmap_mode="r") for f in folder.glob("*.npy")}

    def __len__(self) -> int:
        return len(self.arrays["hash"])

    def _text(self, blob: str, row: int) -> str:
        start, end = self.arrays[f"{blob[:-1]}_offsets"][row : row + 2]
        return bytes(self.arrays[blob][start:end]).decode()

    def rows(self, keys: list[str]) -> np.ndarray:
        """The row of each key (``-1`` where the snapshot has none)."""
        table = self.arrays["hash"]
        if not len(table):
            return np.full(len(keys), -1, np.int64)
        hashes = path_hashes(keys)
        found = np.minimum(np.searchsorted(table, hashes[:, 0]), len(table) - 1)
        rows = np.where(table[found] == hashes[:, 0], found, -1)
        confirmed = self.arrays["check"][rows] == hashes[:, 1]
        for i in np.flatnonzero((rows >= 0) & ~confirmed):  # first halves shared: the next rows
            row = int(rows[i]) + 1
            while (
                row < len(table) and table[row] == hashes[i, 0] and self.arrays["check"][row] != hashes[i, 1]
            ):
                row += 1
            confirmed[i] = row < len(table) and table[row] == hashes[i, 0]
            rows[i] = row
        return np.where(confirmed, rows, -1).astype(np.int64)

    def identity(self, rows: np.ndarray) -> np.ndarray:
        """``len(rows)×4`` int64: size, mtime_ns, ctime_ns, inode of each row's entry."""
        return np.stack([self.arrays[f][rows] for f in IDENTITY], 1)

    def status(self, rows: np.ndarray) -> np.ndarray:
        return self.arrays["status"][rows]

    def info(self, row: int) -> VideoInfo:
        """The :class:`VideoInfo` of an ``ok`` row."""
        a = self.arrays
        start, end = a["key_offsets"][row : row + 2]
        keyframes = tuple(
            (int(i), int(p), None if d == NO_DTS else int(d)) for i, p, d in a["keyframes"][start:end]
        )
        flags = int(a["flags"][row])
        return VideoInfo(
            int(a["n_frames"][row]),
            float(a["fps"][row]),
            int(a["width"][row]),
            int(a["height"][row]),
            (int(a["time_base"][row, 0]), int(a["time_base"][row, 1])),
            bool(flags & 1),
            keyframes,
            self.codecs[int(a["codec"][row])],
            bool(flags & 2),
        )

    def entry(self, row: int) -> dict[str, Any]:
        """The index entry (as its JSON line holds it) of ``row``."""
        a = self.arrays
        status = STATUSES[int(a["status"][row])]
        entry: dict[str, Any] = {"path": self._text("paths", row), "status": status}
        for field in IDENTITY:
            value = int(a[field][row])
            entry[field] = None if value == -1 else value
        entry["mtime"] = None if entry["mtime_ns"] is None else entry["mtime_ns"] / 1e9
        if status == "ok":
            entry.update(self.info(row).to_json())
        elif status == "unreadable":
            entry["error"] = self._text("errors", row)
        return entry


def parse_lines(data: bytes) -> dict[str, dict[str, Any]]:
    """Path → entry of the complete JSON lines in ``data`` (later lines win; a line cut by a
    crash, or any other line that is not an entry, is passed over)."""
    entries = {}
    for line in data[: data.rfind(b"\n") + 1].splitlines():
        try:
            entry = json.loads(line)
            entries[entry["path"]] = entry
        except (json.JSONDecodeError, KeyError, TypeError, UnicodeDecodeError):
            continue
    return entries


def _tail_bytes(snapshot: Snapshot, index_file: Path) -> int | None:
    """How many bytes of complete lines ``index_file`` has past what ``snapshot`` holds (a line
    cut by a crash at its end does not count); ``None`` where the snapshot cannot stand for the
    file at all (another layout, or a file shorter than the snapshot's source: rewritten)."""
    if snapshot.format != FORMAT or index_file.stat().st_size < snapshot.source_bytes:
        return None
    with open(index_file, "rb") as f:
        f.seek(snapshot.source_bytes)
        return f.read().rfind(b"\n") + 1


def open_snapshot(index_file: Path, tail_share: float = 0.0) -> Snapshot | None:
    """The snapshot of ``index_file``, (re)built by whichever process gets the lock first where
    the complete lines past it are more than ``tail_share`` of what it holds (by default: any);
    the caller reads the lines past ``source_bytes`` itself. ``None`` where there is no index
    file or no snapshot can be written beside it (the caller then reads all the JSON lines)."""
    if not index_file.is_file():
        return None
    home = index_file.with_name(index_file.name + ".d")
    try:
        home.mkdir(exist_ok=True)
        lock = os.open(index_file.with_name(index_file.name + ".lock"), os.O_RDWR | os.O_CREAT, 0o644)
    except OSError:
        return None
    try:
        fcntl.flock(lock, fcntl.LOCK_EX)  # the other processes wait here, then map
        current = home / "current"
        snapshot = Snapshot(current.resolve()) if current.exists() else None
        tail = _tail_bytes(snapshot, index_file) if snapshot is not None else None
        if tail is not None and tail <= tail_share * snapshot.source_bytes:
            return snapshot
        started = time.perf_counter()
        data = index_file.read_bytes()
        data = data[: data.rfind(b"\n") + 1]
        entries = parse_lines(data)
        name = f"{len(data)}-{os.getpid()}-{time.time_ns()}"
        write_snapshot(entries, home / name, len(data))
        link = home / f".current-{name}"
        link.symlink_to(name)
        os.replace(link, current)
        for old in home.iterdir():  # processes that mapped an older one keep its pages
            if old.name not in (name, "current") and not old.name.startswith(".current-"):
                shutil.rmtree(old, ignore_errors=True)
        print(
            f"vidssl: indexed {len(entries)} videos of {index_file} as flat arrays "
            f"({time.perf_counter() - started:.1f} s)",
            file=sys.stderr,
        )
        return Snapshot(home / name)
    except OSError:
        return None
    finally:
        os.close(lock)
