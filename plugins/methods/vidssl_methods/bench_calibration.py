"""The calibration of ``vidssl-bench synthetic``: can the benchmark tell methods apart?

* **Pixel probes**: a multinomial logistic regression (L2, C=0.1) on the raw pixels of the
  centre clip's mean frame, and of its first-minus-last frame, trained on the train split and
  scored on the test split, for each input the random-init probes read (RGB clips, residual
  frames). Near chance means the class is not in the appearance.
* **Pair metrics**, on a dataset that declares a time-reversal label swap (``label_swaps
  ["reverse"]``; synthetic_motion: every class and its reverse): the accuracy of the pair (the
  prediction is the class or its reverse) and within the pair (right class, given the right
  pair), from a stage's ``<stage>_confusion.tsv``.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

#: the view every pixel probe reads: the test view's centre clip, unnormalised
PIXEL_VIEW = dict(sampler="center", crop="center", mean=[0, 0, 0], std=[1, 1, 1])
PIXEL_FEATURES = {
    "mean frame": lambda c: c.mean(2),
    "first minus last frame": lambda c: c[:, :, 0] - c[:, :, -1],
}


def probe_input(stage: dict[str, Any]) -> str:
    """What a probe stage reads: ``residual frames`` or ``RGB``."""
    view = stage["val_dataset"].get("view") or {}
    return "residual frames" if view.get("residual") else "RGB"


def _clips(
    registry, dataset_cfg: dict[str, Any], view: dict[str, Any], max_videos: int | None
) -> tuple[torch.Tensor, torch.Tensor, Any]:
    """(clips ``N×C×T×H×W``, labels ``N``, the dataset) of one split under ``view``; with
    ``max_videos``, about that many rows evenly spread over the split."""
    cfg = copy.deepcopy(dataset_cfg)
    cfg["view"] = view
    dataset = registry.build("dataset", cfg, ["pixel_probe"], views={"clip": {}})
    rows = range(0, len(dataset), max(1, len(dataset) // (max_videos or len(dataset))))
    loader = torch.utils.data.DataLoader(torch.utils.data.Subset(dataset, rows), batch_size=64, num_workers=2)
    clips, labels = [], []
    for batch in loader:
        clips.append(batch["views"]["clip"].float())
        labels.append(batch["label"])
    return torch.cat(clips), torch.cat(labels), dataset


def logistic_regression(
    train: torch.Tensor, y_train: torch.Tensor, test: torch.Tensor, classes: int, c: float = 0.1
) -> torch.Tensor:
    """Predicted classes of ``test`` (``N×D``) by a multinomial logistic regression fitted on
    ``train`` with L-BFGS: mean cross-entropy + ||W||² / (2·C·N), as scikit-learn's ``C``."""
    weight = torch.zeros(train.shape[1], classes, requires_grad=True)
    bias = torch.zeros(classes, requires_grad=True)
    optimizer = torch.optim.LBFGS([weight, bias], max_iter=500, line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        optimizer.zero_grad()
        loss = F.cross_entropy(train @ weight + bias, y_train) + weight.square().sum() / (2 * c * len(train))
        loss.backward()
        return loss

    optimizer.step(closure)
    with torch.no_grad():
        return (test @ weight + bias).argmax(1)


def pixel_probes(registry, stage: dict[str, Any], max_videos: int | None = None) -> dict[str, Any]:
    """Pixel-probe metrics (percent) for the input of ``stage`` (a ``probe_random`` stage:
    its ``dataset`` is the train split, its ``val_dataset`` the test split), plus the dataset's
    class count and time-reversal swap."""
    view = {**(stage["val_dataset"].get("view") or {}), **PIXEL_VIEW}
    train, y_train, _ = _clips(registry, stage["dataset"], view, max_videos)
    test, y_test, dataset = _clips(registry, stage["val_dataset"], view, max_videos)
    classes = len(dataset.classes)
    reverse = (
        {int(a): int(b) for a, b in dataset.label_swaps.get("reverse", {}).items()}
        if hasattr(dataset, "label_swaps")
        else {}
    )
    probes = {}
    for name, feature in PIXEL_FEATURES.items():
        predicted = logistic_regression(feature(train).flatten(1), y_train, feature(test).flatten(1), classes)
        confusion = np.zeros((classes, classes), np.int64)
        np.add.at(confusion, (y_test.numpy(), predicted.numpy()), 1)
        probes[name] = pair_metrics(confusion, reverse)
    return {"probes": probes, "classes": classes, "reverse": reverse}


def pair_metrics(confusion: np.ndarray, reverse: dict[int, int]) -> dict[str, float]:
    """``top1`` and, with a time-reversal swap, ``pair_accuracy`` and ``within_pair_accuracy``
    (percent) of a confusion matrix (rows: true class)."""
    total = confusion.sum()
    metrics = {"top1": 100.0 * np.trace(confusion) / total}
    if reverse:
        in_pair = np.trace(confusion) + sum(confusion[a, b] for a, b in reverse.items() if a != b)
        metrics["pair_accuracy"] = 100.0 * in_pair / total
        metrics["within_pair_accuracy"] = 100.0 * np.trace(confusion) / max(1, in_pair)
    return {k: float(v) for k, v in metrics.items()}


def stage_pair_metrics(work_dir: Path, stage: str, reverse: dict[int, int]) -> dict[str, float] | None:
    """:func:`pair_metrics` of ``work_dir/<stage>_confusion.tsv``; None where there is none."""
    path = Path(work_dir) / f"{stage}_confusion.tsv"
    if not path.is_file():
        return None
    return pair_metrics(np.atleast_2d(np.loadtxt(path, delimiter="\t")), reverse)


def chance(classes: int, reverse: dict[int, int]) -> dict[str, float]:
    """The metrics of a uniform guess."""
    metrics = {"top1": 100.0 / classes}
    if reverse:
        metrics.update(pair_accuracy=200.0 / classes, within_pair_accuracy=50.0)
    return metrics
