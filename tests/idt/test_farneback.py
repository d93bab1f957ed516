"""The release's Farneback flow: one level against OpenCV's, the pyramid on known motion, and one
polynomial expansion per frame (two in idt mode: the frame and its camera-warped copy)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from tests.conftest import requires_shared
from vidssl_datasets.video_reader import read_video
from vidssl_idt import trajectories
from vidssl_idt.farneback import expand, expand_level, flow_pyramid, refine
from vidssl_idt.trajectories import TrajectoryParams, extract_trajectories, pyramid_sizes


def _texture(height: int, width: int, seed: int = 0) -> np.ndarray:
    """A smooth random texture, ``H×W`` float32 in 0…255."""
    noise = np.random.default_rng(seed).uniform(0, 255, (height, width)).astype(np.float32)
    return cv2.normalize(cv2.GaussianBlur(noise, (0, 0), 2.0), None, 0, 255, cv2.NORM_MINMAX)


def _opencv_level(previous: np.ndarray, current: np.ndarray, initial: np.ndarray | None) -> np.ndarray:
    """``cv2.calcOpticalFlowFarneback`` on one level with the release's parameters."""
    flags = cv2.OPTFLOW_FARNEBACK_GAUSSIAN | (cv2.OPTFLOW_USE_INITIAL_FLOW if initial is not None else 0)
    flow = None if initial is None else initial.copy()
    return cv2.calcOpticalFlowFarneback(previous, current, flow, 0.5, 0, 10, 2, 7, 1.5, flags)


def _our_level(previous: np.ndarray, current: np.ndarray, initial: np.ndarray | None) -> np.ndarray:
    """The same from our expansions (OpenCV smooths a level-0 image with a 3×3 Gaussian first)."""

    def expansion(image: np.ndarray) -> np.ndarray:
        return expand_level(cv2.GaussianBlur(image.astype(np.float32), (3, 3), 0))

    start = np.zeros((*previous.shape, 2), np.float32) if initial is None else initial
    return refine(expansion(previous), expansion(current), start)


@pytest.fixture(scope="module")
def kth_frames():
    video = read_video(requires_shared("fixtures/idt/person01_boxing_d1_uncomp.avi"))
    return [cv2.cvtColor(video[t], cv2.COLOR_RGB2GRAY) for t in (30, 31, 32)]


def test_one_level_equals_opencv_on_real_frames(kth_frames):
    previous, current, _ = kth_frames
    reference = _opencv_level(previous, current, None)
    assert np.abs(reference).max() > 2  # the boxer moves
    np.testing.assert_allclose(_our_level(previous, current, None), reference, atol=1e-3)
    initial = np.ascontiguousarray(reference[::-1, ::-1] * 0.5)  # any starting flow
    np.testing.assert_allclose(
        _our_level(previous, current, initial), _opencv_level(previous, current, initial), atol=1e-3
    )


def test_one_level_equals_opencv_near_the_border():
    # a shift that carries pixels out of the frame exercises the border weights and clamping
    image = _texture(60, 80)
    shifted = np.roll(image, (2, -3), axis=(0, 1)).astype(np.uint8)
    np.testing.assert_allclose(
        _our_level(image.astype(np.uint8), shifted, None),
        _opencv_level(image.astype(np.uint8), shifted, None),
        atol=1e-3,
    )


@pytest.mark.parametrize("shift", [(1.5, -0.75), (6.0, 4.0)])
def test_pyramid_recovers_a_translation(shift):
    # larger than the window at full resolution: found through the coarser levels
    image = _texture(240, 320, seed=1)
    matrix = np.float32([[1, 0, shift[0]], [0, 1, shift[1]]])
    moved = cv2.warpAffine(image, matrix, (320, 240), borderMode=cv2.BORDER_REFLECT)
    scales, sizes = pyramid_sizes(320, 240, TrajectoryParams())
    flows = flow_pyramid(
        expand(image.astype(np.uint8), scales, sizes), expand(moved.astype(np.uint8), scales, sizes), 2**0.5
    )
    assert [f.shape[:2] for f in flows] == [(h, w) for w, h in sizes]
    inner = flows[0][20:-20, 20:-20].reshape(-1, 2)
    np.testing.assert_allclose(np.median(inner, axis=0), shift, atol=0.05)


@pytest.mark.parametrize(("mode", "per_frame"), [("dt", 1), ("idt", 2)])
def test_each_frame_is_expanded_once(monkeypatch, mode, per_frame):
    calls = []
    original = trajectories.expand

    def counted(grey, scales, sizes):
        calls.append(grey.shape)
        return original(grey, scales, sizes)

    monkeypatch.setattr(trajectories, "expand", counted)
    frames = [
        np.repeat(np.roll(_texture(64, 96), t, axis=1)[..., None], 3, axis=2).astype(np.uint8)
        for t in range(6)
    ]
    extract_trajectories(frames, mode=mode)
    # the first frame once; each later frame once, and its warped copy once more in idt mode
    assert len(calls) == 1 + per_frame * (len(frames) - 1)
