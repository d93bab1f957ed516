"""Reading frames from video files (OpenCV or PyAV) and from frame folders.

Container metadata is never trusted: the number of frames of a video file is counted by decoding
it (and cached per reader), since real files misreport both frame count and fps.
Frames are returned as ``T×H×W×3`` uint8 RGB arrays.
"""
from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

import cv2
import numpy as np

from vidssl.errors import DataError

Backend = Literal["opencv", "pyav"]


def read_video(path: str | Path, backend: Backend = "opencv") -> np.ndarray:
    """Decode every frame of a video file → ``T×H×W×3`` uint8 RGB. A file that does not open or
    yields no frame raises :class:`DataError` naming it."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"video not found: {path}")
    if path.stat().st_size == 0:
        raise DataError(f"video {path} is empty (0 bytes)")
    frames = _read_pyav(path) if backend == "pyav" else _read_opencv(path)
    if not frames:
        raise DataError(f"video {path} could not be decoded (no frame read; corrupt or "
                        f"truncated file?)")
    shapes = {f.shape for f in frames}
    if len(shapes) > 1:
        raise DataError(f"video {path} changes frame size mid-stream ({sorted(shapes)})")
    return np.stack(frames)


def _read_opencv(path: Path) -> list[np.ndarray]:
    cap = cv2.VideoCapture(str(path))
    frames = []
    try:
        while True:
            ok, frame = cap.read()
            if not ok:
                break
            frames.append(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB))
    finally:
        cap.release()
    return frames


def _read_pyav(path: Path) -> list[np.ndarray]:
    import av

    try:
        with av.open(str(path)) as container:
            return [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    except (av.FFmpegError, IndexError):
        return []


def read_frames(folder: str | Path, indices: Sequence[int], pattern: str = "image_{:05d}.jpg",
                first: int = 1) -> np.ndarray:
    """Read frames ``indices`` (0-based) from a frame folder named by ``pattern`` with the first
    file numbered ``first`` → ``len(indices)×H×W×3`` uint8 RGB."""
    folder = Path(folder)
    out, cache = [], {}
    for i in indices:
        if i not in cache:
            file = folder / pattern.format(i + first)
            image = cv2.imread(str(file), cv2.IMREAD_COLOR)
            if image is None:
                raise DataError(f"frame {file} is missing or unreadable")
            cache[i] = cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
        out.append(cache[i])
    return np.stack(out)


def count_frames(folder: str | Path, pattern: str = "image_{:05d}.jpg", first: int = 1) -> int:
    """Frames in a folder: the ``n_frames`` file if present, else the number of consecutive
    files from ``first``."""
    folder = Path(folder)
    n_file = folder / "n_frames"
    if n_file.is_file():
        return int(n_file.read_text().split()[0])
    names = set(os.listdir(folder)) if folder.is_dir() else set()
    n = 0
    while pattern.format(n + first) in names:
        n += 1
    return n
