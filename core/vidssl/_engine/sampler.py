"""A resumable, distributed sampler: the order depends only on (seed, epoch), never on global RNG."""

from __future__ import annotations

from collections.abc import Iterator

import torch
from torch.utils.data import Sampler


class ResumableSampler(Sampler[int]):
    """Yields this rank's share of a (shuffled) permutation of ``range(size)``.

    The permutation is drawn from a generator seeded with ``seed + epoch``, so every rank sees the
    same one and takes every ``world_size``-th index from position ``rank``. With ``drop_last`` the
    permutation is cut to a multiple of ``world_size``; otherwise it is not padded, so an
    evaluation sees every sample exactly once. :meth:`start_at` skips the first ``n`` indices of
    this rank's share (resuming mid-epoch).
    """

    def __init__(
        self,
        size: int,
        shuffle: bool = True,
        seed: int = 0,
        rank: int = 0,
        world_size: int = 1,
        drop_last: bool = False,
    ) -> None:
        self.size, self.shuffle, self.seed = size, shuffle, seed
        self.rank, self.world_size, self.drop_last = rank, world_size, drop_last
        self.epoch, self.skip = 0, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch, self.skip = epoch, 0

    def start_at(self, n: int) -> None:
        """Skip the first ``n`` indices of the current epoch."""
        self.skip = n

    def _indices(self) -> list[int]:
        if self.shuffle:
            generator = torch.Generator().manual_seed(self.seed + self.epoch)
            order = torch.randperm(self.size, generator=generator).tolist()
        else:
            order = list(range(self.size))
        if self.drop_last:
            order = order[: len(order) - len(order) % self.world_size]
        return order[self.rank :: self.world_size]

    def __iter__(self) -> Iterator[int]:
        return iter(self._indices()[self.skip :])

    def __len__(self) -> int:
        return len(self._indices()) - self.skip
