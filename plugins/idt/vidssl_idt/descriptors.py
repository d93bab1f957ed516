"""HOG, HOF and MBH descriptors of dense trajectories from integral orientation histograms
(Wang et al.'s DenseTrack, ``Descriptors.h``); the per-pixel and per-track loops are compiled
with numba (cached on first use).

Per frame, each descriptor is a 2×2 grid of cells over the 32×32 patch around the track point;
a cell holds an orientation histogram (HOG, MBH: 8 bins over 360°; HOF: 8 bins plus a zero-flow
bin for magnitudes ≤ 0.4 px). The cell values get ε = 0.05 added, are L1-normalised over the
frame's descriptor and square-rooted. Over the track the L = 15 frames are averaged in 3
temporal cells of 5 frames (:func:`pool_time`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numba
import numpy as np

EPSILON = 0.05  # added to every cell value before normalisation
MIN_FLOW = 0.4  # HOF: flow vectors not longer than this (pixels) go to the zero bin


@dataclass(frozen=True)
class DescriptorGeometry:
    """Patch side (pixels), spatial cells per side and temporal cells per track."""

    patch_size: int = 32
    nxy_cells: int = 2
    nt_cells: int = 3


#: channels of :func:`integral_histograms` per descriptor
BLOCK_BINS = {"hog": 8, "hof": 9, "mbhx": 8, "mbhy": 8}


def integral_histograms(grey: np.ndarray, flow: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """Integral images of the per-pixel orientation histograms of HOG (of ``grey``), HOF, MBHx
    and MBHy (of the ``H×W×2`` flow) → ``(H+1)×(W+1)×33`` float32 (channels as
    :data:`BLOCK_BINS`; written into ``out`` if it has that shape): the sum over the pixels above
    and left of ``[y, x]``, so that a cell's histogram is four reads. Gradients are 1-pixel
    central differences (Sobel, kernel size 1)."""

    def gradient(image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return (cv2.Sobel(image, cv2.CV_32F, 1, 0, ksize=1), cv2.Sobel(image, cv2.CV_32F, 0, 1, ksize=1))

    fx, fy = np.ascontiguousarray(flow[..., 0]), np.ascontiguousarray(flow[..., 1])
    fields = np.stack(
        [np.stack(pair) for pair in (gradient(grey.astype(np.float32)), (fx, fy), gradient(fx), gradient(fy))]
    )
    shape = (grey.shape[0] + 1, grey.shape[1] + 1, sum(BLOCK_BINS.values()))
    if out is None or out.shape != shape:
        out = np.empty(shape, np.float32)
    out[0], out[:, 0] = 0, 0
    _integral_histograms(fields, _ORIENTATION_BINS, _ZERO_BIN, out)
    return out


#: per field of :func:`integral_histograms`: its channels, orientation bins, and whether a
#: zero-motion bin follows
_BLOCK_BINS = np.array(list(BLOCK_BINS.values()))
_ORIENTATION_BINS = np.array([bins - (name == "hof") for name, bins in BLOCK_BINS.items()])
_ZERO_BIN = np.array([name == "hof" for name in BLOCK_BINS])


#: odd coefficients of a minimax polynomial for atan(c) on [0, 1], in degrees (error < 0.01°)
_ATAN = (
    0.9997878412794807 * 180 / math.pi,
    -0.3258083974640975 * 180 / math.pi,
    0.1555786518463281 * 180 / math.pi,
    -0.04432655554792128 * 180 / math.pi,
)


@numba.njit(cache=True, nogil=True, error_model="numpy")
def _angle_degrees(x, y):  # pragma: no cover (compiled)
    """The angle of (x, y) in [0, 360) degrees by a polynomial (OpenCV's ``fastAtan2``, which
    the release uses): about 10× cheaper than ``atan2``."""
    ax, ay = abs(x), abs(y)
    c = min(ax, ay) / (max(ax, ay) + 1e-10)
    c2 = c * c
    angle = (((_ATAN[3] * c2 + _ATAN[2]) * c2 + _ATAN[1]) * c2 + _ATAN[0]) * c
    if ay > ax:
        angle = 90.0 - angle
    if x < 0:
        angle = 180.0 - angle
    if y < 0:
        angle = 360.0 - angle
    return angle


@numba.njit(cache=True, nogil=True, error_model="numpy")
def _integral_histograms(fields, orientation_bins, zero_bin, out):  # pragma: no cover (compiled)
    """One pass over the pixels (as the release's ``BuildDescMat``): each vector of each field
    ``fields[f] = (x, y)`` (``F×2×H×W``) adds its magnitude to the two orientation bins (over
    360°) nearest its angle, split linearly; a zero-bin field counts vectors of magnitude ≤
    :data:`MIN_FLOW` (weight 1) in a last bin instead. The running sum along the row plus the
    row above gives the integral image ``out`` (zeroed, ``(H+1)×(W+1)×channels``)."""
    height, width = fields.shape[2], fields.shape[3]
    channels = out.shape[2]
    row = np.zeros(channels, np.float32)
    for i in range(height):
        row[:] = 0.0
        for j in range(width):
            channel = 0
            for f in range(fields.shape[0]):
                x, y = fields[f, 0, i, j], fields[f, 1, i, j]
                bins = orientation_bins[f]
                magnitude = math.sqrt(x * x + y * y)
                if zero_bin[f] and magnitude <= MIN_FLOW:
                    row[channel + bins] += 1.0
                else:
                    position = _angle_degrees(x, y) * (bins / 360.0)
                    bin0 = int(position)
                    if bin0 >= bins:
                        bin0 -= bins
                    weight1 = (position - bin0) * magnitude
                    row[channel + bin0] += magnitude - weight1
                    row[channel + (bin0 + 1 if bin0 + 1 < bins else 0)] += weight1
                channel += bins + zero_bin[f]
            for c in range(channels):
                out[i + 1, j + 1, c] = out[i, j + 1, c] + row[c]


def patch_corners(
    points: np.ndarray, width: int, height: int, geometry: DescriptorGeometry
) -> tuple[np.ndarray, np.ndarray]:
    """Top-left corners ``(x, y)`` (int arrays) of the descriptor patches around ``points``
    (``n×2``, pixels), clamped so the patch stays inside a ``width×height`` image."""
    size = geometry.patch_size
    x = np.clip(np.rint(points[:, 0]).astype(np.int64) - size // 2, 0, width - size)
    y = np.clip(np.rint(points[:, 1]).astype(np.int64) - size // 2, 0, height - size)
    return x, y


def frame_descriptors(
    integral: np.ndarray, x: np.ndarray, y: np.ndarray, geometry: DescriptorGeometry
) -> np.ndarray:
    """Per-frame HOG|HOF|MBHx|MBHy descriptors ``n×(cells²·33)`` read from the integral of
    :func:`integral_histograms` at the patches with top-left corners (x, y): per descriptor, the
    cell sums (x-major cell order) + ε, L1-normalised and square-rooted."""
    out = np.empty((len(x), geometry.nxy_cells**2 * integral.shape[2]), np.float32)
    _cell_descriptors(
        integral, x, y, geometry.patch_size // geometry.nxy_cells, geometry.nxy_cells, _BLOCK_BINS, out
    )
    return out


@numba.njit(cache=True, nogil=True, error_model="numpy")
def _cell_descriptors(integral, xs, ys, stride, cells, block_bins, out):  # pragma: no cover
    """``out[p]``: the descriptors of the patch at (xs[p], ys[p]) from the (cells + 1)² integral
    corners it spans (each read once, all channels together), as :func:`frame_descriptors`."""
    corners = np.empty((cells + 1, cells + 1, integral.shape[2]), np.float32)
    for p in range(len(xs)):
        for cy in range(cells + 1):
            for cx in range(cells + 1):
                corners[cy, cx] = integral[ys[p] + cy * stride, xs[p] + cx * stride]
        column, start = 0, 0
        for bins in block_bins:
            first, total = column, 0.0
            for cx in range(cells):
                for cy in range(cells):
                    for c in range(start, start + bins):
                        value = max(
                            corners[cy + 1, cx + 1, c]
                            + corners[cy, cx, c]
                            - corners[cy + 1, cx, c]
                            - corners[cy, cx + 1, c],
                            0.0,
                        )
                        out[p, column] = value + EPSILON
                        total += value + EPSILON
                        column += 1
            for k in range(first, column):
                out[p, k] = math.sqrt(out[p, k] / total)
            start += bins


def pool_time(per_frame: np.ndarray, nt_cells: int) -> np.ndarray:
    """``n×L×d`` per-frame descriptors → ``n×(nt_cells·d)``: the mean over each of ``nt_cells``
    consecutive groups of ``L // nt_cells`` frames."""
    n, length, dim = per_frame.shape
    stride = length // nt_cells
    grouped = per_frame[:, : stride * nt_cells].reshape(n, nt_cells, stride, dim)
    return grouped.mean(2).reshape(n, nt_cells * dim)
