"""The IDT prior of seed 000 end to end, as a config stage: trajectories of every video of a
dataset → Fisher-vector model → per-video Fisher vectors → count sketch → ``num_c`` faiss
k-means clusterings.

Used as ``dict(type='extract', dataset=..., extractor=dict(type='idt_clusters', ...))``. Writes to
``<work_dir>/<out>/``: ``trajectories/<row>.npz`` (a rerun skips finished videos),
``fisher_model.npz``, ``kept_rows.npy`` (the dataset rows clustered, in order: by default, as seed
000's ``cluster_fv.py``, the videos that have trajectories; the training stages after it read only
those rows with ``rows_from='idt/kept_rows.npy'``), ``features.npy`` (float32 ``K×sketch_dim``, one
row per kept row) and ``cluster_labels.npy`` (int64 ``[num_c, K]``), which ``local_aggregation``
reads. With ``no_trajectory='ignore'`` every row is kept and one without trajectories gets a zero
Fisher vector and cluster label −1 (no close neighbours in LA). Under torch.distributed each rank
extracts its share of the videos; rank 0 fits, encodes and clusters.
"""

from __future__ import annotations

import functools
import itertools
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

import vidssl
from vidssl import distributed, kmeans_labels
from vidssl_idt.batch_extract import extract_missing, extract_row
from vidssl_idt.trajectories import N_COLUMNS, TrajectoryParams, extract_trajectories
from vidssl_idt.trajectory_io import read_trajectories

if TYPE_CHECKING:
    from vidssl import ClipDataset, EvaluationContext


class IDTExtractor:
    """Extractor ``idt``: trajectories and descriptors of a video (``extract``), or of every video
    of a stage's dataset into ``<work_dir>/<out>/trajectories/<row>.npz`` (``run``, streaming
    each video's frames, the videos shared among the run's processes; finished videos are
    skipped on a rerun, a video that fails is logged and gets no rows); with ``max_frames``, of
    each video's first frames only."""

    def __init__(
        self,
        mode: Literal["dt", "idt"] = "idt",
        trajectory: dict[str, Any] | None = None,
        out: str = "idt",
        max_frames: int | None = None,
    ) -> None:
        self.mode, self.params, self.out = mode, TrajectoryParams(**(trajectory or {})), out
        self.max_frames = max_frames

    def extract(self, video: str | Path | np.ndarray) -> np.ndarray:
        """A video file (streamed through a registered ``video_files`` dataset) or ``T×H×W×3``
        uint8 RGB frames → float32 ``n×436`` trajectory rows."""
        frames = (
            video
            if isinstance(video, np.ndarray)
            else vidssl.build("dataset", {"type": "video_files", "paths": [str(video)]}, views={}).frames(0)
        )
        return extract_trajectories(itertools.islice(frames, self.max_frames), self.mode, self.params)

    def run(self, context: EvaluationContext) -> dict[str, float]:
        dataset = context.dataset
        cache = Path(context.work_dir) / self.out / "trajectories"
        cache.mkdir(parents=True, exist_ok=True)
        started = time.perf_counter()
        rows = range(distributed.rank(), len(dataset), distributed.world_size())
        failed = extract_missing(
            functools.partial(extract_row, dataset, self.mode, self.params, max_frames=self.max_frames),
            [(f"video {row} ({dataset.video_name(row)})", cache / f"{row:07d}.npz", row) for row in rows],
        )
        failed = sum(distributed.all_gather_objects(failed))
        distributed.barrier()
        return {
            "videos": float(len(dataset)),
            "failed_videos": float(failed),
            "extract_seconds": time.perf_counter() - started,
        }

    def load(self, context: EvaluationContext) -> list[np.ndarray]:
        """The cached trajectories of every video of the dataset (empty for failed ones)."""
        cache = Path(context.work_dir) / self.out / "trajectories"
        return [
            read_trajectories(p) if p.is_file() else np.zeros((0, N_COLUMNS), np.float32)
            for p in (cache / f"{row:07d}.npz" for row in range(len(context.dataset)))
        ]


class IDTClusters(IDTExtractor):
    """Extractor ``idt_clusters``: :class:`IDTExtractor` over the dataset, then (rank 0) the
    Fisher-vector model, per-video sketched Fisher vectors and ``num_c`` k-means clusterings."""

    def __init__(
        self,
        mode: Literal["dt", "idt"] = "idt",
        trajectory: dict[str, Any] | None = None,
        samples_per_video: int = 500,
        pca: float = 0.9,
        gmm_components: int = 256,
        fv_variant: Literal["seed", "improved"] = "seed",
        sketch_dim: int = 2000,
        k: int = 6000,
        num_c: int = 3,
        seed: int = 1234,
        out: str = "idt",
        max_frames: int | None = None,
        no_trajectory: Literal["drop", "ignore"] = "drop",
    ) -> None:
        super().__init__(mode, trajectory, out, max_frames)
        self.no_trajectory = no_trajectory
        self.samples_per_video, self.pca, self.gmm_components = samples_per_video, pca, gmm_components
        self.fv_variant, self.sketch_dim = fv_variant, sketch_dim
        self.k, self.num_c, self.seed = k, num_c, seed

    def run(self, context: EvaluationContext) -> dict[str, float]:
        metrics = super().run(context)
        if distributed.is_main():
            started = time.perf_counter()
            metrics |= self._cluster(context.dataset, self.load(context), Path(context.work_dir) / self.out)
            metrics["cluster_seconds"] = time.perf_counter() - started
        return distributed.broadcast_object(metrics)

    def _cluster(self, dataset: ClipDataset, videos: list[np.ndarray], out: Path) -> dict[str, float]:
        # imported here: scikit-learn and scipy cost a second to import, and registering the
        # plugin (every vidssl command) should not
        from sklearn.metrics import normalized_mutual_info_score  # noqa: PLC0415 -- lazy: start-up

        from vidssl_idt.count_sketch import CountSketch  # noqa: PLC0415 -- lazy: start-up
        from vidssl_idt.fisher import fisher_vector, fit_fisher_model, sample_descriptors  # noqa: PLC0415 -- lazy: start-up

        has = np.array([len(v) > 0 for v in videos])
        rows = np.flatnonzero(has) if self.no_trajectory == "drop" else np.arange(len(videos))
        model = fit_fisher_model(
            sample_descriptors(videos, self.samples_per_video, self.seed),
            k=self.gmm_components,
            pca=self.pca,
            seed=self.seed,
        )
        model.save(out / "fisher_model.npz")
        vectors = np.stack([fisher_vector(videos[row], model, self.fv_variant) for row in rows])
        features = CountSketch(vectors.shape[1], self.sketch_dim, self.seed)(vectors)
        np.save(out / "features.npy", features)
        clustered = has[rows]  # rows without trajectories (kept with 'ignore') get label -1
        labels = np.full((self.num_c, len(rows)), -1, np.int64)
        labels[:, clustered] = kmeans_labels(features[clustered], self.k, self.num_c, seed=self.seed)
        np.save(out / "cluster_labels.npy", labels)
        np.save(out / "kept_rows.npy", rows.astype(np.int64))
        dropped = int((~has).sum())
        if dropped:
            print(
                f"vidssl-idt: {dropped} of {len(videos)} videos have no trajectories: "
                + (
                    "dropped (seed 000's rule); the stages after train on the rows listed in "
                    f"{out / 'kept_rows.npy'}"
                    if self.no_trajectory == "drop"
                    else "kept with cluster label -1 (no_trajectory='ignore')"
                ),
                file=sys.stderr,
            )
        metrics = {
            "trajectories_per_video": float(np.mean([len(v) for v in videos])),
            "videos_without_trajectories": float(dropped),
        }
        classes = np.array([dataset.label(row) for row in rows[clustered]])
        if len(classes) and (classes >= 0).all():
            metrics["nmi"] = float(
                np.mean([normalized_mutual_info_score(classes, c) for c in labels[:, clustered]])
            )
        return metrics
