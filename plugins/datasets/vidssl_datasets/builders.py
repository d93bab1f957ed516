"""Dataset builders registered with vidssl (one per dataset name)."""
from __future__ import annotations

from pathlib import Path
from typing import Literal

import numpy as np
from torch.utils.data import Dataset
from collections.abc import Callable

from vidssl import distributed
from vidssl.errors import DataError
from vidssl_datasets import synthetic_motion as sm
from vidssl_datasets.annotations import read_class_index, read_ucf101_list
from vidssl_datasets.video_dataset import VideoDataset, VideoRecord


class UnlabeledSyntheticMotion(VideoDataset):
    """``synthetic_motion``'s unlabeled split: ``size`` videos rendered in memory, new ones every
    epoch (the label is kept for diagnostics; SSL methods do not read it)."""

    def __init__(self, cfg: sm.SyntheticMotionConfig, size: int, views: dict[str, dict],
                 view: dict | None, seed: int) -> None:
        records = [VideoRecord(f"unlabeled/{i}", i % len(sm.CLASSES)) for i in range(size)]
        super().__init__(records, sm.CLASSES, views, view, seed=seed, label_swaps=sm.LABEL_SWAPS,
                         name="synthetic_motion[unlabeled]")
        self.cfg, self.families = cfg, sm.split_families("train")

    def _frame_source(self, record: VideoRecord) -> tuple[int, Callable[[list[int]], np.ndarray]]:
        k = int(record.path.rsplit("/", 1)[1]) // len(sm.CLASSES)
        video = sm.render_video(record.label, sm.video_seed(self.cfg, "unlabeled", record.label, k,
                                                            self.epoch), self.cfg, *self.families)
        return len(video), lambda ids: video[ids]


def synthetic_motion(views: dict[str, dict], split: Literal["train", "test", "unlabeled"] = "train",
                     root: str = "data/synthetic_motion", view: dict | None = None,
                     unlabeled_size: int = 2000, seed: int = 0, size: int = 32, frames: int = 24,
                     train_per_class: int = 60, test_per_class: int = 50,
                     on_error: Literal["skip", "raise"] = "skip") -> Dataset:
    """The embedded motion dataset (see :mod:`vidssl_datasets.synthetic_motion`); generated under
    ``root`` on first use (by rank 0 under torch.distributed)."""
    cfg = sm.SyntheticMotionConfig(size=size, frames=frames, train_per_class=train_per_class,
                                   test_per_class=test_per_class)
    if split == "unlabeled":
        return UnlabeledSyntheticMotion(cfg, unlabeled_size, views, view, seed)
    if distributed.is_main():
        sm.generate(root, cfg)
    distributed.barrier()
    return ucf101_style(Path(root), "trainlist01.txt" if split == "train" else "testlist01.txt",
                        views, view, seed, on_error, sm.LABEL_SWAPS,
                        f"synthetic_motion[{split}]")


def ucf101_style(root: Path, list_file: str, views: dict[str, dict], view: dict | None, seed: int,
                 on_error: str, label_swaps: dict | None, name: str,
                 video_dir: str = "videos") -> VideoDataset:
    """A dataset from UCF101-style ``classInd.txt`` + split list under ``root``."""
    if not root.is_dir():
        raise DataError(f"{name}: dataset root {root} does not exist; prepare it with "
                        f"vidssl-prepare (see the README)")
    classes = read_class_index(root / "classInd.txt")
    records: list[VideoRecord] = read_ucf101_list(root / list_file, classes, root / video_dir)
    return VideoDataset(records, classes, views, view, seed=seed, on_error=on_error,
                        label_swaps=label_swaps, name=name)
