"""Camera motion for improved trajectories (Wang & Schmid, ICCV 2013): a RANSAC homography between
consecutive frames from ORB matches (the LEAR release uses SURF, which opencv-python does not
ship) and flow matches, outside optional person boxes (the release's ``.bb`` files); the frame
warped back onto the previous one by it, so that the flow recomputed against the warped frame is
free of camera motion.

As the release (improved_trajectory_ocv4 at 0893954, the OpenCV-4 port of LEAR's code):

- a feature matches only one within 25 pixels in x and in y, each feature of the current frame its
  nearest in the previous one (``Descriptors.h`` 494-520: ``ComputeMatch`` with
  ``windowedMatchingMask(kpts, prev_kpts, 25, 25)``, no cross-check);
- each frame's features are found once, when it is the current frame, and serve again as the
  previous frame's (``DenseTrackStab.cpp`` 147-149, 289-290);
- a flow match goes from the corner to the corner's rounded pixel plus the flow there
  (``Descriptors.h`` 546-565: ``MatchFromFlow``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from vidssl import DataError

#: a feature matches one at most this many pixels away in x and in y (the release's window)
MATCH_WINDOW = 25


@dataclass
class CameraMotion:
    """Homography between consecutive frames from ORB matches and flow matches (improved
    trajectories), ignoring points inside person boxes. Called frame after frame, it keeps the
    last frame's features for the next pair."""

    orb: cv2.ORB = field(default_factory=lambda: cv2.ORB_create(nfeatures=1000))
    matcher: cv2.BFMatcher = field(default_factory=lambda: cv2.BFMatcher(cv2.NORM_HAMMING))
    _last: tuple[np.ndarray, np.ndarray, np.ndarray | None] | None = field(
        default=None, init=False, repr=False
    )

    def features(self, grey: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """ORB keypoint positions ``n×2`` and descriptors of ``grey`` outside ``mask``'s zeros; the
        last frame's are reused."""
        if self._last is not None and self._last[0] is grey:
            return self._last[1], self._last[2]
        keypoints, descriptors = self.orb.detectAndCompute(grey, mask)
        points = np.float32([k.pt for k in keypoints]).reshape(-1, 2)
        self._last = (grey, points, descriptors)
        return points, descriptors

    def homography(
        self, previous: np.ndarray, current: np.ndarray, flow: np.ndarray, boxes: np.ndarray
    ) -> np.ndarray:
        """3×3 homography mapping ``previous`` pixel positions to ``current`` ones (identity
        unless more than 50 matches and more than 25 RANSAC inliers, as the release); nothing is
        found inside ``boxes`` (person boxes, ``k×4``)."""
        mask = np.full(current.shape, 255, np.uint8)
        for x1, y1, x2, y2 in boxes.astype(int):
            mask[max(y1, 0) : max(y2, 0), max(x1, 0) : max(x2, 0)] = 0
        p0, des0 = self.features(previous, mask)
        p1, des1 = self.features(current, mask)
        src, dst = [], []
        if des0 is not None and des1 is not None:
            near = np.all(np.abs(p1[:, None] - p0[None]) < MATCH_WINDOW, axis=2).astype(np.uint8)
            for m in self.matcher.match(des1, des0, near):
                src.append(p0[m.trainIdx])
                dst.append(p1[m.queryIdx])
        corners = cv2.goodFeaturesToTrack(previous, 1000, 0.001, 3, mask=mask)
        if corners is not None:
            corners = corners.reshape(-1, 2)
            ix = np.clip(np.rint(corners[:, 0]).astype(int), 0, flow.shape[1] - 1)
            iy = np.clip(np.rint(corners[:, 1]).astype(int), 0, flow.shape[0] - 1)
            src.extend(corners)
            dst.extend(np.stack([ix, iy], 1) + flow[iy, ix])
        if len(src) <= 50:
            return np.eye(3)
        h, inliers = cv2.findHomography(np.float32(src), np.float32(dst), cv2.RANSAC, 1.0)
        if h is None or inliers.sum() <= 25:
            return np.eye(3)
        return h


def warp_to_previous(grey: np.ndarray, previous: np.ndarray, homography: np.ndarray) -> np.ndarray:
    """The frame warped back onto the previous one by the inverse homography; pixels that map
    outside the frame take the previous frame's values (so they show no motion)."""
    inverse = np.linalg.inv(homography)
    size = (grey.shape[1], grey.shape[0])
    warped = cv2.warpPerspective(grey, inverse, size, flags=cv2.INTER_LINEAR)
    covered = cv2.warpPerspective(np.full_like(grey, 255), inverse, size, flags=cv2.INTER_NEAREST)
    return np.where(covered > 0, warped, previous)


def read_boxes(path: str) -> dict[int, np.ndarray]:
    """Person boxes of the original release's ``.bb`` files: per line ``frame x1 y1 x2 y2 score``
    followed by more ``x1 y1 x2 y2 score`` groups → frame → ``k×4`` array."""
    boxes: dict[int, np.ndarray] = {}
    with open(path) as f:
        for number, line in enumerate(f, 1):
            values = line.split()
            if not values:
                continue
            if (len(values) - 1) % 5:
                raise DataError(
                    f"{path}:{number}: expected 'frame x1 y1 x2 y2 score ...', got {len(values)} fields"
                )
            groups = np.array(values[1:], np.float32).reshape(-1, 5)
            boxes[int(values[0])] = groups[:, :4]
    return boxes
