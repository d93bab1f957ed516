"""Evaluator ``classification``: accuracy of a classifying method on a held-out split.

Multi-clip × multi-crop testing: a view may hold several clips and crops per video
(``B×N×[3×]C×T×H×W``, from ``num_clips`` and ``crop="three"`` in the dataset's view); their
logits (``average="logits"``) or softmax scores (``"softmax"``) are averaged per video. Reports
``top1``, ``top5`` and ``mean_class_acc`` in percent and the cross-entropy ``loss`` of the
averaged scores; with ``report=True`` it also writes ``<stage>_per_class.tsv``,
``<stage>_confusion.tsv`` (counts, rows = true class) and ``<stage>_confusion.png`` into the work
dir.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F

from vidssl import EvaluationContext, per_video


class ClassificationEvaluator:
    def __init__(self, average: Literal["logits", "softmax"] = "logits", report: bool = False) -> None:
        self.average, self.report = average, report

    def card(self) -> dict[str, object]:
        return {
            "level": "video",
            "aggregation": f"{self.average} averaged over each video's clips × crops",
            "metrics": "top1, top5, mean_class_acc (percent)",
        }

    def scores(self, context: EvaluationContext) -> tuple[np.ndarray, np.ndarray]:
        """(scores ``N×K``, labels ``N``) over the whole dataset, in dataset order, on every rank."""
        rows, scores, labels = [], [], []
        for batch in context.batches():
            predict = lambda clip, batch=batch: context.method.predict({**batch, "views": {"clip": clip}})  # noqa: E731
            scores.append(per_video(predict, batch["views"]["clip"], self.average == "softmax"))
            rows.append(batch["index"])
            labels.append(batch["label"])
        return context.gather(rows, scores), context.gather(rows, labels).astype(np.int64)

    def evaluate(self, context: EvaluationContext) -> dict[str, float]:
        scores, labels = self.scores(context)
        if self.report and context.is_main:
            classes = getattr(context.dataset, "classes", [str(i) for i in range(scores.shape[1])])
            write_report(scores, labels, classes, context.work_dir, context.stage.name)
        return classification_metrics(scores, labels, self.average)


def classification_metrics(
    scores: np.ndarray, labels: np.ndarray, average: str = "logits"
) -> dict[str, float]:
    """top1 / top5 / mean per-class accuracy (percent) and the cross-entropy of ``scores``."""
    ranked = np.argsort(-scores, axis=1)
    top1 = ranked[:, 0] == labels
    metrics = {"top1": 100.0 * top1.mean()}
    if scores.shape[1] >= 5:
        metrics["top5"] = 100.0 * (ranked[:, :5] == labels[:, None]).any(1).mean()
    metrics["mean_class_acc"] = 100.0 * float(np.mean([top1[labels == c].mean() for c in np.unique(labels)]))
    logits = (
        torch.from_numpy(scores).clamp_min(1e-12).log() if average == "softmax" else torch.from_numpy(scores)
    )
    metrics["loss"] = float(F.cross_entropy(logits, torch.from_numpy(labels)))
    return {k: float(v) for k, v in metrics.items()}


#: the confusion matrix's figure is at most this many inches (at 100 dpi) a side; unbounded, 400
#: classes at 0.35 inch each took 8.8 GB and 38 s to render
MAX_FIGURE_INCHES = 12


def write_report(
    scores: np.ndarray, labels: np.ndarray, classes: list[str], work_dir: Path, stage: str
) -> None:
    """Per-class accuracy table (TSV) and a confusion-matrix PNG (rows: true class)."""
    import matplotlib  # noqa: PLC0415 -- lazy: start-up

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415 -- lazy: start-up

    k = scores.shape[1]
    confusion = np.zeros((k, k), np.int64)
    np.add.at(confusion, (labels, scores.argmax(1)), 1)
    lines = ["class\tvideos\ttop1"]
    for c in range(k):
        total = confusion[c].sum()
        lines.append(f"{classes[c]}\t{total}\t{100 * confusion[c, c] / max(1, total):.2f}")
    (Path(work_dir) / f"{stage}_per_class.tsv").write_text("\n".join(lines) + "\n")
    np.savetxt(Path(work_dir) / f"{stage}_confusion.tsv", confusion, fmt="%d", delimiter="\t")
    size = min(max(4, 0.35 * k), MAX_FIGURE_INCHES)  # Kinetics' 400 classes: 3 pixels each
    fig, ax = plt.subplots(figsize=(size + 1, size))
    image = ax.imshow(
        confusion / np.maximum(1, confusion.sum(1, keepdims=True)),
        cmap="Blues",
        vmin=0,
        vmax=1,
        interpolation="nearest",
    )
    if k <= 40:
        ax.set_xticks(range(k), classes, rotation=90, fontsize=7)
        ax.set_yticks(range(k), classes, fontsize=7)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    fig.colorbar(image, ax=ax, fraction=0.046)
    fig.tight_layout()
    fig.savefig(Path(work_dir) / f"{stage}_confusion.png", dpi=100)
    plt.close(fig)
