"""Evaluator ``retrieval``: nearest-neighbour video retrieval with frozen features (the CoCLR
protocol used by MLFO and others).

Features of the held-out split (queries) and of ``train_dataset`` (the gallery) are averaged over
each video's clips, centred by the gallery mean and L2-normalised; a query scores a hit at k when
any of its k most cosine-similar gallery videos has its class. Reports ``R@1`` … ``R@50`` in
percent.
"""
from __future__ import annotations

import numpy as np
import torch

from vidssl.evaluation import EvaluationContext


class RetrievalEvaluator:
    """kNN retrieval of the held-out split (queries) against ``train_dataset`` (the gallery) at
    each k of ``ks``."""

    def __init__(self, train_dataset: dict, ks: list[int] | None = None) -> None:
        self.train_dataset, self.ks = train_dataset, ks or [1, 5, 10, 20, 50]

    def card(self) -> dict[str, object]:
        return {"level": "video (embed features averaged over each video's clips × crops)",
                "normalisation": "centred by the gallery mean, L2-normalised",
                "similarity": "cosine", "queries": "test split", "gallery": "train split",
                "metrics": f"R@k (percent) for k in {self.ks}"}

    def evaluate(self, context: EvaluationContext) -> dict[str, float]:
        gallery = context.build_dataset(self.train_dataset)
        queries, query_labels, _ = context.video_features()
        keys, key_labels, _ = context.video_features(gallery)
        return recall_at_k(queries, query_labels, keys, key_labels, self.ks)


def recall_at_k(queries: np.ndarray, query_labels: np.ndarray, gallery: np.ndarray,
                gallery_labels: np.ndarray, ks: list[int]) -> dict[str, float]:
    """R@k in percent for ``queries`` (N×D) against ``gallery`` (M×D), after centring by the
    gallery mean and L2 normalisation."""
    mean = gallery.mean(0, keepdims=True)
    q = torch.nn.functional.normalize(torch.from_numpy(queries - mean), dim=1)
    g = torch.nn.functional.normalize(torch.from_numpy(gallery - mean), dim=1)
    nearest = (q @ g.t()).topk(min(max(ks), g.shape[0]), dim=1).indices.numpy()
    hits = gallery_labels[nearest] == query_labels[:, None]
    return {f"R@{k}": float(100.0 * hits[:, :k].any(1).mean()) for k in ks}
