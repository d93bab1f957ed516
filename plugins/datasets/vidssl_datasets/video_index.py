"""The per-dataset video index: what a dataset needs to know of each video file without decoding
it again: status, frame count, frame rate, size and keyframe positions.

One JSON-lines file per dataset, ``<dataset root>/.vidssl-index.jsonl`` (or, when the root is
not writable, ``~/.cache/vidssl/index-<hash of the root>.jsonl``), one line per video::

    {"path": "ApplyEyeMakeup/v_ApplyEyeMakeup_g01_c01.avi", "size": 1234, "mtime": 1.7e9,
     "status": "ok", "n_frames": 164, "fps": 25.0, "width": 320, "height": 240,
     "time_base": [1, 25], "constant_rate": true, "keyframes": [[0, 0], [12, 12], ...]}

``status`` is ``ok``, ``missing``, ``unreadable`` or ``empty``; ``keyframes`` lists (frame index,
pts) of every keyframe in presentation order. A line is valid while the file's size and mtime
are unchanged; a stale or absent line is made by :func:`~vidssl_datasets.video_reader.probe` on
first use and appended (later lines win). ``vidssl-prepare verify`` writes the same file.
"""
from __future__ import annotations

import fcntl
import hashlib
import json
import os
from pathlib import Path
from typing import Any

from vidssl.errors import DataError
from vidssl_datasets.video_reader import VideoInfo, probe

INDEX_NAME = ".vidssl-index.jsonl"


def index_file(root: str | Path) -> Path:
    """Where the index of the dataset under ``root`` lives."""
    root = Path(root).resolve()
    if os.access(root, os.W_OK):
        return root / INDEX_NAME
    digest = hashlib.sha1(str(root).encode()).hexdigest()[:16]
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "vidssl" / \
        f"index-{digest}.jsonl"


class VideoIndex:
    """The index of the videos under ``root`` (``root=None``: kept in memory only)."""

    def __init__(self, root: str | Path | None) -> None:
        self.root = Path(root).resolve() if root is not None else None
        self.file = index_file(root) if root is not None else None
        self._entries: dict[str, dict[str, Any]] = {}
        self._offset = 0   # how much of the file is read into _entries

    def _key(self, path: Path) -> str:
        path = path.resolve()
        if self.root is not None and path.is_relative_to(self.root):
            return str(path.relative_to(self.root))
        return str(path)

    def _read_new_lines(self) -> None:
        """Read what was appended to the file since the last read (by this or another process,
        e.g. another data worker)."""
        if self.file is None or not self.file.is_file():
            return
        with open(self.file, "rb") as f:
            f.seek(self._offset)
            data = f.read()
        complete = data[:data.rfind(b"\n") + 1]
        self._offset += len(complete)
        for line in complete.decode().splitlines():
            try:
                entry = json.loads(line)
                self._entries[entry["path"]] = entry
            except (json.JSONDecodeError, KeyError, TypeError):
                continue  # a line cut by a crash: that video is probed again

    def lookup(self, path: str | Path) -> dict[str, Any]:
        """The valid entry of the video at ``path``, probing it (and recording the result) when
        the index has none or the file changed since."""
        path = Path(path)
        key = self._key(path)
        stat = path.stat() if path.is_file() else None
        if key not in self._entries:
            self._read_new_lines()
        entry = self._entries.get(key)
        if entry is not None and entry["status"] != "missing" and stat is not None and \
                entry["size"] == stat.st_size and entry["mtime"] == stat.st_mtime:
            return entry
        if entry is not None and entry["status"] == "missing" and stat is None:
            return entry
        entry = make_entry(key, path, stat)
        self._record(entry)
        return entry

    def known_bad(self, paths: list[str]) -> set[int]:
        """Positions in ``paths`` of the videos the index already marks missing, empty or
        unreadable (from the file as it is; nothing is probed)."""
        self._read_new_lines()
        bad = set()
        for i, path in enumerate(paths):
            entry = self._entries.get(self._key(Path(path)))
            if entry is not None and entry["status"] != "ok":
                bad.add(i)
        return bad

    def _record(self, entry: dict[str, Any]) -> None:
        self._entries[entry["path"]] = entry
        if self.file is None:
            return
        self.file.parent.mkdir(parents=True, exist_ok=True)
        with open(self.file, "a") as f:   # one line per video; other processes append too
            fcntl.flock(f, fcntl.LOCK_EX)
            f.write(json.dumps(entry) + "\n")
            fcntl.flock(f, fcntl.LOCK_UN)

    def build(self, paths: list[str | Path]) -> dict[str, int]:
        """Make sure every path has a valid entry; return how many have each status."""
        counts: dict[str, int] = {}
        for path in paths:
            status = self.lookup(path)["status"]
            counts[status] = counts.get(status, 0) + 1
        return counts


def make_entry(key: str, path: Path, stat: os.stat_result | None) -> dict[str, Any]:
    """The index line of one video: its probe, or why it has none."""
    entry: dict[str, Any] = {"path": key, "size": stat.st_size if stat else None,
                             "mtime": stat.st_mtime if stat else None}
    if stat is None:
        return {**entry, "status": "missing"}
    if stat.st_size == 0:
        return {**entry, "status": "empty"}
    try:
        info = probe(path)
    except DataError as exc:
        return {**entry, "status": "unreadable", "error": str(exc)[:400]}
    except Exception as exc:  # noqa: BLE001 (any decoder failure means: unreadable)
        return {**entry, "status": "unreadable",
                "error": f"video {path} could not be decoded ({type(exc).__name__}: {exc})"[:400]}
    return {**entry, "status": "ok", **info.to_json()}


def entry_info(entry: dict[str, Any]) -> VideoInfo:
    """The :class:`VideoInfo` of an ``ok`` index entry."""
    return VideoInfo.from_json(entry)
