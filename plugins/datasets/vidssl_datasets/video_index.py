"""The per-dataset video index: what a dataset needs to know of each video file without decoding
it again: status, frame count, frame rate, size and keyframe positions.

One JSON-lines file per dataset, ``<dataset root>/.vidssl-index.jsonl`` (or, when the root is
not writable, ``~/.cache/vidssl/index-<hash of the root>.jsonl``), one line per video::

    {"path": "ApplyEyeMakeup/v_ApplyEyeMakeup_g01_c01.avi", "size": 1234, "mtime": 1.7e9,
     "mtime_ns": 1700000000123456789, "ctime_ns": ..., "inode": 4711,
     "status": "ok", "n_frames": 164, "fps": 25.0, "width": 320, "height": 240,
     "time_base": [1, 25], "constant_rate": true, "keyframes": [[0, 0], [12, 12], ...]}

``status`` is ``ok``, ``missing``, ``unreadable`` or ``empty``; ``keyframes`` lists (frame index,
pts) of every keyframe in presentation order. A line is valid while the file is the one it
describes: same size, ``mtime_ns``, ``ctime_ns`` and inode (a file replaced by another of the same
size and mtime, as ``cp -p`` or ``rsync -t`` do, has a new ctime or inode); a missing video's line
while the file is still absent. A stale or absent line is made by
:func:`~vidssl_datasets.video_reader.probe` on first use and appended (later lines win);
``vidssl-prepare verify`` writes the same file. Appends hold an exclusive ``flock`` until the line
is written, and a line cut by a crash is ended before the next one is added. Where the index file
cannot be written (another user's file, a read-only root and home), entries are kept in memory and
the process says so once.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import stat as stat_mode
import sys
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Literal

import numpy as np

from vidssl import DataError
from vidssl_datasets.compact_index import (
    IDENTITY,
    STATUSES,
    Snapshot,
    open_snapshot,
    parse_lines,
)
from vidssl_datasets.video_reader import ProbeDecode, VideoInfo, probe

INDEX_NAME = ".vidssl-index.jsonl"


def index_file(root: str | Path) -> Path:
    """Where the index of the dataset under ``root`` lives."""
    root = Path(root).resolve()
    if os.access(root, os.W_OK):
        return root / INDEX_NAME
    digest = hashlib.sha1(str(root).encode()).hexdigest()[:16]
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "vidssl" / f"index-{digest}.jsonl"


#: how a dataset checks its video files (``reader.check_files``)
CheckFiles = Literal["startup", "never", "per_item"]


class VideoIndex:
    """The index of the videos under ``root`` (``root=None``: kept in memory only): the mapped
    snapshot (:mod:`~vidssl_datasets.compact_index`) of the index file, and the entries read
    from the file past it or recorded by this process."""

    def __init__(self, root: str | Path | None) -> None:
        self.root = Path(root).resolve() if root is not None else None
        self._prefixes = (
            tuple(dict.fromkeys(f"{p}{os.sep}" for p in (Path(root).absolute(), self.root)))
            if root is not None
            else ()
        )
        self.file = index_file(root) if root is not None else None
        self._entries: dict[str, dict[str, Any]] = {}
        #: the mapped snapshot of the index file (None: no file yet, or none can be written)
        self.snapshot: Snapshot | None = None
        self._offset = 0  # how much of the file the snapshot and _entries hold
        self._opened = False

    def open(self, tail_share: float = 0.0) -> None:
        """Map the index file's snapshot, building it first where it is behind the file by more
        than ``tail_share`` of it (once per process; the first process to get the lock builds,
        the others map). Entries past the snapshot are read from the file as they are needed."""
        if self._opened:
            return
        self._opened = True
        self.snapshot = open_snapshot(self.file, tail_share) if self.file is not None else None
        self._offset = self.snapshot.source_bytes if self.snapshot is not None else 0

    def _key(self, path: str | Path) -> str:
        """``path`` relative to the root (absolute outside it), from the string alone where it
        starts with the root as given or resolved."""
        text = os.fspath(path)
        for prefix in self._prefixes:  # an absolute path below the root, already normal
            if text.startswith(prefix):
                rest = text[len(prefix) :]
                if "/." not in rest and "//" not in rest and not rest.startswith("."):
                    return rest
        text = os.path.abspath(path)
        for prefix in self._prefixes:
            if text.startswith(prefix):
                return text[len(prefix) :]
        resolved = Path(path).resolve()
        if self.root is not None and resolved.is_relative_to(self.root):
            return str(resolved.relative_to(self.root))
        return str(resolved)

    def _read_new_lines(self) -> None:
        """Read what was appended to the file since the last read (by this or another process,
        e.g. another data worker)."""
        self.open()
        if self.file is None or not self.file.is_file():
            return
        with open(self.file, "rb") as f:
            f.seek(self._offset)
            data = f.read()
        self._offset += data.rfind(b"\n") + 1
        self._entries.update(parse_lines(data))

    def _entry(self, key: str) -> dict[str, Any] | None:
        if key in self._entries:
            return self._entries[key]
        if self.snapshot is not None:
            row = int(self.snapshot.rows([key])[0])
            if row >= 0:
                return self.snapshot.entry(row)
        return None

    def lookup(self, path: str | Path, decode: ProbeDecode = "last_gop") -> dict[str, Any]:
        """The valid entry of the video at ``path``, probing it (``decode``: see
        :func:`~vidssl_datasets.video_reader.probe`) and recording the result when the index has
        none or the file is not the one it describes."""
        path = Path(path)
        key = self._key(path)
        stat = file_stat(path)
        if key not in self._entries:
            self._read_new_lines()
        entry = self._entry(key)
        if entry is not None and describes(entry, identity_row(stat)):
            return entry
        entry = make_entry(key, path, stat, decode)
        self._record(entry)
        return entry

    def reprobe(self, path: str | Path) -> dict[str, Any]:
        """Probe the video at ``path`` again, decoding all of it, and record the result (after
        a read failed where its entry promised frames)."""
        entry = make_entry(self._key(path), Path(path), file_stat(Path(path)), "all")
        self._record(entry)
        return entry

    def info(self, row: int) -> VideoInfo:
        """The :class:`VideoInfo` of snapshot row ``row`` (from :meth:`check_at_startup`)."""
        return self.snapshot.info(row)

    def check_at_startup(self, paths: list[str], mode: CheckFiles) -> tuple[np.ndarray, dict[int, str]]:
        """For each of ``paths``: the snapshot row its frames are read by without touching the
        file again (``-1``: looked up, and probed if need be, when it is read), and the positions
        of the videos that cannot be used → why (``missing``, ``empty``, ``unreadable``).

        ``startup``: every file is stat-ed once (:func:`bulk_stat`); an entry is trusted where it
        describes the file, a video whose file is absent is missing, a bad entry whose file
        appeared or changed is probed again now. ``never``: no file is looked at, the entries are
        trusted. ``per_item``: as ``startup``, but every read looks the file up again."""
        self._read_new_lines()
        keys = [self._key(p) for p in paths]
        rows = self.snapshot.rows(keys) if self.snapshot is not None else np.full(len(paths), -1, np.int64)
        newer = [i for i, k in enumerate(keys) if k in self._entries] if self._entries else []
        rows[newer] = -1  # entries past the snapshot win
        status = (
            self.snapshot.status(rows.clip(0)) if self.snapshot is not None else np.zeros(len(paths), np.int8)
        )
        known = rows >= 0
        unusable = {}
        if mode == "never":
            for i in np.flatnonzero(known & (status != 0)):
                unusable[int(i)] = STATUSES[status[i]]
            return np.where(known & (status == 0), rows, -1), unusable
        current = bulk_stat(paths)
        present = current[:, 0] >= 0
        same = known & present
        if same.any():
            same[same] = (self.snapshot.identity(rows[same]) == current[same]).all(1)
        for i in np.flatnonzero(~present):
            unusable[int(i)] = "missing"
        for i in np.flatnonzero(current[:, 0] == 0):  # no probe needed to know
            unusable[int(i)] = "empty"
        for i in np.flatnonzero(same & (status != 0)):
            unusable[int(i)] = STATUSES[status[i]]
        for i in np.flatnonzero(known & present & ~same & (status != 0)):  # bad, changed since
            entry = self.lookup(paths[i])
            if entry["status"] != "ok":
                unusable[int(i)] = entry["status"]
        for i in newer:
            entry = self._entries[keys[i]]
            if entry["status"] != "ok" and describes(entry, current[i].tolist()):
                unusable[i] = entry["status"]
        trusted = same & (status == 0) & (mode == "startup")
        return np.where(trusted, rows, -1), unusable

    def _record(self, entry: dict[str, Any]) -> None:
        """Keep ``entry`` and append it to the index file (one line; other processes append
        too): written under an exclusive lock, unbuffered, after ending a line a crash cut."""
        self._entries[entry["path"]] = entry
        if self.file is None or self.file in _UNWRITABLE:
            return
        line = (json.dumps(entry) + "\n").encode()
        try:
            self.file.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.file, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                end = os.lseek(fd, 0, os.SEEK_END)
                if end and os.pread(fd, 1, end - 1) != b"\n":
                    line = b"\n" + line
                os.write(fd, line)  # unbuffered: in the file before the lock is released
                fcntl.flock(fd, fcntl.LOCK_UN)
            finally:
                os.close(fd)
        except OSError as exc:
            _UNWRITABLE.add(self.file)
            print(
                f"vidssl: warning: the video index {self.file} cannot be written "
                f"({exc.strerror or exc}); this process keeps its entries in memory (they are "
                f"probed again next time)",
                file=sys.stderr,
            )

    def build(self, paths: list[str | Path]) -> dict[str, int]:
        """Make sure every path has a valid entry; return how many have each status."""
        counts: dict[str, int] = {}
        for path in paths:
            status = self.lookup(path)["status"]
            counts[status] = counts.get(status, 0) + 1
        return counts


#: index files this process found it cannot write (said once each)
_UNWRITABLE: set[Path] = set()


def file_stat(path: str | Path) -> os.stat_result | None:
    """The stat of the regular file at ``path``, or ``None`` where there is none."""
    try:
        found = os.stat(path)
    except (FileNotFoundError, NotADirectoryError):
        return None
    return found if stat_mode.S_ISREG(found.st_mode) else None


def identity_row(stat: os.stat_result | None) -> tuple[int, int, int, int]:
    """The :data:`IDENTITY` of the file whose stat is ``stat`` (``-1`` each: no file)."""
    if stat is None:
        return -1, -1, -1, -1
    return stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns, stat.st_ino


def _identity_row(path: str) -> tuple[int, int, int, int]:
    return identity_row(file_stat(path))


def bulk_stat(paths: list[str], threads: int = 32, sample: int = 256, slow_s: float = 50e-6) -> np.ndarray:
    """``len(paths)×4`` int64: the :data:`IDENTITY` of each regular file (a row of ``-1`` where
    there is none). The first ``sample`` files are stat-ed here; where each took more than
    ``slow_s`` (a network file system answers in round trips), the rest in ``threads`` threads,
    else here too (a local disk answers in microseconds, and threads would only take turns at
    the interpreter lock)."""
    started = time.perf_counter()
    found = [_identity_row(p) for p in paths[:sample]]
    rest = paths[sample:]
    if rest and time.perf_counter() - started > slow_s * sample:
        chunks = [rest[i::threads] for i in range(threads)]
        with ThreadPoolExecutor(threads) as pool:
            done = list(pool.map(lambda chunk: [_identity_row(p) for p in chunk], chunks))
        tail: list = [None] * len(rest)
        for i, chunk in enumerate(done):
            tail[i::threads] = chunk
        found += tail
    else:
        found += [_identity_row(p) for p in rest]
    return np.array(found, np.int64).reshape(-1, 4)


def identity(stat: os.stat_result | None) -> dict[str, Any]:
    """What tells one file from another at the same path: size, mtime, ctime and inode."""
    if stat is None:
        return {"size": None, "mtime": None, "mtime_ns": None, "ctime_ns": None, "inode": None}
    return {
        "size": stat.st_size,
        "mtime": stat.st_mtime,
        "mtime_ns": stat.st_mtime_ns,
        "ctime_ns": stat.st_ctime_ns,
        "inode": stat.st_ino,
    }


def describes(entry: dict[str, Any], found: Sequence[int]) -> bool:
    """Whether ``entry`` is about the file whose :data:`IDENTITY` is ``found`` (a row of
    :func:`bulk_stat`; ``-1`` each: no file): a missing video's entry while there is none, any
    other entry while it is the same file."""
    if found[0] < 0:
        return entry["status"] == "missing"
    return entry["status"] != "missing" and [entry.get(key) for key in IDENTITY] == list(found)


def make_entry(
    key: str, path: Path, stat: os.stat_result | None, decode: ProbeDecode = "last_gop"
) -> dict[str, Any]:
    """The index line of one video: its probe (``decode``: how much of it the probe decodes,
    kept as ``probe``), or why it has none."""
    entry: dict[str, Any] = {"path": key, **identity(stat), "probe": decode}
    if stat is None:
        return {**entry, "status": "missing"}
    if stat.st_size == 0:
        return {**entry, "status": "empty"}
    try:
        info = probe(path, decode)
    except DataError as exc:
        return {**entry, "status": "unreadable", "error": str(exc)[:400]}
    except Exception as exc:  # noqa: BLE001 (any decoder failure means: unreadable)
        return {
            **entry,
            "status": "unreadable",
            "error": f"video {path} could not be decoded ({type(exc).__name__}: {exc})"[:400],
        }
    return {**entry, "status": "ok", **info.to_json()}


def entry_info(entry: dict[str, Any]) -> VideoInfo:
    """The :class:`VideoInfo` of an ``ok`` index entry."""
    return VideoInfo.from_json(entry)
