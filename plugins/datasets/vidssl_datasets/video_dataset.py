"""A dataset of videos (files or frame folders) that yields the views a method asks for; it
implements :class:`vidssl.protocols.ClipDataset`.

Items are ``{"views": {name: 3×T×H×W}, "label": int, "index": int, "skipped": int}``; ``index`` is
the video's row (memory-bank methods key on it) and ``skipped`` counts unreadable videos passed
over to produce the item. Random choices come from a generator seeded with (seed, epoch, index),
so an item is the same in every run, with any number of workers, and after a resume. The epoch
lives in shared memory, so persistent data workers see :meth:`set_epoch` too.
"""
from __future__ import annotations

import sys
from collections.abc import Iterator, Sequence

import numpy as np
import torch
from torch.utils.data import Dataset

import vidssl
from vidssl.errors import ConfigError, DataError, RunError
from vidssl_datasets.video_index import VideoIndex
from vidssl_datasets.video_source import (
    FrameGetter,
    ReaderSpec,
    VideoRecord,
    open_video,
    stream_video,
)
from vidssl_datasets.view import frame_indices, make_view_specs, render_view

#: label-changing transforms a dataset can declare: transform → {class index → class index}
LabelSwaps = dict[str, dict[int, int]]


class VideoDataset(Dataset):
    """Videos plus the views to cut from each; unreadable videos are skipped (and counted) or,
    with ``reader.on_error="raise"``, stop the run. Views may name registered clip transforms and
    samplers (components of kind ``transform``), built here once. ``index`` is the video index of
    the dataset's root (in memory only if not given)."""

    def __init__(self, records: Sequence[VideoRecord], classes: Sequence[str], views: dict[str, dict],
                 view: dict | None = None, reader: ReaderSpec = ReaderSpec(), seed: int = 0,
                 label_swaps: LabelSwaps | None = None, name: str = "dataset",
                 index: VideoIndex | None = None) -> None:
        if not records:
            raise DataError(f"{name}: no videos found")
        self.records, self.classes = list(records), list(classes)
        self.specs = make_view_specs(view or {}, views, name)
        self.reader, self.seed, self.name = reader, seed, name
        self.index = index or VideoIndex(None)
        self.transforms = {view_name: [vidssl.build("transform", t) for t in spec.transforms]
                           for view_name, spec in self.specs.items()}
        self.samplers = {view_name: vidssl.build("transform", spec.sampler)
                         for view_name, spec in self.specs.items() if isinstance(spec.sampler, dict)}
        self._epoch = torch.zeros((), dtype=torch.long).share_memory_()
        self._reported: set[int] = set()
        self._bad = self.index.known_bad([r.path for r in self.records]) \
            if reader.source == "video" else set()
        self.label_swaps = dict(label_swaps or {})   # transform → {class → class it becomes}
        self._check_label_preserving(self.label_swaps)

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

    @property
    def epoch(self) -> int:
        return int(self._epoch)

    def set_epoch(self, epoch: int) -> None:
        self._epoch.fill_(epoch)

    def __len__(self) -> int:
        return len(self.records)

    def video_name(self, row: int) -> str:
        return self.records[row].path

    def label(self, row: int) -> int:
        return self.records[row].label

    def __getitem__(self, index: int) -> dict:
        rng = np.random.default_rng([self.seed, self.epoch, index])
        for attempt in range(len(self.records)):
            row = (index + attempt) % len(self.records)
            try:
                item = self.load(row, rng)
            except DataError as exc:
                if self.reader.on_error == "raise":
                    raise
                if row not in self._reported:   # one line per file (per process)
                    self._reported.add(row)
                    print(f"vidssl: skipping unreadable video: {exc}", file=sys.stderr)
                self._bad.add(row)
                self._check_skipped()
                continue
            return {**item, "skipped": attempt}
        raise DataError(f"{self.name}: none of its {len(self.records)} videos could be read")

    def _check_skipped(self) -> None:
        share = len(self._bad) / len(self.records)
        if share > self.reader.max_skipped:
            raise RunError(
                f"{self.name}: {len(self._bad)} of its {len(self.records)} videos ({100 * share:.1f} "
                f"%) are missing or unreadable, more than reader.max_skipped="
                f"{self.reader.max_skipped:g}; stopped rather than train on their neighbours "
                f"('vidssl-prepare verify' lists them; raise max_skipped to accept them)")

    def load(self, row: int, rng: np.random.Generator) -> dict:
        """Views, label and index of video ``row``."""
        record = self.records[row]
        n, get = self._frame_source(record)
        indices = frame_indices(self.specs, n, rng, self.samplers)
        views = {}
        for name, spec in self.specs.items():
            clips = [render_view(get(ids), spec, rng, self.transforms[name])
                     for ids in indices[name]]
            views[name] = clips[0] if len(clips) == 1 else torch.stack(clips)
        return {"views": views, "label": record.label, "index": row}

    def frames(self, row: int) -> Iterator[np.ndarray]:
        """Every frame of video ``row`` in order, each ``H×W×3`` uint8 RGB (no view, no
        augmentation), decoded as it is consumed; raises :class:`DataError` naming the video if
        it cannot be read or is shorter than indexed."""
        return stream_video(self.records[row], self.reader, self.index)

    def _frame_source(self, record: VideoRecord) -> tuple[int, FrameGetter]:
        return open_video(record, self.reader, self.index)
