"""SURF against OpenCV's own (4.6, non-free xfeatures2d, as the release calls it), on three KTH
frames: ``benchmarks/surf_reference.cpp`` wrote ``surf_kth.txt.gz`` (see its header)."""

from __future__ import annotations

import itertools
from pathlib import Path

import cv2
import numpy as np
import pytest

from tests.conftest import requires_shared
from vidssl_datasets.video_reader import iter_video
from vidssl_idt.surf import surf

REFERENCE = Path(__file__).with_name("surf_kth.txt.gz")


@pytest.fixture(scope="module")
def kth_frames() -> dict[int, np.ndarray]:
    video = requires_shared("fixtures/idt/person01_boxing_d1_uncomp.avi")
    frames = itertools.islice(iter_video(video, "pyav"), 31)
    return {t: cv2.cvtColor(f, cv2.COLOR_RGB2GRAY) for t, f in enumerate(frames) if t in (0, 15, 30)}


@pytest.mark.parametrize("t", [0, 15, 30])
def test_keypoints_and_descriptors_are_opencv_s(kth_frames, t):
    reference = np.loadtxt(REFERENCE)
    reference = reference[reference[:, 0] == t, 1:]
    keypoints, descriptors = surf(kth_frames[t])
    assert len(keypoints) == len(reference) > 30
    # same keypoints in the same order: position, size, angle (degrees), response, octave, class
    np.testing.assert_allclose(keypoints[:, :2], reference[:, :2], atol=1e-4)
    np.testing.assert_array_equal(keypoints[:, 2], reference[:, 2])
    np.testing.assert_allclose(keypoints[:, 3], reference[:, 3], atol=1e-3)
    np.testing.assert_allclose(keypoints[:, 4], reference[:, 4], rtol=1e-6)
    np.testing.assert_array_equal(keypoints[:, 5:], reference[:, 5:7])
    np.testing.assert_allclose(descriptors, reference[:, 7:], atol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(descriptors, axis=1), 1, rtol=1e-5)


def test_masked_pixels_hold_no_keypoint(kth_frames):
    grey = kth_frames[0]
    everywhere, _ = surf(grey)
    mask = np.ones_like(grey)
    mask[:, :80] = 0  # the left half, as a person box would
    kept, _ = surf(grey, mask)
    assert 0 < len(kept) < len(everywhere)
    assert kept[:, 0].min() >= 79.5
    # the others are found as without the mask (a filter that reaches into the mask by less
    # than half its area still counts)
    right = everywhere[np.rint(everywhere[:, 0]) >= 80]
    assert {tuple(k) for k in kept[:, :3]} <= {tuple(k) for k in right[:, :3]}


def test_a_flat_frame_has_no_keypoint():
    keypoints, descriptors = surf(np.full((120, 160), 128, np.uint8))
    assert keypoints.shape == (0, 7) and descriptors.shape == (0, 64)
