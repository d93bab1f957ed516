"""Evaluator ``classification``: accuracy of a classifying method on a held-out split.

A view may hold several clips/crops per video (``B×N×3×T×H×W``); their logits or softmax scores
are averaged per video. Reports ``top1``, ``top5`` and ``mean_class_acc`` in percent and the
cross-entropy ``loss`` of the averaged scores.
"""
from __future__ import annotations

from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F

from vidssl import distributed
from vidssl.evaluation import EvaluationContext


class ClassificationEvaluator:
    def __init__(self, average: Literal["logits", "softmax"] = "logits") -> None:
        self.average = average

    def scores(self, context: EvaluationContext) -> tuple[np.ndarray, np.ndarray]:
        """(scores ``N×K``, labels ``N``) over the whole dataset, in dataset order, on every rank."""
        rows, scores, labels = [], [], []
        for batch in context.batches():
            clip = batch["views"]["clip"]
            if clip.dim() == 6:  # B×N×C×T×H×W: several clips or crops per video
                b, n = clip.shape[:2]
                flat = {**batch, "views": {"clip": clip.flatten(0, 1)}}
                out = context.method.predict(flat).view(b, n, -1)
                out = out.softmax(-1) if self.average == "softmax" else out
                out = out.mean(1)
            else:
                out = context.method.predict(batch)
                out = out.softmax(-1) if self.average == "softmax" else out
            rows.append(batch["index"].cpu())
            scores.append(out.float().cpu())
            labels.append(batch["label"].cpu())
        local = (torch.cat(rows).numpy(), torch.cat(scores).numpy(), torch.cat(labels).numpy())
        parts = distributed.all_gather_objects(local)
        order = np.concatenate([p[0] for p in parts]).argsort(kind="stable")
        return (np.concatenate([p[1] for p in parts])[order],
                np.concatenate([p[2] for p in parts])[order])

    def evaluate(self, context: EvaluationContext) -> dict[str, float]:
        scores, labels = self.scores(context)
        return classification_metrics(scores, labels, self.average)


def classification_metrics(scores: np.ndarray, labels: np.ndarray,
                           average: str = "logits") -> dict[str, float]:
    """top1 / top5 / mean per-class accuracy (percent) and the cross-entropy of ``scores``."""
    ranked = np.argsort(-scores, axis=1)
    top1 = ranked[:, 0] == labels
    metrics = {"top1": 100.0 * top1.mean()}
    if scores.shape[1] >= 5:
        metrics["top5"] = 100.0 * (ranked[:, :5] == labels[:, None]).any(1).mean()
    per_class = [top1[labels == c].mean() for c in np.unique(labels)]
    metrics["mean_class_acc"] = 100.0 * float(np.mean(per_class))
    logits = torch.from_numpy(scores).log() if average == "softmax" else torch.from_numpy(scores)
    metrics["loss"] = float(F.cross_entropy(logits, torch.from_numpy(labels).long()))
    return {k: float(v) for k, v in metrics.items()}
