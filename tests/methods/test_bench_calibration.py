"""The calibration pieces of vidssl-bench: pair metrics of a confusion matrix under a
time-reversal swap, and the pixel probes' logistic regression."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from vidssl_methods.bench_calibration import chance, logistic_regression, pair_metrics

REVERSE = {0: 1, 1: 0, 2: 3, 3: 2}


def test_pair_metrics_count_the_reversed_class_as_the_right_pair():
    confusion = np.array(
        [
            [6, 2, 2, 0],  # class 0: 6 right, 2 reversed, 2 in the other pair
            [0, 10, 0, 0],
            [0, 0, 5, 5],
            [1, 0, 0, 9],
        ]
    )
    metrics = pair_metrics(confusion, REVERSE)
    assert metrics["top1"] == pytest.approx(100 * 30 / 40)
    assert metrics["pair_accuracy"] == pytest.approx(100 * 37 / 40)
    assert metrics["within_pair_accuracy"] == pytest.approx(100 * 30 / 37)
    assert pair_metrics(confusion, {}) == {"top1": pytest.approx(75.0)}
    assert chance(4, REVERSE) == {"top1": 25.0, "pair_accuracy": 50.0, "within_pair_accuracy": 50.0}


def test_logistic_regression_separates_what_is_separable_and_not_noise():
    generator = torch.Generator().manual_seed(0)
    centres = 3 * torch.randn(4, 20, generator=generator)
    labels = torch.arange(400) % 4
    points = centres[labels] + torch.randn(400, 20, generator=generator)
    predicted = logistic_regression(points[:300], labels[:300], points[300:], 4)
    assert (predicted == labels[300:]).float().mean() > 0.95
    noise = torch.randn(400, 20, generator=generator)
    predicted = logistic_regression(noise[:300], labels[:300], noise[300:], 4)
    assert (predicted == labels[300:]).float().mean() < 0.5
