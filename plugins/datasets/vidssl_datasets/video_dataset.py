"""A dataset of videos (files or frame folders) that yields the views a method asks for; it
implements :class:`vidssl.ClipDataset`.

Items are ``{"views": {name: 3×T×H×W}, "label": int, "index": int, "skipped": int}``; ``index`` is
the video's row (memory-bank methods key on it) and ``skipped`` counts unreadable videos passed
over to produce the item. Random choices come from a generator seeded with (seed, epoch, index),
so an item is the same in every run, with any number of workers, and after a resume. The epoch
lives in shared memory, so persistent data workers see :meth:`set_epoch` too.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING

import numpy as np

import vidssl
from vidssl import ConfigError, DataError, DatasetNotFound, RunError
from vidssl_datasets.video_index import VideoIndex
from vidssl_datasets.video_source import (
    FrameGetter,
    ReaderSpec,
    RecordTable,
    VideoRecord,
    open_video,
    stream_video,
)
from vidssl_datasets.view import frame_indices, make_view_specs

if TYPE_CHECKING:
    import torch

#: label-changing transforms a dataset can declare: transform → {class index → class index}
LabelSwaps = dict[str, dict[int, int]]


_warned: set[str] = set()


def _shared_epoch() -> torch.Tensor:
    """A 0-d int64 tensor in shared memory: data workers, persistent ones too, read the epoch that
    :meth:`VideoDataset.set_epoch` writes."""
    import torch  # noqa: PLC0415 -- lazy: a dataset without views runs without torch

    return torch.zeros((), dtype=torch.long).share_memory_()


def _warn_once(message: str) -> None:
    """Print a start-up warning once per process (a run builds a dataset more than once)."""
    if message not in _warned:
        _warned.add(message)
        print(f"vidssl: warning: {message}", file=sys.stderr)


class VideoDataset:
    """Videos plus the views to cut from each; unreadable videos are skipped (and counted) or,
    with ``reader.on_error="raise"``, stop the run. Views may name registered clip transforms and
    samplers (components of kind ``transform``), built here once. ``index`` is the video index of
    the dataset's root (in memory only if not given). With ``repeat=N`` (a training dataset:
    VideoMAE's repeated augmentation) an item holds N independently augmented clips of each view,
    cut from the one decoded span (``N×C×T×H×W``; the first is the item ``repeat=1`` gives), and
    the training loader flattens them (``clips_per_item``)."""

    def __init__(
        self,
        records: Sequence[VideoRecord],
        classes: Sequence[str],
        views: dict[str, dict],
        view: dict | None = None,
        reader: ReaderSpec = ReaderSpec(),
        seed: int = 0,
        label_swaps: LabelSwaps | None = None,
        name: str = "dataset",
        index: VideoIndex | None = None,
        repeat: int = 1,
    ) -> None:
        if not records:
            raise DataError(f"{name}: no videos found")
        if repeat < 1:
            raise ConfigError(f"{name}: repeat must be at least 1, got {repeat}")
        #: clips of each view per item (``repeat``)
        self.clips_per_item = repeat
        self.classes = list(classes)
        self.specs = make_view_specs(view or {}, views, name)
        self.reader, self.seed, self.name = reader, seed, name
        self.index = index or VideoIndex(None)
        #: videos left out at start-up: (path, why)
        self.unusable: list[tuple[str, str]] = []
        #: each row's snapshot row in the index (-1: looked up when read)
        self._rows = np.full(len(records), -1, np.int64)
        if reader.source == "video" and self.index.file is not None:
            records = self._check_files(records)
        self.table = RecordTable(records)
        self.transforms = {
            view_name: [vidssl.build("transform", t) for t in spec.transforms]
            for view_name, spec in self.specs.items()
        }
        self.samplers = {
            view_name: vidssl.build("transform", spec.sampler)
            for view_name, spec in self.specs.items()
            if isinstance(spec.sampler, dict)
        }
        # without views the dataset only streams frames (``frames(row)``) and needs no torch
        self._epoch = _shared_epoch() if self.specs else None
        self._reported: set[int] = set()
        self._bad: set[int] = set()  # rows that failed while read, or were excluded
        self._excluded: set[int] = set()  # rows left out by exclude()
        self._reprobed: set[int] = set()
        self.label_swaps = dict(label_swaps or {})  # transform → {class → class it becomes}
        self._check_label_preserving(self.label_swaps)
        if self.specs and vidssl.distributed.is_main():
            self._warn_short_videos()

    def _check_label_preserving(self, swaps: LabelSwaps) -> None:
        for view_name, spec in self.specs.items():
            for transform, used in (("hflip", spec.flip), ("reverse", spec.reverse)):
                changed = {a: b for a, b in swaps.get(transform, {}).items() if a != b}
                if used and changed:
                    pairs = ", ".join(
                        f"{self.classes[a]}→{self.classes[b]}" for a, b in sorted(changed.items())[:4]
                    )
                    raise ConfigError(
                        f"{self.name}.views.{view_name}: '{transform}' changes the class on this "
                        f"dataset ({pairs}, ...), so it cannot be a label-preserving augmentation; "
                        f"set {'flip' if transform == 'hflip' else 'reverse'}=0"
                    )

    def known_frame_counts(self) -> np.ndarray:
        """Each row's length in frames where it is known without reading the video (from its
        record, or from the index entry checked at start-up), else -1."""
        counts = self.table.n_frames.copy()
        snapshot = self.index.snapshot
        indexed = (counts < 0) & (self._rows >= 0)
        if snapshot is not None and indexed.any():
            counts[indexed] = snapshot.arrays["n_frames"][self._rows[indexed]]
        return counts

    def _warn_short_videos(self) -> None:
        """Warn, with counts, about videos shorter than a view's span (their clips loop, as the
        seeds' loaders do) and videos too short for a view's ``min_gap`` (its clips may overlap
        the other view's), among those whose length is known at start-up."""
        counts = self.known_frame_counts()
        known, total = counts >= 0, int((counts >= 0).sum())
        lengths: dict[int, list[str]] = {}
        for name, spec in self.specs.items():
            length = 2 * spec.clip_len if spec.part else spec.span
            lengths.setdefault(length, []).append(name)
            if spec.different_time_from:
                tight = int((known & (counts < length + spec.min_gap)).sum())
                if tight:
                    _warn_once(
                        f"{self.name}: {tight} of {total} videos are too short for view "
                        f"'{name}' to start min_gap={spec.min_gap} frames from view "
                        f"'{spec.different_time_from}' (that needs "
                        f"{length + spec.min_gap} frames); there the two clips may overlap"
                    )
        for length, names in lengths.items():
            short = int((known & (counts < length)).sum())
            if short:
                _warn_once(
                    f"{self.name}: {short} of {total} videos are shorter than the "
                    f"{length} frames of view{'s' * (len(names) > 1)} {', '.join(names)}; "
                    f"their clips loop back to the start (as the seeds' loaders do)"
                )

    def _check_files(self, records: Sequence[VideoRecord]) -> Sequence[VideoRecord]:
        """The records less the videos that are missing or known unusable
        (``reader.check_files``); stop where more than ``reader.max_missing`` of them are."""
        paths = [r.path for r in records]
        rows, unusable = self.index.check_at_startup(paths, self.reader.check_files)
        if not unusable:
            self._rows = rows
            return records
        share = len(unusable) / len(paths)
        counts = {why: list(unusable.values()).count(why) for why in sorted(set(unusable.values()))}
        summary = ", ".join(f"{n} {why}" for why, n in counts.items())
        if share > self.reader.max_missing:
            first = sorted(unusable)[:3]
            raise DatasetNotFound(
                f"{self.name}: {len(unusable)} of its {len(paths)} videos ({100 * share:.1f} %: "
                f"{summary}) cannot be used, more than reader.max_missing="
                f"{self.reader.max_missing:g}; is the dataset root right? The first: "
                f"{', '.join(paths[i] for i in first)}"
            )
        keep = np.ones(len(paths), bool)
        keep[list(unusable)] = False
        self.unusable = [(paths[i], why) for i, why in sorted(unusable.items())]
        self._rows = rows[keep]
        if vidssl.distributed.is_main():
            print(
                f"vidssl: {self.name}: {len(unusable)} of {len(paths)} videos left out "
                f"({summary}; the first: {self.unusable[0][0]})",
                file=sys.stderr,
            )
        return [record for record, kept in zip(records, keep.tolist(), strict=True) if kept]

    @property
    def epoch(self) -> int:
        return 0 if self._epoch is None else int(self._epoch)

    def set_epoch(self, epoch: int) -> None:
        if self._epoch is not None:  # a dataset without views draws no clips: the epoch is moot
            self._epoch.fill_(epoch)

    def __len__(self) -> int:
        return len(self.table)

    def video_name(self, row: int) -> str:
        return self.table.path(row)

    def label(self, row: int) -> int:
        return int(self.table.labels[row])

    def exclude(self, rows: Sequence[int]) -> None:
        """Leave ``rows`` out from now on (the contract's ``exclude``): read as unreadable."""
        self._bad.update(int(r) for r in rows)
        self._excluded.update(int(r) for r in rows)
        self._check_skipped()

    def __getitem__(self, index: int) -> dict:
        rng = np.random.default_rng([self.seed, self.epoch, index])
        for attempt in range(len(self)):
            row = (index + attempt) % len(self)
            if row in self._excluded:
                continue
            try:
                item = self.load(row, rng)
            except DataError as exc:
                self._reprobe(row)
                if self.reader.on_error == "raise":
                    raise
                if row not in self._reported:  # one line per file (per process)
                    self._reported.add(row)
                    print(f"vidssl: skipping unreadable video: {exc}", file=sys.stderr)
                self._bad.add(row)
                self._check_skipped()
                continue
            return {**item, "skipped": attempt}
        raise DataError(f"{self.name}: none of its {len(self)} videos could be read")

    def _reprobe(self, row: int) -> None:
        """After a failed read of a video file, probe it again decoding all of it and update the
        index (once per video and process): a frame count that a fast probe got wrong is not
        read again, in this run or the next."""
        if self.reader.source != "video" or row in self._reprobed or self.index.file is None:
            return
        self._reprobed.add(row)
        self.index.reprobe(self.table.path(row))
        self._rows[row] = -1

    def _check_skipped(self) -> None:
        share = len(self._bad) / len(self)
        if share > self.reader.max_skipped:
            raise RunError(
                f"{self.name}: {len(self._bad)} of its {len(self)} videos ({100 * share:.1f} "
                f"%) failed while read, more than reader.max_skipped="
                f"{self.reader.max_skipped:g}; stopped rather than train on their neighbours "
                f"('vidssl-prepare verify' lists them; raise max_skipped to accept them)"
            )

    def load(self, row: int, rng: np.random.Generator) -> dict:
        """Views, label and index of video ``row``: the frames of every clip of every view are
        read in one call (the reader decodes their union once, seeking over gaps that span a
        keyframe), then each clip is cut from them."""
        from vidssl_datasets.view_render import render_views  # noqa: PLC0415 -- lazy: torch

        record = self.table.record(row)
        n, get = self._frame_source(record, row)
        indices = frame_indices(self.specs, n, rng, self.samplers)
        self._check_indices(record, n, indices)
        union = sorted({i for clips in indices.values() for ids in clips for i in ids})
        frames, position = get(union), {index: k for k, index in enumerate(union)}
        views = render_views(frames, position, indices, self.specs, self.transforms, rng, self.clips_per_item)
        return {"views": views, "label": record.label, "index": row}

    def _check_indices(self, record: VideoRecord, n: int, indices: dict[str, list[list[int]]]) -> None:
        """A view's sampler must give each clip at least one frame index, each in ``0..n-1``;
        anything else is a sampler's bug, not an unreadable video: :class:`RunError` naming the
        view and the sampler (nothing is skipped)."""
        for name, clips in indices.items():
            for ids in clips or [[]]:
                if len(ids) and 0 <= min(ids) and max(ids) < n:
                    continue
                sampler = self.specs[name].sampler
                label = sampler.get("type") if isinstance(sampler, dict) else sampler
                given = (
                    f"frame indices {min(ids)}..{max(ids)}"
                    if len(ids)
                    else "a clip without frames"
                    if clips
                    else "no clip"
                )
                raise RunError(
                    f"{self.name}.views.{name}: sampler '{label}' gave {given} for "
                    f"video {record.path}, which has {n} frames; a sampler must give "
                    f"each clip at least one index, each in 0..{n - 1} (a bug of the "
                    f"sampler, not an unreadable video: nothing was skipped)"
                )

    def frames(self, row: int) -> Iterator[np.ndarray]:
        """Every frame of video ``row`` in order, each ``H×W×3`` uint8 RGB (no view, no
        augmentation), decoded as it is consumed; raises :class:`DataError` naming the video if
        it cannot be read or is shorter than indexed."""
        return stream_video(self.table.record(row), self.reader, self.index, int(self._rows[row]))

    def _frame_source(self, record: VideoRecord, row: int) -> tuple[int, FrameGetter]:
        return open_video(record, self.reader, self.index, int(self._rows[row]))
