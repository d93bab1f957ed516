"""Evaluator ``retrieval``: nearest-neighbour video retrieval with frozen features (the CoCLR
protocol used by MLFO and others).

Features of the held-out split (queries) and of ``train_dataset`` (the gallery) are averaged over
each video's clips, centred by the gallery mean and L2-normalised; a query scores a hit at k when
any of its k most cosine-similar gallery videos has its class. Reports ``R@1`` … ``R@50`` in
percent. With ``examples`` > 0, rank 0 also writes ``<stage>_retrieval_examples.png``: that many
queries (evenly spread over the split) and their 5 nearest gallery videos, a middle frame of each,
named by class, a hit framed in green and a miss in red.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from vidssl import EvaluationContext


class RetrievalEvaluator:
    """kNN retrieval of the held-out split (queries) against ``train_dataset`` (the gallery) at
    each k of ``ks``."""

    def __init__(self, train_dataset: dict, ks: list[int] | None = None, examples: int = 5) -> None:
        self.train_dataset, self.ks = train_dataset, ks or [1, 5, 10, 20, 50]
        self.examples = examples

    def card(self) -> dict[str, object]:
        return {
            "level": "video",
            "aggregation": "embed features averaged over each video's clips × crops",
            "normalisation": "centred by the gallery mean, L2-normalised",
            "similarity": "cosine",
            "queries": "test split",
            "gallery": "train split",
            "metrics": f"R@k (percent) for k in {self.ks}",
        }

    def evaluate(self, context: EvaluationContext) -> dict[str, float]:
        gallery = context.build_dataset(self.train_dataset)
        queries, query_labels, query_rows = context.video_features()
        keys, key_labels, key_rows = context.video_features(gallery)
        if self.examples and context.is_main and len(queries) and len(keys):
            picked = np.linspace(0, len(queries) - 1, min(self.examples, len(queries))).astype(int)
            found = nearest(queries[picked], keys, 5)
            write_examples(
                context.dataset,
                query_rows[picked],
                gallery,
                key_rows[found],
                Path(context.work_dir) / f"{context.stage.name}_retrieval_examples.png",
            )
        return recall_at_k(queries, query_labels, keys, key_labels, self.ks)


def recall_at_k(
    queries: np.ndarray,
    query_labels: np.ndarray,
    gallery: np.ndarray,
    gallery_labels: np.ndarray,
    ks: list[int],
) -> dict[str, float]:
    """R@k in percent for ``queries`` (N×D) against ``gallery`` (M×D), after centring by the
    gallery mean and L2 normalisation."""
    hits = gallery_labels[nearest(queries, gallery, max(ks))] == query_labels[:, None]
    return {f"R@{k}": float(100.0 * hits[:, :k].any(1).mean()) for k in ks}


def nearest(queries: np.ndarray, gallery: np.ndarray, k: int) -> np.ndarray:
    """Positions in ``gallery`` (M×D) of the ``k`` nearest of each of ``queries`` (N×D) by cosine
    similarity after centring both by the gallery mean: N×min(k, M), nearest first."""
    mean = gallery.mean(0, keepdims=True)
    q = torch.nn.functional.normalize(torch.from_numpy(queries - mean), dim=1)
    g = torch.nn.functional.normalize(torch.from_numpy(gallery - mean), dim=1)
    return (q @ g.t()).topk(min(k, g.shape[0]), dim=1).indices.numpy()


def _thumbnail(dataset, row: int) -> tuple[np.ndarray, int]:
    """The middle frame of the first clip (and crop) of ``dataset[row]``, scaled to 0..1 (H×W×3),
    and the row's label."""
    item = dataset[int(row)]
    clip = item["views"]["clip"]
    clip = clip.reshape(-1, *clip.shape[-4:])[0]  # C×T×H×W
    frame = clip[:, clip.shape[1] // 2].permute(1, 2, 0).float().numpy()
    frame = (frame - frame.min()) / max(float(frame.max() - frame.min()), 1e-6)
    return frame, int(item["label"])


def write_examples(queries, query_rows: np.ndarray, gallery, neighbour_rows: np.ndarray, path: Path) -> None:
    """A grid: one query per row (its frame, then its nearest gallery videos'), class names as
    titles, neighbours of the query's class framed green, others red."""
    import matplotlib  # noqa: PLC0415 -- lazy: start-up

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415 -- lazy: start-up

    columns = 1 + neighbour_rows.shape[1]
    fig, axes = plt.subplots(
        len(query_rows), columns, figsize=(1.6 * columns, 1.8 * len(query_rows)), squeeze=False
    )
    classes = getattr(queries, "classes", None) or []
    name = lambda label: classes[label] if 0 <= label < len(classes) else str(label)  # noqa: E731
    for i, row in enumerate(query_rows):
        frame, label = _thumbnail(queries, row)
        axes[i, 0].imshow(frame)
        axes[i, 0].set_title(f"query: {name(label)}", fontsize=7, fontweight="bold")
        for j, other in enumerate(neighbour_rows[i], 1):
            frame, other_label = _thumbnail(gallery, other)
            axes[i, j].imshow(frame)
            axes[i, j].set_title(f"{j}. {name(other_label)}", fontsize=7)
            for spine in axes[i, j].spines.values():
                spine.set(color="tab:green" if other_label == label else "tab:red", linewidth=3)
    for ax in axes.flat:
        ax.set_xticks([])
        ax.set_yticks([])
    fig.suptitle("retrieval: each query's 5 nearest training videos (green: same class)", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
