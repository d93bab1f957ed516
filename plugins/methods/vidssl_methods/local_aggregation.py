"""Local aggregation (Zhuang et al. 2019) with seed 000's IDT prior.

For an embedding ``v_i`` the background ``B_i`` is its ``background_k`` (4096) nearest bank rows
(its own row included); the close neighbours ``C_i`` are the rows of ``B_i`` that share ``i``'s
cluster in *any* of the ``num_c`` clusterings. With ``p(j) ∝ exp(v_i·V_j/τ)``:

    L = −mean_i log( Σ_{j∈C_i} p(j) / Σ_{j∈B_i} p(j) + 1e-7 )

Cluster labels (int64 ``[num_c, N]``, dataset order) come from ``clusters``:

* ``"file"``: fixed labels from ``cluster_file`` (relative to the work dir), e.g. the IDT
  Fisher-vector clusters written by an ``idt_clusters`` stage (seed 000, stage 2);
* ``"bank+features"``: faiss k-means of ``[bank ⊕ features]`` with ``features_file``
  (``N×d``, e.g. the sketched IDT Fisher vectors), recomputed at every epoch start (stage 3);
* ``"bank"``: k-means of the bank alone (plain LA).

Labels are buffers: a checkpoint resumes them exactly. Under torch.distributed rank 0 clusters
and broadcasts.

Re-clustering happens at every epoch start. The seed clusters at the first iteration and after each
epoch's partial last batch (``batch_i == N // batch_size``); nothing changes the bank between that
point and the next epoch's start, so the labels are the same (a test shows it). The seed's quirk
that it never re-clusters when N is a multiple of the batch size is not reproduced.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch

from vidssl import ConfigError, DataError, distributed, kmeans_labels
from vidssl_methods.embedding import EmbeddingMethod


def local_aggregation_loss(
    similarity: torch.Tensor,
    indices: torch.Tensor,
    labels: torch.Tensor,
    background_k: int,
    temperature: float,
) -> torch.Tensor:
    """LA loss from ``similarity`` (``B×N``, embeddings · bank), the batch's rows ``indices``
    (``B``) and cluster ``labels`` (``[num_c, N]``; −1 matches nothing)."""
    top, neighbours = similarity.topk(min(background_k, similarity.shape[1]), dim=1)
    own = labels[:, indices]  # num_c×B
    same = (labels[:, neighbours] == own[:, :, None]) & (own[:, :, None] >= 0)
    # label -1 (a video without trajectories, kept): no close neighbour but its own row
    close = same.any(0) | (neighbours == indices[:, None])  # B×k
    logits = top / temperature
    log_close = torch.logsumexp(logits.masked_fill(~close, float("-inf")), dim=1)
    log_background = torch.logsumexp(logits, dim=1)
    return -torch.log(torch.exp(log_close - log_background) + 1e-7).mean()


class LocalAggregation(EmbeddingMethod):
    """LA on a memory bank with fixed (IDT) or re-computed k-means cluster labels."""

    def __init__(
        self,
        backbone: torch.nn.Module,
        clusters: Literal["file", "bank", "bank+features"] = "bank",
        cluster_file: str = "idt/cluster_labels.npy",
        features_file: str = "idt/features.npy",
        k: int = 6000,
        num_c: int = 3,
        background_k: int = 4096,
        dim: int = 128,
        temperature: float = 0.07,
        momentum: float = 0.5,
        kmeans_iterations: int = 20,
        seed: int = 1234,
    ) -> None:
        super().__init__(backbone, dim, momentum, temperature)
        self.clusters, self.cluster_file, self.features_file = clusters, cluster_file, features_file
        self.k, self.num_c, self.background_k = k, num_c, background_k
        self.kmeans_iterations, self.seed = kmeans_iterations, seed
        self.register_buffer("cluster_labels", torch.zeros(num_c, 0, dtype=torch.long))
        self.features: np.ndarray | None = None

    def prepare(self, dataset: Any, work_dir: Path) -> None:
        super().prepare(dataset, work_dir)
        n = len(dataset)
        # before any clustering every video is its own cluster (as the seed initialises them)
        self.cluster_labels = torch.arange(n).repeat(self.num_c, 1).to(self.bank.memory.device)
        if self.clusters == "file":
            self.cluster_labels = torch.from_numpy(
                _load(Path(work_dir) / self.cluster_file, n, "cluster labels", matrix=True)
            ).to(self.bank.memory.device)
        elif self.clusters == "bank+features":
            self.features = _load(Path(work_dir) / self.features_file, n, "features")

    def start_epoch(self, epoch: int) -> None:
        if self.clusters == "file":
            return
        labels = None
        if distributed.is_main():
            points = self.bank.memory.cpu().numpy()
            if self.features is not None:
                points = np.concatenate([points, self.features], axis=1)
            labels = kmeans_labels(points, self.k, self.num_c, self.kmeans_iterations, self.seed)
        labels = distributed.broadcast_object(labels)
        self.cluster_labels = torch.from_numpy(labels).to(self.bank.memory.device)

    def training_step(self, batch: dict[str, Any]) -> dict[str, torch.Tensor]:
        v, indices = self.embed_batch(batch)
        similarity = v @ self.bank.memory.t()
        loss = local_aggregation_loss(
            similarity, indices, self.cluster_labels, self.background_k, self.temperature
        )
        self.bank.update(indices, v, self.momentum)
        return {"loss": loss}


def _load(path: Path, n: int, what: str, matrix: bool = False) -> np.ndarray:
    """A ``.npy`` written by an earlier stage, checked against the dataset size ``n``."""
    if not path.is_file():
        raise ConfigError(
            f"local_aggregation: {what} file {path} not found (run the stage that "
            f"writes it first, e.g. an 'idt_clusters' extract stage)"
        )
    array = np.load(path)
    if matrix and (array.ndim != 2 or array.shape[1] != n or array.dtype.kind not in "iu"):
        raise DataError(
            f"{path}: expected integer cluster labels [num_c, {n}], got {array.dtype} {list(array.shape)}"
        )
    if not matrix and (array.ndim != 2 or array.shape[0] != n):
        raise DataError(f"{path}: expected {what} [{n}, d], got {list(array.shape)}")
    return array.astype(np.int64) if matrix else array.astype(np.float32)
