"""A dataset of videos (files or frame folders) that yields the views a method asks for.

Items are ``{"views": {name: 3×T×H×W}, "label": int, "index": int, "skipped": int}``; ``index`` is
the video's row (memory-bank methods key on it) and ``skipped`` counts unreadable videos passed
over to produce the item. Random choices come from a generator seeded with (seed, epoch, index),
so an item is the same in every run, with any number of workers, and after a resume.
"""
from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import torch
from torch.utils.data import Dataset

from vidssl.errors import ConfigError, DataError
from vidssl_datasets.video_reader import count_frames, read_frames, read_video
from vidssl_datasets.view import frame_indices, make_view_specs, render_view

#: label-changing transforms a dataset can declare: transform → {class index → class index}
LabelSwaps = dict[str, dict[int, int]]


@dataclass(frozen=True)
class VideoRecord:
    """One annotated video: a file or frame folder, its class (-1 if unlabelled), its length in
    frames if the annotation gives it, and where the record came from (for messages)."""

    path: str
    label: int
    n_frames: int | None = None
    origin: str = ""


class VideoDataset(Dataset):
    """Videos plus the views to cut from each; unreadable videos are skipped (and counted) or,
    with ``on_error="raise"``, stop the run."""

    def __init__(self, records: Sequence[VideoRecord], classes: Sequence[str], views: dict[str, dict],
                 view: dict | None = None, source: Literal["video", "frames"] = "video",
                 backend: Literal["opencv", "pyav"] = "opencv", frame_pattern: str = "image_{:05d}.jpg",
                 first_frame: int = 1, seed: int = 0, on_error: Literal["skip", "raise"] = "skip",
                 label_swaps: LabelSwaps | None = None, name: str = "dataset") -> None:
        if not records:
            raise DataError(f"{name}: no videos found")
        self.records, self.classes = list(records), list(classes)
        self.specs = make_view_specs(view or {}, views, name)
        self.source, self.backend, self.seed, self.on_error = source, backend, seed, on_error
        self.frame_pattern, self.first_frame, self.name = frame_pattern, first_frame, name
        self.epoch = 0
        self._check_label_preserving(label_swaps or {})

    def _check_label_preserving(self, swaps: LabelSwaps) -> None:
        for view_name, spec in self.specs.items():
            for transform, used in (("hflip", spec.flip), ("reverse", spec.reverse)):
                changed = {a: b for a, b in swaps.get(transform, {}).items() if a != b}
                if used and changed:
                    pairs = ", ".join(f"{self.classes[a]}→{self.classes[b]}"
                                      for a, b in sorted(changed.items())[:4])
                    raise ConfigError(
                        f"{self.name}.views.{view_name}: '{transform}' changes the class on this "
                        f"dataset ({pairs}, ...), so it cannot be a label-preserving augmentation; "
                        f"set {'flip' if transform == 'hflip' else 'reverse'}=0")

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.records)

    def __getitem__(self, index: int) -> dict:
        rng = np.random.default_rng([self.seed, self.epoch, index])
        for attempt in range(len(self.records)):
            row = (index + attempt) % len(self.records)
            try:
                item = self.load(row, rng)
            except DataError as exc:
                if self.on_error == "raise":
                    raise
                print(f"vidssl: skipping unreadable video: {exc}", file=sys.stderr)
                continue
            return {**item, "skipped": attempt}
        raise DataError(f"{self.name}: none of its {len(self.records)} videos could be read")

    def load(self, row: int, rng: np.random.Generator) -> dict:
        """Views, label and index of video ``row``."""
        record = self.records[row]
        n, get = self._frame_source(record)
        indices = frame_indices(self.specs, n, rng)
        views = {}
        for name, spec in self.specs.items():
            clips = [render_view(get(ids), spec, rng) for ids in indices[name]]
            views[name] = clips[0] if len(clips) == 1 else torch.stack(clips)
        return {"views": views, "label": record.label, "index": row}

    def frames(self, row: int) -> np.ndarray:
        """Every frame of video ``row`` → ``T×H×W×3`` uint8 RGB (no view, no augmentation);
        raises :class:`DataError` naming the video if it cannot be read."""
        n, get = self._frame_source(self.records[row])
        return get(list(range(n)))

    def _frame_source(self, record: VideoRecord) -> tuple[int, Callable[[list[int]], np.ndarray]]:
        where = f" ({record.origin})" if record.origin else ""
        if self.source == "video":
            try:
                frames = read_video(record.path, self.backend)
            except DataError as exc:
                raise DataError(f"{exc}{where}") from None
            return len(frames), lambda ids: frames[ids]
        folder = Path(record.path)
        n = record.n_frames or count_frames(folder, self.frame_pattern, self.first_frame)
        if n <= 0:
            raise DataError(f"frame folder {folder} has no frames{where}")
        return n, lambda ids: read_frames(folder, ids, self.frame_pattern, self.first_frame)
