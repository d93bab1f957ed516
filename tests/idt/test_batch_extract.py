"""Many videos in forked worker processes, from a process that trained and used OpenCV before."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np

from tests.conftest import REPO, requires_shared
from vidssl_idt.trajectory_io import read_trajectories

#: trains an r3d for three SGD steps (two torch threads), extracts the first video in this
#: process (OpenCV's pool of four threads running), then the three others in two forked workers
AFTER_TRAINING = """
import functools, sys
from pathlib import Path
import cv2, torch
import vidssl
from vidssl_idt.batch_extract import extract_missing, extract_row
from vidssl_idt.trajectories import TrajectoryParams

torch.set_num_threads(2)
cv2.setNumThreads(4)
backbone = vidssl.build("backbone", {"type": "r3d", "depth": 10, "width": 0.25})
head = torch.nn.Linear(backbone.feat_dim, 5)
optimizer = torch.optim.SGD([*backbone.parameters(), *head.parameters()], lr=0.1)
for _ in range(3):
    loss = torch.nn.functional.cross_entropy(head(backbone(torch.randn(4, 3, 8, 64, 64))), torch.arange(4))
    optimizer.zero_grad(); loss.backward(); optimizer.step()
video, out = sys.argv[1], Path(sys.argv[2])
dataset = vidssl.build("dataset", {"type": "video_files", "paths": [video] * 4}, views={})
extract = functools.partial(extract_row, dataset, "idt", TrajectoryParams(), max_frames=24)
jobs = [(f"copy {row}", out / f"{row}.npz", row) for row in range(4)]
assert extract_missing(extract, jobs[:1]) == 0
assert extract_missing(extract, jobs, workers=2) == 0
print(cv2.getNumThreads(), torch.get_num_threads())
"""


def test_workers_forked_after_training_and_opencv_finish(tmp_path):
    """Changing OpenCV's thread count in a worker forked after the parent's pool ran waited
    forever (the fork does not copy the pool's threads): the count is now set in the parent
    around the fork, and the parent gets its own back."""
    video = requires_shared("fixtures/idt/person01_boxing_d1_uncomp.avi")
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(AFTER_TRAINING), str(video), str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["4", "2"]  # the parent's thread counts, as they were
    first = read_trajectories(tmp_path / "0.npz")
    assert len(first) > 100
    for row in (1, 2, 3):  # the workers' trajectories are the parent's
        np.testing.assert_array_equal(read_trajectories(tmp_path / f"{row}.npz"), first)
