"""A dataset restricted to some of its rows: the first ``max_videos`` of a quick trial, or the
rows an earlier stage listed (``rows_from``: e.g. the videos that have dense trajectories)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
from torch.utils.data import Dataset


class DatasetSubset(Dataset):
    """Rows ``rows`` of a :class:`~vidssl.ClipDataset`, renumbered from 0, itself a
    ClipDataset: an item's ``index`` is its position in the subset (memory banks and cluster
    labels are sized and ordered by the subset); ``full_size`` is the whole dataset's length."""

    def __init__(self, dataset: Any, rows: Sequence[int]) -> None:
        self.dataset, self.full_size = dataset, len(dataset)
        self.rows = [int(r) for r in rows]
        self.position = {row: i for i, row in enumerate(self.rows)}
        self.classes = dataset.classes

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, index: int) -> dict[str, Any]:
        item = self.dataset[self.rows[index]]
        # a video passed over as unreadable gave another row's item: keep it inside the subset
        return {**item, "index": self.position.get(item["index"], index)}

    def set_epoch(self, epoch: int) -> None:
        self.dataset.set_epoch(epoch)

    def video_name(self, row: int) -> str:
        return self.dataset.video_name(self.rows[row])

    def label(self, row: int) -> int:
        return self.dataset.label(self.rows[row])

    def frames(self, row: int) -> Iterator[np.ndarray]:
        return self.dataset.frames(self.rows[row])
