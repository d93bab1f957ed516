"""Calibration of the embedded ``synthetic_motion`` defaults: can the benchmark tell methods apart?

Reports, on the default dataset (generated if needed):

* pixel probes (logistic regression on the mean frame, and on first-minus-last frame, of the
  centre clip): these must stay near chance (10 %), i.e. no appearance shortcut;
* for each seed: a linear probe on the randomly initialised demo backbone (must stay < 40 %) and
  a supervised run of ``--minutes`` minutes (must reach ≥ 80 %), each with accuracy, pair
  accuracy (the predicted class is in the right time-reversal pair) and within-pair accuracy
  (right class among the two of its pair, given the pair is right); mean ± spread over seeds.

    python benchmarks/synthetic_motion_calibration.py [--seeds 0 1 2] [--minutes 5] [--pixels-only]
"""
from __future__ import annotations

import argparse
import statistics

import numpy as np
from config_run import config_run
from sklearn.linear_model import LogisticRegression

import vidssl


def clips(split: str) -> tuple[np.ndarray, np.ndarray]:
    view = dict(clip_len=8, stride=2, size=32, sampler="center", crop="center", mean=[0, 0, 0],
                std=[1, 1, 1])
    dataset = vidssl.build("dataset", {"type": "synthetic_motion", "split": split, "view": view},
                           views={"clip": {}})
    items = [dataset[i] for i in range(len(dataset))]
    return (np.stack([it["views"]["clip"].numpy() for it in items]),
            np.array([it["label"] for it in items]))


def pair_metrics(predicted: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    """Accuracy, pair accuracy (right time-reversal pair) and within-pair accuracy (right class
    among the pair's two, when the pair is right), in percent."""
    confusion = np.zeros((10, 10), np.int64)
    np.add.at(confusion, (labels, predicted), 1)
    return confusion_metrics(confusion)


def confusion_metrics(confusion: np.ndarray) -> dict[str, float]:
    pairs = sum(confusion[2 * i:2 * i + 2, 2 * i:2 * i + 2].sum() for i in range(len(confusion) // 2))
    return {"accuracy": 100 * np.trace(confusion) / confusion.sum(),
            "pair_accuracy": 100 * pairs / confusion.sum(),
            "within_pair_accuracy": 100 * np.trace(confusion) / max(1, pairs)}


def pixel_probes() -> dict[str, dict[str, float]]:
    (train, y_train), (test, y_test) = clips("train"), clips("test")
    features = {"mean_frame": lambda c: c.mean(2).reshape(len(c), -1),
                "first_minus_last": lambda c: (c[:, :, 0] - c[:, :, -1]).reshape(len(c), -1)}
    out = {}
    for name, fn in features.items():
        probe = LogisticRegression(max_iter=500, C=0.1).fit(fn(train), y_train)
        out[name] = pair_metrics(probe.predict(fn(test)), y_test)
    return out


def run_seed(seed: int, minutes: float) -> dict[str, dict[str, float]]:
    """probe_random and supervised of configs/supervised_r3d_synthetic.py with this seed, the
    supervised stage given ``minutes`` of training (epochs from the measured epoch time)."""
    epochs = max(1, round(minutes * 60 / 10))  # ~10 s per epoch of 2000 clips on 2 cores
    with config_run("supervised_r3d_synthetic.py", "--cfg-options", f"seed={seed}",
                    f"stages.1.epochs={epochs}", "stage_defaults.evaluator.report=True") as work:
        return {stage: confusion_metrics(np.loadtxt(work / f"{stage}_confusion.tsv",
                                                    delimiter="\t"))
                for stage in ("probe_random", "supervised")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--minutes", type=float, default=5.0)
    parser.add_argument("--pixels-only", action="store_true")
    args = parser.parse_args()
    for name, metrics in pixel_probes().items():
        shown = ", ".join(f"{k} {v:.1f}" for k, v in metrics.items())
        print(f"pixel probe {name:<17} {shown}")
    if args.pixels_only:
        return
    runs = [run_seed(seed, args.minutes) for seed in args.seeds]
    for stage in ("probe_random", "supervised"):
        for metric in ("accuracy", "pair_accuracy", "within_pair_accuracy"):
            values = [r[stage][metric] for r in runs]
            spread = statistics.stdev(values) if len(values) > 1 else 0.0
            print(f"{stage:<13} {metric:<21} {statistics.mean(values):5.1f} ± {spread:4.1f} "
                  f"(seeds {args.seeds}: {', '.join(f'{v:.1f}' for v in values)})")


if __name__ == "__main__":
    main()
