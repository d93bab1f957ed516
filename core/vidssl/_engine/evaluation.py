"""What an evaluator or extractor is handed: the model, the data and the place of the run.

Evaluators are components (kind ``evaluator``) with ``evaluate(context) -> dict[str, float]``;
extractors (kind ``extractor``) have ``run(context) -> dict[str, float]``. Under torch.distributed
each rank iterates its own shard of the dataset (every sample exactly once across ranks); an
evaluator combines the ranks' outputs with :mod:`vidssl.distributed` and reports accuracies in
percent.
"""

from __future__ import annotations

from collections.abc import Iterator, Sized
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from vidssl._common.tensors import map_tensors, per_video, to_device
from vidssl._distributed import process_group as distributed
from vidssl._engine.sampler import ResumableSampler
from vidssl._plugin_system.method import Method
from vidssl._speed.host_memory import start_data_worker

if TYPE_CHECKING:
    from vidssl._engine.run_context import RunContext
    from vidssl._engine.stage import Stage


@dataclass
class EvaluationContext:
    """The trained method, a held-out dataset and run information for one evaluation pass."""

    run: RunContext
    stage: Stage
    method: Method | None
    dataset: Dataset | None
    batch_size: int
    num_workers: int
    #: videos passed over as unreadable so far (their items are dropped, never replaced)
    skipped: int = 0

    @property
    def device(self) -> torch.device:
        return self.run.device

    @property
    def work_dir(self) -> Path:
        return self.run.work_dir

    @property
    def is_main(self) -> bool:
        return self.run.is_main

    def build_dataset(self, cfg: dict[str, Any]) -> Dataset:
        """Another dataset the evaluation needs (a retrieval gallery), built with the method's
        eval views as the stage's own datasets are."""
        views = self.method.eval_views if self.method is not None else {"clip": {}}
        return self.run.build_dataset(self.stage, cfg, ["stages", self.stage.index, "evaluator"], views)

    def loader(self, dataset: Dataset | None = None) -> DataLoader:
        """This rank's shard of ``dataset`` (default :attr:`dataset`), in order, no shuffling,
        nothing dropped."""
        dataset = self.dataset if dataset is None else dataset
        assert dataset is not None, "an evaluation without a dataset reads none"
        sampler = ResumableSampler(
            len(cast(Sized, dataset)),
            shuffle=False,
            rank=distributed.rank(),
            world_size=distributed.world_size(),
        )
        return DataLoader(
            dataset,
            batch_size=self.batch_size,
            sampler=sampler,
            num_workers=self.num_workers,
            pin_memory=self.device.type == "cuda",
            worker_init_fn=start_data_worker,
        )

    def batches(self, dataset: Dataset | None = None) -> Iterator[dict[str, Any]]:
        """Batches of this rank's shard of ``dataset`` on :attr:`device`, with the method in
        eval mode and gradients off. An evaluation never substitutes: an item the dataset made by
        passing over unreadable videos (``skipped`` > 0; it holds another row's video) is dropped
        and counted in :attr:`skipped` (that other row is evaluated as itself)."""
        if self.method is not None:
            self.method.eval()
        loader = self.loader(dataset)
        with torch.no_grad():
            for done, batch in enumerate(loader, 1):
                if self.run is not None and self.stage is not None:
                    self.run.hook.vidssl_evaluation_batch(
                        run=self.run,
                        stage=self.stage,
                        done=done,
                        total=len(loader),
                        videos=len(batch["index"]),
                    )
                keep = batch["skipped"] == 0
                if not bool(keep.all()):
                    self.skipped += int((~keep).sum())
                    if not bool(keep.any()):
                        continue
                    batch = map_tensors(lambda t: t[keep], batch)  # noqa: B023 -- used at once
                yield to_device(batch, self.device)

    def gather(self, rows: list[torch.Tensor], values: list[torch.Tensor]) -> Any:
        """Concatenate per-batch ``values`` from every rank, ordered by dataset row."""

        local = (torch.cat(rows).cpu().numpy(), torch.cat(values).float().cpu().numpy())
        parts = distributed.all_gather_objects(local)
        order = np.concatenate([p[0] for p in parts]).argsort(kind="stable")
        return np.concatenate([p[1] for p in parts])[order]

    def video_features(self, dataset: Dataset | None = None) -> tuple[Any, Any, Any]:
        """``method.embed`` features of every readable video of ``dataset`` (default
        :attr:`dataset`), averaged over its clips and crops, its labels and its rows: (float32
        ``N×D``, int64 ``N``, int64 ``N``) in dataset order, on every rank."""
        method = self.method
        assert method is not None, "an evaluation context has the stage's method"
        rows, features, labels = [], [], []
        for batch in self.batches(dataset):
            embed = lambda clip, batch=batch: method.embed({**batch, "views": {"clip": clip}})  # noqa: E731
            features.append(per_video(embed, batch["views"]["clip"]))
            rows.append(batch["index"])
            labels.append(batch["label"])
        return (
            self.gather(rows, features),
            self.gather(rows, labels).astype("int64"),
            self.gather(rows, rows).astype("int64"),
        )
