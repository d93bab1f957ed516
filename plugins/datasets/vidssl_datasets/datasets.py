"""The datasets registered with vidssl: one builder per dataset name.

Every builder takes the views a method asks for (``views``, passed by the runner), the default
``view``, where the videos are (``root``) and its annotation files, and ``reader``: how to read
them (:class:`~vidssl_datasets.video_source.ReaderSpec`: video files or frame folders, decoder
backend, frame-file naming, skip or raise on an unreadable video), and ``repeat``: augmented
clips per item for a training dataset (see :class:`~vidssl_datasets.video_dataset.VideoDataset`).
A missing root or annotation file stops the run with the command that prepares it.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

import vidssl
from vidssl import DatasetNotFound
from vidssl_datasets import annotations as ann
from vidssl_datasets import synthetic_motion as sm
from vidssl_datasets.video_dataset import VideoDataset
from vidssl_datasets.video_index import VideoIndex
from vidssl_datasets.video_source import FrameGetter, ReaderSpec, VideoRecord


def _require(path: Path, dataset: str, what: str) -> Path:
    if not path.exists():
        raise DatasetNotFound(
            f"{dataset}: {what} {path} does not exist. Download the official release, then "
            f"extract frames with 'vidssl-prepare frames --videos <videos> --out <frames>' (or "
            f"point root at the videos with source='video'); see docs/data.md, section Running on your data"
        )
    return path


def _reader(reader: dict | None, **defaults) -> ReaderSpec:
    """The dataset's ``reader`` settings over its defaults."""
    return ReaderSpec(**{**defaults, **(reader or {})})


def ucf101(
    views: dict[str, dict],
    root: str,
    annotation_dir: str,
    split: Literal[1, 2, 3] = 1,
    subset: Literal["train", "test"] = "train",
    view: dict | None = None,
    reader: dict | None = None,
    seed: int = 0,
    repeat: int = 1,
) -> VideoDataset:
    """UCF101 from the official ``ucfTrainTestlist`` files; videos ``<root>/<class>/v_*.avi``
    (or frame folders ``<root>/<class>/v_*/`` with ``reader=dict(source="frames")``)."""
    spec = _reader(reader)
    ann_dir = _require(Path(annotation_dir), "ucf101", "annotation folder")
    root_path = _require(Path(root), "ucf101", "dataset root")
    classes = ann.read_class_index(ann_dir / "classInd.txt")
    records = ann.read_ucf101_list(
        ann_dir / f"{subset}list0{split}.txt", classes, root_path, strip_extension=spec.source == "frames"
    )
    return VideoDataset(
        records,
        classes,
        views,
        view,
        spec,
        seed,
        name=f"ucf101[{subset}{split}]",
        index=VideoIndex(root_path),
        repeat=repeat,
    )


def hmdb51(
    views: dict[str, dict],
    root: str,
    annotation_dir: str,
    split: Literal[1, 2, 3] = 1,
    subset: Literal["train", "test"] = "train",
    view: dict | None = None,
    reader: dict | None = None,
    seed: int = 0,
    repeat: int = 1,
) -> VideoDataset:
    """HMDB51 from the official ``<class>_test_split<N>.txt`` files; videos
    ``<root>/<class>/<name>.avi`` (or frame folders)."""
    spec = _reader(reader)
    ann_dir = _require(Path(annotation_dir), "hmdb51", "annotation folder")
    root_path = _require(Path(root), "hmdb51", "dataset root")
    records, classes = ann.read_hmdb51(
        ann_dir, split, subset, root_path, strip_extension=spec.source == "frames"
    )
    return VideoDataset(
        records,
        classes,
        views,
        view,
        spec,
        seed,
        name=f"hmdb51[{subset}{split}]",
        index=VideoIndex(root_path),
        repeat=repeat,
    )


def kinetics400(
    views: dict[str, dict],
    root: str,
    annotation: str,
    train_annotation: str | None = None,
    view: dict | None = None,
    reader: dict | None = None,
    seed: int = 0,
    repeat: int = 1,
) -> VideoDataset:
    """Kinetics-400 from the official CSV (``annotation``); videos
    ``<root>/<label>/<ytid>_<start:06d>_<end:06d>.mp4``. For the validation split pass the
    training CSV as ``train_annotation`` so class indices agree."""
    spec = _reader(reader)
    root_path = _require(Path(root), "kinetics400", "dataset root")
    classes = None
    if train_annotation:
        _, classes = ann.read_kinetics(Path(train_annotation), root_path)
    records, classes = ann.read_kinetics(
        _require(Path(annotation), "kinetics400", "annotation"),
        root_path,
        classes,
        "" if spec.source == "frames" else ".mp4",
    )
    return VideoDataset(
        records,
        classes,
        views,
        view,
        spec,
        seed,
        name="kinetics400",
        index=VideoIndex(root_path),
        repeat=repeat,
    )


def something_v1(
    views: dict[str, dict],
    root: str,
    labels: str,
    annotation: str,
    view: dict | None = None,
    reader: dict | None = None,
    seed: int = 0,
    repeat: int = 1,
) -> VideoDataset:
    """Something-Something V1 (frame folders ``<root>/<id>/00001.jpg``; ``;``-separated CSVs)."""
    spec = _reader(reader, source="frames", frame_pattern="{:05d}.jpg")
    records, classes = ann.read_something_v1(
        _require(Path(labels), "something_v1", "labels file"),
        _require(Path(annotation), "something_v1", "annotation"),
        _require(Path(root), "something_v1", "frame root"),
    )
    return VideoDataset(records, classes, views, view, spec, seed, name="something_v1", repeat=repeat)


def video_list(
    views: dict[str, dict],
    root: str,
    annotation: str,
    subset: Literal["training", "validation", "testing"] = "training",
    classes: list[str] | None = None,
    view: dict | None = None,
    reader: dict | None = None,
    seed: int = 0,
    repeat: int = 1,
) -> VideoDataset:
    """Any seed list: 3D-ResNets JSON (``subset`` picks its entries), VTDL ``path n_frames
    label`` lists, MLFO ``path,n_frames[,label]`` CSVs; frame folders unless
    ``reader=dict(source="video")``."""
    root_path = _require(Path(root), "video_list", "dataset root")
    records, names = ann.read_video_list(
        _require(Path(annotation), "video_list", "annotation"), root_path, subset, classes
    )
    return VideoDataset(
        records,
        names,
        views,
        view,
        _reader(reader, source="frames"),
        seed,
        name=f"video_list[{Path(annotation).name}]",
        index=VideoIndex(root_path),
        repeat=repeat,
    )


def video_files(
    views: dict[str, dict],
    paths: list[str],
    root: str = "",
    view: dict | None = None,
    reader: dict | None = None,
    seed: int = 0,
    repeat: int = 1,
) -> VideoDataset:
    """Unlabelled videos given as a list of ``paths`` (relative to ``root``): what tools read
    frames through (``vidssl-cam``, ``vidssl-idt extract``); whole videos streamed frame by frame
    with ``frames(row)``, clips with views. A missing file is reported when it is read."""
    if not paths:
        raise DatasetNotFound("video_files: the list of paths is empty")
    records = [VideoRecord(str(Path(root) / p), -1, origin=f"paths[{i}]") for i, p in enumerate(paths)]
    return VideoDataset(records, [], views, view, _reader(reader), seed, name="video_files", repeat=repeat)


class UnlabeledSyntheticMotion(VideoDataset):
    """``synthetic_motion``'s unlabeled split: ``size`` videos rendered in memory, new ones every
    epoch (the label is kept for diagnostics; SSL methods do not read it)."""

    def __init__(
        self,
        cfg: sm.SyntheticMotionConfig,
        size: int,
        views: dict[str, dict],
        view: dict | None,
        seed: int,
        repeat: int = 1,
    ) -> None:
        records = [VideoRecord(f"unlabeled/{i}", i % len(sm.CLASSES)) for i in range(size)]
        super().__init__(
            records,
            sm.CLASSES,
            views,
            view,
            seed=seed,
            label_swaps=sm.LABEL_SWAPS,
            name="synthetic_motion[unlabeled]",
            repeat=repeat,
        )
        self.cfg, self.families = cfg, sm.split_families("train")

    def _frame_source(self, record: VideoRecord, row: int) -> tuple[int, FrameGetter]:
        k = int(record.path.rsplit("/", 1)[1]) // len(sm.CLASSES)
        video = sm.render_video(
            record.label,
            sm.video_seed(self.cfg, "unlabeled", record.label, k, self.epoch),
            self.cfg,
            *self.families,
        )
        return len(video), lambda ids: video[ids]


def synthetic_motion(
    views: dict[str, dict],
    split: Literal["train", "test", "unlabeled"] = "train",
    root: str | None = None,
    view: dict | None = None,
    unlabeled_size: int = 2000,
    seed: int = 0,
    size: int = 32,
    frames: int = 24,
    train_per_class: int = 200,
    test_per_class: int = 60,
    reader: dict | None = None,
    repeat: int = 1,
) -> VideoDataset:
    """The embedded motion dataset (see :mod:`vidssl_datasets.synthetic_motion`); generated on
    first use (by rank 0 under torch.distributed) under ``<root>/<key of its parameters>/``;
    ``root`` defaults to ``$VIDSSL_DATA_ROOT/synthetic_motion`` (``data/synthetic_motion``)."""
    root = root or str(Path(os.environ.get("VIDSSL_DATA_ROOT") or "data") / "synthetic_motion")
    cfg = sm.SyntheticMotionConfig(
        size=size, frames=frames, train_per_class=train_per_class, test_per_class=test_per_class
    )
    if split == "unlabeled":
        return UnlabeledSyntheticMotion(cfg, unlabeled_size, views, view, seed, repeat)
    if vidssl.distributed.is_main():
        sm.generate(root, cfg)
    vidssl.distributed.barrier()
    root_path = Path(root) / sm.data_key(cfg)
    classes = ann.read_class_index(root_path / "classInd.txt")
    list_file = "trainlist01.txt" if split == "train" else "testlist01.txt"
    records = [
        r._replace(n_frames=frames)
        for r in ann.read_ucf101_list(  # generated, so their length is known
            root_path / list_file, classes, root_path / "videos"
        )
    ]
    return VideoDataset(
        records,
        classes,
        views,
        view,
        _reader(reader),
        seed,
        label_swaps=sm.LABEL_SWAPS,
        name=f"synthetic_motion[{split}]",
        index=VideoIndex(root_path / "videos"),
        repeat=repeat,
    )
