"""Camera-motion estimation as the release does it (improved_trajectory_ocv4 ``Descriptors.h``
494-565, ``DenseTrackStab.cpp`` 147-149 and 289-290): features match only within 25 pixels, each
frame's features are found once, flow matches add to the feature matches."""

from __future__ import annotations

import cv2
import numpy as np

from vidssl_idt import trajectories
from vidssl_idt.camera_motion import CameraMotion
from vidssl_idt.surf import surf


def scene(shift_x: int, shift_y: int) -> np.ndarray:
    """A 240×320 window of one fixed blurred texture, moved by the camera (``shift`` pixels)."""
    world = cv2.GaussianBlur(np.random.default_rng(0).integers(0, 255, (400, 500), np.uint8), (0, 0), 1.5)
    return np.ascontiguousarray(world[80 - shift_y : 320 - shift_y, 90 - shift_x : 410 - shift_x])


def noise_flow(shape: tuple[int, int]) -> np.ndarray:
    """A flow that agrees with nothing: flow matches give RANSAC no consensus of their own."""
    return np.random.default_rng(1).uniform(-20, 20, (*shape, 2)).astype(np.float32)


def moves_by(h: np.ndarray, shift: tuple[int, int]) -> bool:
    """Whether homography ``h`` moves every point of the frame (a 3×3 grid over it) by ``shift``,
    within a pixel (the release's RANSAC threshold)."""
    grid = np.float32([[x, y] for x in (0, 160, 319) for y in (0, 120, 239)]).reshape(-1, 1, 2)
    moved = cv2.perspectiveTransform(grid, h) - grid
    return bool(np.abs(moved.reshape(-1, 2) - shift).max() < 1.0)


def homography(previous: np.ndarray, current: np.ndarray, motion: CameraMotion | None = None) -> np.ndarray:
    """The camera motion from ``previous`` to ``current`` (no person boxes, a flow of noise)."""
    motion, boxes = motion or CameraMotion(), np.zeros((0, 4))
    found = (motion.features(previous, boxes), motion.features(current, boxes))
    return motion.homography(previous, found, noise_flow(previous.shape), boxes)


def test_a_camera_pan_within_the_window_is_found_from_the_features():
    h = homography(scene(0, 0), scene(6, 3))
    assert moves_by(h, (6, 3)), h


def test_features_further_than_the_window_do_not_match():
    """40 pixels is beyond the release's 25-pixel window: no feature matches, and the flow's
    matches alone have no consensus, so the camera is taken as still (a cross-checked match over
    the whole frame would find the 40-pixel pan)."""
    assert np.array_equal(homography(scene(0, 0), scene(40, 0)), np.eye(3))


def test_each_frame_s_features_are_found_once(monkeypatch):
    """In a video's extraction each frame's features are found once (in a thread of their own)
    and serve both pairs the frame is part of; frame t's with the person boxes of pair (t-1, t)."""
    calls = []
    counting = CameraMotion(detect=lambda grey, mask: calls.append((grey, mask)) or surf(grey, mask))
    monkeypatch.setattr(trajectories, "CameraMotion", lambda: counting)
    frames = [cv2.cvtColor(scene(2 * t, t), cv2.COLOR_GRAY2RGB) for t in range(6)]
    boxes = {t: np.float32([[10 * t, 0, 10 * t + 20, 30]]) for t in range(6)}
    trajectories.extract_trajectories(frames, "idt", boxes=boxes)
    assert [id(grey) for grey, _ in calls] == list(dict.fromkeys(id(grey) for grey, _ in calls))
    assert len(calls) == len(frames)
    first_zero_column = [int(np.argmin(mask[0])) for _, mask in calls]
    assert first_zero_column == [0, 0, 10, 20, 30, 40]
