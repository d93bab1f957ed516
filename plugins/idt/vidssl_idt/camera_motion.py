"""Camera motion for improved trajectories (Wang & Schmid, ICCV 2013): a RANSAC homography between
consecutive frames from SURF matches (:mod:`vidssl_idt.surf`: OpenCV's SURF, which the pip
wheels of OpenCV do not ship) and flow matches, outside optional person boxes (the release's
``.bb`` files); the frame warped back onto the previous one by it, so that the flow recomputed
against the warped frame is free of camera motion.

As the release (improved_trajectory_ocv4 at 0893954, the OpenCV-4 port of LEAR's code):

- a feature matches only one within 25 pixels in x and in y, each feature of the current frame its
  nearest in the previous one (``Descriptors.h`` 494-520: ``ComputeMatch`` with
  ``windowedMatchingMask(kpts, prev_kpts, 25, 25)``, no cross-check);
- each frame's features are found once, when it is the current frame, and serve again as the
  previous frame's (``DenseTrackStab.cpp`` 147-149, 289-290);
- a flow match goes from the corner to the corner's rounded pixel plus the flow there
  (``Descriptors.h`` 546-565: ``MatchFromFlow``);
- the flow matches come first in the list RANSAC draws from, the feature matches after them
  (``DenseTrackStab.cpp`` 156: ``MergeMatch(prev_pts_flow, pts_flow, prev_pts_surf, ...)``): on
  the KTH fixture the other order gives 91 trajectories ending on frame 15, this one the rebuilt
  original's 93;
- the warped frame keeps the previous frame's pixels where the warp reads within 5 pixels of the
  border (``Descriptors.h`` 410-491: ``MyWarpPerspective``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import cv2
import numba
import numpy as np

from vidssl import DataError
from vidssl_idt.surf import surf

#: a feature matches one at most this many pixels away in x and in y (the release's window)
MATCH_WINDOW = 25


#: a frame and its mask (uint8, 0 = excluded) → keypoints ``n×k`` (x, y first) and descriptors
Features = Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]


#: a frame's features: keypoint positions ``n×2`` (float32 x, y) and their descriptors ``n×d``
FrameFeatures = tuple[np.ndarray, np.ndarray]


@dataclass
class CameraMotion:
    """Homography between consecutive frames from SURF matches and flow matches (improved
    trajectories), ignoring points inside person boxes. Each frame's features are found once
    (:meth:`features`) and serve both pairs the frame is part of, as in the release."""

    detect: Features = surf
    matcher: cv2.BFMatcher = field(default_factory=lambda: cv2.BFMatcher(cv2.NORM_L2))

    def features(self, grey: np.ndarray, boxes: np.ndarray) -> FrameFeatures:
        """Keypoint positions and descriptors of ``grey`` outside ``boxes`` (person boxes ``k×4``
        of the pair whose current frame ``grey`` is; the release keeps them for the next pair)."""
        keypoints, descriptors = self.detect(grey, _outside(grey.shape, boxes))
        return np.ascontiguousarray(keypoints[:, :2], np.float32), descriptors

    def homography(
        self,
        previous: np.ndarray,
        found: tuple[FrameFeatures, FrameFeatures],
        flow: np.ndarray,
        boxes: np.ndarray,
    ) -> np.ndarray:
        """3×3 homography mapping ``previous`` pixel positions to the current frame's, from the
        two frames' ``found`` features (:meth:`features`) and the ``flow`` between them (identity
        unless more than 50 matches and more than 25 RANSAC inliers, as the release); no corner
        is taken inside ``boxes`` (person boxes, ``k×4``)."""
        (p0, des0), (p1, des1) = found
        src, dst = [], []  # flow matches first, then feature matches (RANSAC's draws follow the order)
        corners = cv2.goodFeaturesToTrack(previous, 1000, 0.001, 3, mask=_outside(previous.shape, boxes))
        if corners is not None:
            corners = corners.reshape(-1, 2)
            ix = np.clip(np.rint(corners[:, 0]).astype(int), 0, flow.shape[1] - 1)
            iy = np.clip(np.rint(corners[:, 1]).astype(int), 0, flow.shape[0] - 1)
            src.extend(corners)
            dst.extend(np.stack([ix, iy], 1) + flow[iy, ix])
        if len(des0) and len(des1):
            for m in self.matcher.match(des1, des0, _within_window(p1, p0)):
                src.append(p0[m.trainIdx])
                dst.append(p1[m.queryIdx])
        if len(src) <= 50:
            return np.eye(3)
        h, inliers = cv2.findHomography(np.float32(src), np.float32(dst), cv2.RANSAC, 1.0)
        if h is None or inliers.sum() <= 25:
            return np.eye(3)
        return h


@numba.njit(cache=True, nogil=True)
def _within_window(query: np.ndarray, train: np.ndarray) -> np.ndarray:  # pragma: no cover -- compiled
    """uint8 ``len(query)×len(train)``: 1 where the two points (float32 ``n×2``) are less than
    :data:`MATCH_WINDOW` pixels apart in x and in y (``windowedMatchingMask``)."""
    near = np.zeros((len(query), len(train)), np.uint8)
    for i in range(len(query)):
        for j in range(len(train)):
            if (
                abs(query[i, 0] - train[j, 0]) < MATCH_WINDOW
                and abs(query[i, 1] - train[j, 1]) < MATCH_WINDOW
            ):
                near[i, j] = 1
    return near


def _outside(shape: tuple[int, ...], boxes: np.ndarray) -> np.ndarray:
    """A uint8 mask of a frame's ``shape``: 255, and 0 inside ``boxes`` (``k×4`` x1, y1, x2, y2)."""
    mask = np.full(shape, 255, np.uint8)
    for x1, y1, x2, y2 in boxes.astype(int):
        mask[max(y1, 0) : max(y2, 0), max(x1, 0) : max(x2, 0)] = 0
    return mask


#: pixels whose source lies within this many pixels of the frame's border keep the previous
#: frame's value in the warped frame (``MyWarpPerspective``'s margin)
WARP_MARGIN = 5


def warp_to_previous(grey: np.ndarray, previous: np.ndarray, homography: np.ndarray) -> np.ndarray:
    """The frame warped back onto the previous one: pixel (x, y) takes ``grey``'s (bilinear) value
    at the ``homography`` image of (x, y), or the previous frame's value where that image is not
    more than :data:`WARP_MARGIN` pixels inside the frame (so the border shows no motion), as the
    release's ``MyWarpPerspective`` (``Descriptors.h`` 410-491)."""
    height, width = grey.shape
    warped = cv2.warpPerspective(
        grey, homography, (width, height), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP
    )
    xs, ys = np.arange(width), np.arange(height)[:, None]  # broadcast to the frame
    h = homography
    with np.errstate(divide="ignore", invalid="ignore"):
        depth = h[2, 0] * xs + h[2, 1] * ys + h[2, 2]
        sx = (h[0, 0] * xs + h[0, 1] * ys + h[0, 2]) / depth
        sy = (h[1, 0] * xs + h[1, 1] * ys + h[1, 2]) / depth
    inside = (
        (sx > WARP_MARGIN)
        & (sx < width - 1 - WARP_MARGIN)
        & (sy > WARP_MARGIN)
        & (sy < height - 1 - WARP_MARGIN)
    )
    return np.where(inside, warped, previous)


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
