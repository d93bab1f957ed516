"""SURF keypoints and descriptors (Bay et al., ECCV 2006) as OpenCV's ``xfeatures2d::SURF``
computes them: the release's camera motion matches SURF features, and the pip wheels of OpenCV do
not ship SURF (it sits in opencv_contrib's non-free part, whose patent has expired).

The release detects with ``SURF::create(200)`` (Hessian threshold 200, 4 octaves of 3 layers)
and describes with ``SURF::create(true, true)`` (64 values, oriented; the two arguments only set
the unused threshold and octave count) — improved_trajectory_ocv4 0893954, ``DenseTrackStab.cpp``
53-55, 133-134, 147-148. Followed here: opencv_contrib 4.6.0, ``modules/xfeatures2d/src/surf.cpp``
— the Hessian's box filters (``resizeHaarPattern`` and ``calcLayerDetAndTrace``, 150-211), the
3×3×3 maxima and their interpolation (``interpolateKeypoint`` and ``findMaximaInLayer``, 233-263,
351-447; the solve as ``Matx33f::solve``, Cramer's rule in float), the layers and the order
(``fastHessianDetector`` and ``KeypointGreater``, 450-517), orientation and descriptor
(``SURFInvoker``, 520-869: Haar responses on a disc of radius 6s, a 60° window in 5° steps; a
20×20 patch resampled along the orientation, 4×4 cells of Σdx, Σdy, Σ|dx|, Σ|dy|), and what
``detectAndCompute`` drops (886-1014: keypoints on a masked pixel, keypoints whose orientation
cannot be sampled). Arithmetic is float32 where the original's is ``float``.
"""

from __future__ import annotations

import cv2
import numba
import numpy as np

HESSIAN_THRESHOLD = 200.0
OCTAVES, OCTAVE_LAYERS = 4, 3
#: box-filter size of the first layer of the first octave, and its growth per layer
HAAR_SIZE0, HAAR_SIZE_INC = 9, 6
ORI_RADIUS, ORI_WINDOW, ORI_STEP = 6, 60, 5
PATCH = 20

# Haar patterns: (x1, y1, x2, y2, weight) boxes at size 9 (Hessian) or 4 (gradient)
_DXX = np.array([[0, 2, 3, 7, 1], [3, 2, 6, 7, -2], [6, 2, 9, 7, 1]], np.int64)
_DYY = np.array([[2, 0, 7, 3, 1], [2, 3, 7, 6, -2], [2, 6, 7, 9, 1]], np.int64)
_DXY = np.array([[1, 1, 4, 4, 1], [5, 1, 8, 4, -1], [1, 5, 4, 8, -1], [5, 5, 8, 8, 1]], np.int64)
_MASK = np.array([[0, 0, 9, 9, 1]], np.int64)
_GRAD_X = np.array([[0, 0, 2, 4, -1], [2, 0, 4, 4, 1]], np.int64)
_GRAD_Y = np.array([[0, 0, 4, 2, 1], [0, 2, 4, 4, -1]], np.int64)


def _orientation_samples() -> tuple[np.ndarray, np.ndarray]:
    """The disc's sample offsets ``n×2`` (x, y) and their Gaussian weights (σ 2.5), in the
    original's order."""
    g = cv2.getGaussianKernel(2 * ORI_RADIUS + 1, 2.5, ktype=cv2.CV_32F)[:, 0]
    r = range(-ORI_RADIUS, ORI_RADIUS + 1)
    offsets = np.array([(i, j) for i in r for j in r if i * i + j * j <= ORI_RADIUS**2], np.int64)
    weights = (g[offsets[:, 0] + ORI_RADIUS] * g[offsets[:, 1] + ORI_RADIUS]).astype(np.float32)
    return offsets, weights


_ORI_OFFSETS, _ORI_WEIGHTS = _orientation_samples()
_DESC_G = cv2.getGaussianKernel(PATCH, 3.3, ktype=cv2.CV_32F)[:, 0]
_DESC_WEIGHTS = (_DESC_G[:, None] * _DESC_G[None, :]).astype(np.float32)


@numba.njit(cache=True, error_model="numpy", nogil=True)
def _scaled(pattern, old, new):
    """A Haar pattern's boxes scaled from size ``old`` to ``new``: ``k×4`` corners and weights
    divided by the box areas (``resizeHaarPattern``)."""
    ratio = np.float32(new) / np.float32(old)
    corners = np.empty((pattern.shape[0], 4), np.int64)
    weights = np.empty(pattern.shape[0], np.float32)
    for k in range(pattern.shape[0]):
        for c in range(4):
            corners[k, c] = np.int64(np.rint(ratio * np.float32(pattern[k, c])))
        area = np.float32((corners[k, 2] - corners[k, 0]) * (corners[k, 3] - corners[k, 1]))
        weights[k] = np.float32(pattern[k, 4]) / area
    return corners, weights


@numba.njit(cache=True, error_model="numpy", nogil=True)
def _haar(integral, row, col, corners, weights):
    """Σ weight × box sum of a scaled pattern placed at ``(row, col)`` of the integral image."""
    d = 0.0
    for k in range(corners.shape[0]):
        x1, y1, x2, y2 = corners[k, 0], corners[k, 1], corners[k, 2], corners[k, 3]
        box = (
            integral[row + y1, col + x1]
            + integral[row + y2, col + x2]
            - integral[row + y2, col + x1]
            - integral[row + y1, col + x2]
        )
        d += np.float32(box) * weights[k]
    return np.float32(d)


@numba.njit(cache=True, error_model="numpy", nogil=True)
def _add_boxes(integral, corners, weights, row, step, out):
    """``out[j] += float32(box sum) × weight`` for each box of a scaled pattern placed on row
    ``row`` of the integral image at every ``step``-th column, box after box (the original's
    order of additions, in float64)."""
    for k in range(corners.shape[0]):
        x1, y1, x2, y2, w = corners[k, 0], corners[k, 1], corners[k, 2], corners[k, 3], weights[k]
        top, bottom = integral[row + y1], integral[row + y2]
        for j in range(out.shape[0]):
            c = j * step
            out[j] += np.float32(top[c + x1] + bottom[c + x2] - bottom[c + x1] - top[c + x2]) * w


@numba.njit(cache=True, error_model="numpy", nogil=True)
def _octave_responses(integral, sizes, step, det, trace):
    """Determinant and trace of the box-filter Hessian of every layer of one octave, sampled
    every ``step`` pixels (``det``/``trace``: ``layers × H/step × W/step``, zero where the
    filter does not fit)."""
    height, width = integral.shape[0] - 1, integral.shape[1] - 1
    for layer in range(sizes.shape[0]):
        size = sizes[layer]
        if size > height or size > width:
            continue
        dxx_c, dxx_w = _scaled(_DXX, 9, size)
        dyy_c, dyy_w = _scaled(_DYY, 9, size)
        dxy_c, dxy_w = _scaled(_DXY, 9, size)
        rows, cols = 1 + (height - size) // step, 1 + (width - size) // step
        dxx, dyy, dxy = np.empty(cols), np.empty(cols), np.empty(cols)
        margin = (size // 2) // step
        for i in range(rows):
            dxx[:], dyy[:], dxy[:] = 0.0, 0.0, 0.0
            _add_boxes(integral, dxx_c, dxx_w, i * step, step, dxx)
            _add_boxes(integral, dyy_c, dyy_w, i * step, step, dyy)
            _add_boxes(integral, dxy_c, dxy_w, i * step, step, dxy)
            for j in range(cols):
                dx, dy, d = np.float32(dxx[j]), np.float32(dyy[j]), np.float32(dxy[j])
                det[layer, i + margin, j + margin] = dx * dy - np.float32(0.81) * d * d
                trace[layer, i + margin, j + margin] = dx + dy


@numba.njit(cache=True, error_model="numpy", nogil=True)
def _interpolate(n):
    """Offset ``(x, y, scale)`` of the quadratic's extremum fitted to the 3×3×3 samples ``n``
    (layer, row, column), and whether it lies within one sample (``interpolateKeypoint``)."""
    half, two, four = np.float32(2), np.float32(2), np.float32(4)
    b0 = -(n[1, 1, 2] - n[1, 1, 0]) / half
    b1 = -(n[1, 2, 1] - n[1, 0, 1]) / half
    b2 = -(n[2, 1, 1] - n[0, 1, 1]) / half
    a00 = n[1, 1, 0] - two * n[1, 1, 1] + n[1, 1, 2]
    a01 = (n[1, 2, 2] - n[1, 2, 0] - n[1, 0, 2] + n[1, 0, 0]) / four
    a02 = (n[2, 1, 2] - n[2, 1, 0] - n[0, 1, 2] + n[0, 1, 0]) / four
    a11 = n[1, 0, 1] - two * n[1, 1, 1] + n[1, 2, 1]
    a12 = (n[2, 2, 1] - n[2, 0, 1] - n[0, 2, 1] + n[0, 0, 1]) / four
    a22 = n[0, 1, 1] - two * n[1, 1, 1] + n[2, 1, 1]
    a10, a20, a21 = a01, a02, a12
    det = a00 * (a11 * a22 - a21 * a12) - a01 * (a10 * a22 - a20 * a12) + a02 * (a10 * a21 - a20 * a11)
    if det == 0:
        return np.float32(0), np.float32(0), np.float32(0), False
    d = np.float32(1) / det
    x0 = d * (b0 * (a11 * a22 - a12 * a21) - a01 * (b1 * a22 - a12 * b2) + a02 * (b1 * a21 - a11 * b2))
    x1 = d * (a00 * (b1 * a22 - a12 * b2) - b0 * (a10 * a22 - a12 * a20) + a02 * (a10 * b2 - b1 * a20))
    x2 = d * (a00 * (a11 * b2 - b1 * a21) - a01 * (a10 * b2 - b1 * a20) + b0 * (a10 * a21 - a11 * a20))
    ok = (x0 != 0 or x1 != 0 or x2 != 0) and abs(x0) <= 1 and abs(x1) <= 1 and abs(x2) <= 1
    return x0, x1, x2, ok


@numba.njit(cache=True, error_model="numpy", nogil=True)
def _octave_maxima(det, trace, sizes, step, octave, threshold, mask_integral, found):
    """Keypoints of one octave's middle layers: responses above ``threshold`` larger than their
    26 neighbours, interpolated, where ``mask_integral`` (of a 0/1 mask) averages ≥ 0.5 over the
    filter. Appends ``(x, y, size, response, octave, sign of the trace)`` to ``found``."""
    rows, cols = det.shape[1], det.shape[2]
    half = np.float32(0.5)
    for layer in range(1, sizes.shape[0] - 1):
        size = sizes[layer]
        margin = (sizes[layer + 1] // 2) // step + 1
        mask_c, mask_w = _scaled(_MASK, 9, size)
        for i in range(margin, rows - margin):
            for j in range(margin, cols - margin):
                value = det[layer, i, j]
                if not value > threshold:
                    continue
                sum_i = step * (i - (size // 2) // step)
                sum_j = step * (j - (size // 2) // step)
                if _haar(mask_integral, sum_i, sum_j, mask_c, mask_w) < 0.5:
                    continue
                n = det[layer - 1 : layer + 2, i - 1 : i + 2, j - 1 : j + 2]
                is_max = True
                for a in range(3):
                    for b in range(3):
                        for c in range(3):
                            if (a != 1 or b != 1 or c != 1) and not value > n[a, b, c]:
                                is_max = False
                if not is_max:
                    continue
                dx, dy, ds, ok = _interpolate(n)
                if not ok:
                    continue
                x = np.float32(sum_j) + np.float32(size - 1) * half + dx * np.float32(step)
                y = np.float32(sum_i) + np.float32(size - 1) * half + dy * np.float32(step)
                scale = np.float32(np.rint(np.float32(size) + ds * np.float32(size - sizes[layer - 1])))
                t = trace[layer, i, j]
                found.append((x, y, scale, value, np.float32(octave), np.float32((t > 0) - (t < 0))))


@numba.njit(cache=True, error_model="numpy", nogil=True)
def _scale(size):
    """The scale ``s`` of a keypoint of filter size ``size``: its orientation disc has radius 6s,
    its window side 21s (``SURFInvoker``'s ``size*1.2f/9.0f``)."""
    return size * np.float32(1.2) / np.float32(9.0)


@numba.njit(cache=True, error_model="numpy", nogil=True)
def _orientation_responses(integral, keypoints, offsets, weights):
    """Weighted Haar responses ``x``, ``y`` (``n × samples``) on each keypoint's disc of radius 6s
    with wavelets of size 4s, their counts (−1: the wavelet is larger than the frame)."""
    n = keypoints.shape[0]
    rx = np.zeros((n, offsets.shape[0]), np.float32)
    ry = np.zeros_like(rx)
    counts = np.zeros(n, np.int64)
    rows, cols = integral.shape
    for k in range(n):
        cx, cy = keypoints[k, 0], keypoints[k, 1]
        s = _scale(keypoints[k, 2])
        size = 2 * np.int64(np.rint(np.float32(2) * s))
        if rows < size or cols < size:
            counts[k] = -1
            continue
        gx_c, gx_w = _scaled(_GRAD_X, 4, size)
        gy_c, gy_w = _scaled(_GRAD_Y, 4, size)
        shift = np.float32(size - 1) / np.float32(2)
        for o in range(offsets.shape[0]):
            x = np.int64(np.rint(cx + np.float32(offsets[o, 0]) * s - shift))
            y = np.int64(np.rint(cy + np.float32(offsets[o, 1]) * s - shift))
            if y < 0 or y >= rows - size or x < 0 or x >= cols - size:
                continue
            rx[k, counts[k]] = _haar(integral, y, x, gx_c, gx_w) * weights[o]
            ry[k, counts[k]] = _haar(integral, y, x, gy_c, gy_w) * weights[o]
            counts[k] += 1
    return rx, ry, counts


@numba.njit(cache=True, error_model="numpy", nogil=True)
def _dominant_sums(rx, ry, angles, counts):
    """Per keypoint, the response sums ``(x, y)`` of the 60° window (starts 5° apart) whose sum
    is the longest. Each response is added to the windows that hold its rounded angle, in the
    responses' order, so every window's sum is the original's to the bit."""
    n, windows = rx.shape[0], 360 // ORI_STEP
    half = ORI_WINDOW // 2 - 1  # a window holds angles less than 30° from its start
    best = np.zeros((n, 2), np.float32)
    sums = np.zeros((windows, 2), np.float32)
    for k in range(n):
        sums[:] = 0
        for m in range(counts[k]):
            degree = np.int64(np.rint(angles[k, m]))
            first = -((half - degree) // ORI_STEP) * ORI_STEP  # the first multiple ≥ degree − 29
            for start in range(first, degree + half + 1, ORI_STEP):
                w = (start % 360) // ORI_STEP
                sums[w, 0] += rx[k, m]
                sums[w, 1] += ry[k, m]
        longest = np.float32(0)
        for w in range(windows):
            length = sums[w, 0] * sums[w, 0] + sums[w, 1] * sums[w, 1]
            if length > longest:
                longest, best[k, 0], best[k, 1] = length, sums[w, 0], sums[w, 1]
    return best


def _orientations(integral: np.ndarray, keypoints: np.ndarray) -> np.ndarray:
    """Each keypoint's orientation in degrees, NaN where none can be sampled (too near the
    border, or a wavelet larger than the frame)."""
    rx, ry, counts = _orientation_responses(integral, keypoints, _ORI_OFFSETS, _ORI_WEIGHTS)
    angles = cv2.phase(rx, ry, angleInDegrees=True)
    best = _dominant_sums(rx, ry, angles, counts)
    direction = cv2.phase(best[:, :1], -best[:, 1:], angleInDegrees=True)[:, 0]
    return np.where(counts > 0, direction, np.float32(np.nan))


@numba.njit(cache=True, error_model="numpy", nogil=True)
def _window(grey, x, y, direction, s):
    """The ``21s``-pixel square around ``(x, y)`` turned by ``direction`` (degrees), sampled
    bilinearly (nearest, clamped, past the border)."""
    size = np.int64(np.float32(PATCH + 1) * s)
    angle = direction * np.float32(np.pi / 180)
    sin_d, cos_d = -np.sin(angle), np.cos(angle)
    offset = -np.float32(size - 1) / np.float32(2)
    start_x = x + offset * cos_d + offset * sin_d
    start_y = y - offset * sin_d + offset * cos_d
    height, width = grey.shape
    window = np.empty((size, size), np.uint8)
    one = np.float32(1)
    for i in range(size):
        px, py = np.float64(start_x), np.float64(start_y)
        for j in range(size):
            fx, fy = np.floor(px), np.floor(py)
            ix, iy = np.int64(fx), np.int64(fy)
            if 0 <= ix < width - 1 and 0 <= iy < height - 1:
                a, b = np.float32(px - fx), np.float32(py - fy)
                v = (
                    np.float32(grey[iy, ix]) * (one - a) * (one - b)
                    + np.float32(grey[iy, ix + 1]) * a * (one - b)
                    + np.float32(grey[iy + 1, ix]) * (one - a) * b
                    + np.float32(grey[iy + 1, ix + 1]) * a * b
                )
                window[i, j] = np.uint8(np.rint(v))
            else:
                cx = min(max(np.int64(np.rint(px)), 0), width - 1)
                cy = min(max(np.int64(np.rint(py)), 0), height - 1)
                window[i, j] = grey[cy, cx]
            px += cos_d
            py -= sin_d
        start_x += sin_d
        start_y += cos_d
    return window


@numba.njit(cache=True, error_model="numpy", nogil=True)
def _area_table(source, target, scale):
    """OpenCV's ``INTER_AREA`` weights from ``source`` to ``target`` pixels (``scale`` = source
    per target, as cv::resize computes it): entries ``(target pixel, source pixel, weight)``
    (``computeResizeAreaTab``)."""
    to = np.empty(2 * source, np.int64)
    start = np.empty(2 * source, np.int64)
    weight = np.empty(2 * source, np.float32)
    k = 0
    for dx in range(target):
        fsx1 = dx * scale
        fsx2 = fsx1 + scale
        cell = min(scale, source - fsx1)
        sx2 = min(np.int64(np.floor(fsx2)), source - 1)
        sx1 = min(np.int64(np.ceil(fsx1)), sx2)
        if sx1 - fsx1 > 1e-3:
            to[k], start[k], weight[k] = dx, sx1 - 1, np.float32((sx1 - fsx1) / cell)
            k += 1
        for sx in range(sx1, sx2):
            to[k], start[k], weight[k] = dx, sx, np.float32(1.0 / cell)
            k += 1
        if fsx2 - sx2 > 1e-3:
            to[k], start[k], weight[k] = dx, sx2, np.float32(min(min(fsx2 - sx2, 1.0), cell) / cell)
            k += 1
    return to[:k], start[:k], weight[:k]


@numba.njit(cache=True, error_model="numpy", nogil=True)
def _shrink(window, out):
    """``cv2.resize(window, out.shape, interpolation=INTER_AREA)`` for a square uint8 window
    larger than ``out``: the integer-factor path (a factor of 2 rounds half up, as OpenCV's SIMD
    code) or the weighted one (``resizeAreaFast_`` and ``resizeArea_``; the same as cv2's on all
    12,383 windows of the test frames of ``benchmarks/surf_reference.cpp``'s check)."""
    size, n = window.shape[0], out.shape[0]
    scale = 1.0 / (n / size)
    factor = np.int64(np.rint(scale))
    if abs(scale - factor) < np.finfo(np.float64).eps:
        inverse_area = np.float32(1) / np.float32(factor * factor)
        for dy in range(n):
            for dx in range(n):
                total = 0
                for y in range(dy * factor, (dy + 1) * factor):
                    for x in range(dx * factor, (dx + 1) * factor):
                        total += np.int64(window[y, x])
                if factor == 2:
                    out[dy, dx] = (total + 2) >> 2
                else:
                    out[dy, dx] = min(np.int64(np.rint(np.float32(total) * inverse_area)), 255)
        return
    to, start, weight = _area_table(size, n, scale)
    row = np.zeros(n, np.float32)
    total = np.zeros(n, np.float32)
    previous = to[0]
    for j in range(to.shape[0]):
        row[:] = 0
        for k in range(to.shape[0]):
            row[to[k]] += np.float32(window[start[j], start[k]]) * weight[k]
        if to[j] != previous:
            for dx in range(n):
                out[previous, dx] = min(max(np.int64(np.rint(total[dx])), 0), 255)
                total[dx] = weight[j] * row[dx]
            previous = to[j]
        else:
            for dx in range(n):
                total[dx] += weight[j] * row[dx]
    for dx in range(n):
        out[previous, dx] = min(max(np.int64(np.rint(total[dx])), 0), 255)


@numba.njit(cache=True, error_model="numpy", nogil=True)
def _describe(patch, weights, out):
    """The 64 values of a ``21×21`` patch: Gaussian-weighted gradients summed as
    Σdx, Σdy, Σ|dx|, Σ|dy| over 4×4 cells of 5×5, scaled to unit length."""
    out[:] = 0
    square = 0.0
    for i in range(4):
        for j in range(4):
            cell = out[(i * 4 + j) * 4 : (i * 4 + j + 1) * 4]
            for y in range(i * 5, i * 5 + 5):
                for x in range(j * 5, j * 5 + 5):
                    p00, p01 = np.int64(patch[y, x]), np.int64(patch[y, x + 1])
                    p10, p11 = np.int64(patch[y + 1, x]), np.int64(patch[y + 1, x + 1])
                    tx = np.float32(p01 - p00 + p11 - p10) * weights[y, x]
                    ty = np.float32(p10 - p00 + p11 - p01) * weights[y, x]
                    cell[0] += tx
                    cell[1] += ty
                    cell[2] += abs(tx)
                    cell[3] += abs(ty)
            for c in range(4):
                square += cell[c] * cell[c]
    out *= np.float32(1.0 / (np.sqrt(square) + np.finfo(np.float32).eps))


@numba.njit(cache=True, error_model="numpy", nogil=True)
def _descriptors(grey, keypoints, weights):
    """``n×64`` descriptors of keypoint rows ``(x, y, size, angle, ...)``: each one's window
    turned by its angle, shrunk to 21×21 and described."""
    out = np.empty((keypoints.shape[0], 64), np.float32)
    patch = np.empty((PATCH + 1, PATCH + 1), np.uint8)
    for k in range(keypoints.shape[0]):
        s = _scale(keypoints[k, 2])
        _shrink(_window(grey, keypoints[k, 0], keypoints[k, 1], keypoints[k, 3], s), patch)
        _describe(patch, weights, out[k])
    return out


_ROW = numba.types.UniTuple(numba.float32, 6)


def surf(grey: np.ndarray, mask: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """SURF keypoints of a ``H×W`` uint8 frame where ``mask`` (uint8, 0 = excluded) is not 0,
    and their descriptors, as the release's ``SURF::create(200)->detect`` then
    ``SURF::create(true, true)->compute``: ``n×7`` float32 keypoint rows ``(x, y, size, angle,
    response, octave, class)`` in OpenCV's order (strongest first) and ``n×64`` float32
    descriptors of unit length. Keypoints whose orientation cannot be sampled are left out, as
    OpenCV leaves them."""
    integral = cv2.integral(grey, sdepth=cv2.CV_32S)
    ones = np.ones_like(grey) if mask is None else np.minimum(mask, 1)
    mask_integral = cv2.integral(ones, sdepth=cv2.CV_32S)
    found = numba.typed.List.empty_list(_ROW)
    height, width = grey.shape
    for octave in range(OCTAVES):
        step = 1 << octave
        sizes = np.array(
            [(HAAR_SIZE0 + HAAR_SIZE_INC * layer) << octave for layer in range(OCTAVE_LAYERS + 2)]
        )
        det = np.zeros((len(sizes), height // step, width // step), np.float32)
        trace = np.zeros_like(det)
        _octave_responses(integral, sizes, step, det, trace)
        _octave_maxima(det, trace, sizes, step, octave, np.float32(HESSIAN_THRESHOLD), mask_integral, found)
    rows = np.array(list(found), np.float32).reshape(-1, 6)
    x, y, size, response, octave = rows[:, 0], rows[:, 1], rows[:, 2], rows[:, 3], rows[:, 4]
    rows = rows[np.lexsort((x, -y, -octave, -size, -response))]
    rows = rows[ones[np.rint(rows[:, 1]).astype(int), np.rint(rows[:, 0]).astype(int)] > 0]
    if not len(rows):  # e.g. a black frame (cv2.phase of nothing is no array in every release)
        return np.zeros((0, 7), np.float32), np.zeros((0, 64), np.float32)
    angles = _orientations(integral, rows)
    keep = ~np.isnan(angles)
    keypoints = np.insert(rows[keep], 3, angles[keep], axis=1)
    return keypoints, _descriptors(grey, keypoints, _DESC_WEIGHTS)
