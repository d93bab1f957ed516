"""HOG, HOF and MBH descriptors of dense trajectories from integral orientation histograms
(Wang et al.'s DenseTrack, ``Descriptors.h``), vectorised over all tracks of a scale.

Per frame, each descriptor is a 2×2 grid of cells over the 32×32 patch around the track point;
a cell holds an orientation histogram (HOG, MBH: 8 bins over 360°; HOF: 8 bins plus a zero-flow
bin for magnitudes ≤ 0.4 px). The cell values get ε = 0.05 added, are L1-normalised over the
frame's descriptor and square-rooted. Over the track the L = 15 frames are averaged in 3
temporal cells of 5 frames (:func:`pool_time`).
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

EPSILON = 0.05   # added to every cell value before normalisation
MIN_FLOW = 0.4   # HOF: flow vectors not longer than this (pixels) go to the zero bin


@dataclass(frozen=True)
class DescriptorGeometry:
    """Patch side (pixels), spatial cells per side and temporal cells per track."""

    patch_size: int = 32
    nxy_cells: int = 2
    nt_cells: int = 3


#: channels of :func:`frame_histograms` per descriptor
BLOCK_BINS = {"hog": 8, "hof": 9, "mbhx": 8, "mbhy": 8}


def _add_orientations(hist: np.ndarray, channel: int, dx: np.ndarray, dy: np.ndarray,
                      bins: int, zero_bin: bool = False) -> None:
    """Write the orientation histogram of the vector field (dx, dy) (each ``H×W`` float32) into
    ``hist[..., channel:channel + bins (+1)]``: magnitudes split linearly between the two nearest
    of ``bins`` orientation bins over 360°; with ``zero_bin`` an extra last bin counts (with
    weight 1) the vectors of magnitude ≤ :data:`MIN_FLOW`."""
    magnitude, angle = cv2.cartToPolar(dx, dy, angleInDegrees=True)
    position = angle * (bins / 360.0)
    bin0 = position.astype(np.int64)  # angles are ≥ 0: truncation is the floor
    bin0[bin0 >= bins] -= bins
    weight1 = (position - bin0) * magnitude
    weight0 = magnitude - weight1
    bin1 = bin0 + 1
    bin1[bin1 == bins] = 0
    if zero_bin:
        still = magnitude <= MIN_FLOW
        bin0[still] = bins
        weight0[still] = 1.0
        weight1[still] = 0.0
    height, width, depth = hist.shape
    flat = hist.reshape(-1)
    offset = np.arange(channel, height * width * depth, depth).reshape(height, width)
    flat[offset + bin0] = weight0
    flat[offset + bin1] += weight1


def frame_histograms(grey: np.ndarray, flow: np.ndarray) -> np.ndarray:
    """HOG (of ``grey``), HOF, MBHx and MBHy (of the ``H×W×2`` flow) per-pixel orientation
    histograms stacked along the last axis → ``H×W×33`` float32 (channels as
    :data:`BLOCK_BINS`). Gradients are 1-pixel central differences (Sobel, kernel size 1)."""
    def gradient(image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return (cv2.Sobel(image, cv2.CV_32F, 1, 0, ksize=1),
                cv2.Sobel(image, cv2.CV_32F, 0, 1, ksize=1))

    fx, fy = np.ascontiguousarray(flow[..., 0]), np.ascontiguousarray(flow[..., 1])
    fields = {"hog": gradient(grey.astype(np.float32)), "hof": (fx, fy), "mbhx": gradient(fx),
              "mbhy": gradient(fy)}
    hist = np.zeros((*grey.shape, sum(BLOCK_BINS.values())), np.float32)
    channel = 0
    for name, bins in BLOCK_BINS.items():
        zero_bin = name == "hof"
        _add_orientations(hist, channel, *fields[name], bins - zero_bin, zero_bin)
        channel += bins
    return hist


def patch_corners(points: np.ndarray, width: int, height: int, geometry: DescriptorGeometry
                  ) -> tuple[np.ndarray, np.ndarray]:
    """Top-left corners ``(x, y)`` (int arrays) of the descriptor patches around ``points``
    (``n×2``, pixels), clamped so the patch stays inside a ``width×height`` image."""
    size = geometry.patch_size
    x = np.clip(np.rint(points[:, 0]).astype(np.int64) - size // 2, 0, width - size)
    y = np.clip(np.rint(points[:, 1]).astype(np.int64) - size // 2, 0, height - size)
    return x, y


def frame_descriptors(integral: np.ndarray, x: np.ndarray, y: np.ndarray,
                      geometry: DescriptorGeometry) -> np.ndarray:
    """Per-frame HOG|HOF|MBHx|MBHy descriptors ``n×(cells²·33)`` read from the integral of
    :func:`frame_histograms` at the patches with top-left corners (x, y): per descriptor, the cell
    sums (x-major cell order) + ε, L1-normalised and square-rooted."""
    stride = geometry.patch_size // geometry.nxy_cells
    cells = []
    for cx in range(geometry.nxy_cells):
        for cy in range(geometry.nxy_cells):
            x0, y0 = x + cx * stride, y + cy * stride
            total = (integral[y0 + stride, x0 + stride] + integral[y0, x0]
                     - integral[y0 + stride, x0] - integral[y0, x0 + stride])
            cells.append(total)
    values = np.maximum(np.stack(cells, axis=1), 0) + EPSILON    # n×cells×33
    blocks, start = [], 0
    for bins in BLOCK_BINS.values():
        block = values[:, :, start:start + bins].reshape(len(x), -1)
        blocks.append(np.sqrt(block / block.sum(1, keepdims=True)))
        start += bins
    return np.concatenate(blocks, axis=1)


def pool_time(per_frame: np.ndarray, nt_cells: int) -> np.ndarray:
    """``n×L×d`` per-frame descriptors → ``n×(nt_cells·d)``: the mean over each of ``nt_cells``
    consecutive groups of ``L // nt_cells`` frames."""
    n, length, dim = per_frame.shape
    stride = length // nt_cells
    grouped = per_frame[:, : stride * nt_cells].reshape(n, nt_cells, stride, dim)
    return grouped.mean(2).reshape(n, nt_cells * dim)
