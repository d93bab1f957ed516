"""Where a dataset's frames come from: a :class:`ReaderSpec` (the ``reader=dict(...)`` of every
dataset config) and :func:`open_video`, which turns one annotated video into its length and a
function that reads frames by index: for a video file, only the span those frames need, with the
frame count and keyframes from the dataset's :class:`~vidssl_datasets.video_index.VideoIndex`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, NamedTuple

import numpy as np

from vidssl import DataError, schema_from_signature
from vidssl_datasets.compact_index import text_blob
from vidssl_datasets.video_index import VideoIndex, entry_info
from vidssl_datasets.video_reader import VideoInfo, count_frames, iter_video, read_clip, read_frames

FrameGetter = Callable[[list[int]], np.ndarray]


class VideoRecord(NamedTuple):
    """One annotated video: a file or frame folder, its class (-1 if unlabelled), its length in
    frames if the annotation (or the dataset's generator) gives it, and where the record came
    from (for messages)."""

    path: str
    label: int
    n_frames: int | None = None
    origin: str = ""


class RecordTable:
    """A dataset's :class:`VideoRecord` rows as flat arrays (paths and origins as byte blobs with
    offsets, labels and frame counts as ints): a forked data worker reading a row copies no
    page of them, where a list of objects is copied as its reference counts are touched."""

    def __init__(self, records: Sequence[VideoRecord]) -> None:
        self._paths, self._path_offsets = text_blob([r.path for r in records])
        self._origins, self._origin_offsets = text_blob([r.origin for r in records])
        self.labels = np.array([r.label for r in records], np.int64)
        self._n_frames = np.array([-1 if r.n_frames is None else r.n_frames for r in records], np.int64)

    def __len__(self) -> int:
        return len(self.labels)

    @property
    def n_frames(self) -> np.ndarray:
        """Each row's length in frames where its record gives one, else -1."""
        return self._n_frames

    def path(self, row: int) -> str:
        return bytes(self._paths[self._path_offsets[row] : self._path_offsets[row + 1]]).decode()

    def record(self, row: int) -> VideoRecord:
        origin = bytes(self._origins[self._origin_offsets[row] : self._origin_offsets[row + 1]])
        n = int(self._n_frames[row])
        return VideoRecord(self.path(row), int(self.labels[row]), None if n < 0 else n, origin.decode())


@dataclass(frozen=True)
class ReaderSpec:
    """How a dataset reads its videos: video files (``source="video"``, decoded with ``backend``
    using ``decode_threads`` threads per data worker) or frame folders (``source="frames"``,
    files named by ``frame_pattern`` numbered from ``first_frame``).

    Video files of an indexed dataset are checked once, when the dataset is made
    (``check_files="startup"``: one stat of every file, in parallel; ``"never"``: the index is
    trusted; ``"per_item"``: every read looks the file up again): videos missing or known
    unusable then are left out of the dataset, and more than ``max_missing`` of them (a fraction
    of the annotation) stops the run (a wrong root?). A video that fails while it is read is
    skipped and counted (``on_error="skip"``) or stops the run (``"raise"``); more than
    ``max_skipped`` of those stops the run instead of training on their neighbours."""

    source: Literal["video", "frames"] = "video"
    backend: Literal["auto", "pyav", "opencv", "torchcodec"] = "auto"
    decode_threads: int = 1
    frame_pattern: str = "image_{:05d}.jpg"
    first_frame: int = 1
    on_error: Literal["skip", "raise"] = "skip"
    max_skipped: float = 0.05
    check_files: Literal["startup", "never", "per_item"] = "startup"
    max_missing: float = 0.2


READER_SCHEMA = schema_from_signature(ReaderSpec)


#: what a dataset says of a video its index marks bad (it does not open it again)
_BAD = {
    "missing": "video not found: {path}",
    "empty": "video {path} is empty (0 bytes)",
    "unreadable": "{error}",
}


def _indexed_info(record: VideoRecord, index: VideoIndex, where: str, row: int) -> VideoInfo:
    """The index's facts about a video file (from snapshot ``row`` where the dataset checked it
    at start-up, else looked up); :class:`DataError` if the index marks it bad."""
    if row >= 0:
        return index.info(row)
    entry = index.lookup(record.path)
    if entry["status"] != "ok":
        message = _BAD[entry["status"]].format(path=record.path, error=entry.get("error"))
        raise DataError(f"{message}{where}")
    return entry_info(entry)


def open_video(
    record: VideoRecord, reader: ReaderSpec, index: VideoIndex, row: int = -1
) -> tuple[int, FrameGetter]:
    """``(n_frames, get)`` for ``record`` (``row``: its snapshot row in ``index``, ``-1`` to
    look it up): ``get(indices)`` → ``len(indices)×H×W×3`` uint8 RGB. Raises
    :class:`DataError` naming the video and its annotation line if it cannot be read (a video
    the index marks missing, empty or unreadable is not opened)."""
    where = f" ({record.origin})" if record.origin else ""
    if reader.source == "video":
        info = _indexed_info(record, index, where, row)

        def get(ids: list[int]) -> np.ndarray:
            try:
                return read_clip(record.path, ids, info, reader.backend, reader.decode_threads)
            except DataError as exc:
                raise DataError(f"{exc}{where}") from None

        return info.n_frames, get
    folder = Path(record.path)
    n = record.n_frames or count_frames(folder, reader.frame_pattern, reader.first_frame)
    if n <= 0:
        raise DataError(f"frame folder {folder} has no frames{where}")
    return n, lambda ids: read_frames(folder, ids, reader.frame_pattern, reader.first_frame)


def stream_video(
    record: VideoRecord, reader: ReaderSpec, index: VideoIndex, row: int = -1
) -> Iterator[np.ndarray]:
    """Every frame of ``record`` in order, each ``H×W×3`` uint8 RGB, decoded as the iterator is
    consumed (a video file sequentially, with PyAV unless the reader
    says ``opencv``; a frame folder one file at a time). The iterator raises
    :class:`DataError` naming the video if it cannot be read or ends before the ``n_frames``
    the index (or the folder) promised: a truncated video never passes for a short one."""
    where = f" ({record.origin})" if record.origin else ""
    if reader.source == "video":
        n = _indexed_info(record, index, where, row).n_frames
        frames = iter_video(record.path, "opencv" if reader.backend == "opencv" else "pyav")
    else:
        n, get = open_video(record, reader, index, row)
        frames = (get([i])[0] for i in range(n))
    return _checked_length(frames, n, record.path, where)


def _checked_length(frames: Iterator[np.ndarray], n: int, path: str, where: str) -> Iterator[np.ndarray]:
    count = 0
    try:
        for frame in frames:
            count += 1
            yield frame
    except DataError as exc:
        raise DataError(f"{exc}{where}") from None
    if count != n:
        raise DataError(
            f"video {path}: decoding gave {count} frames where the index counted {n} "
            f"(the file changed since it was indexed, or is damaged){where}"
        )
