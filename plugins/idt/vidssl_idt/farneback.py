"""Farneback optical flow (Farnebäck, SCIA 2003) as the LEAR release computes it: each frame is
expanded into quadratic polynomials once per pyramid level (:func:`expand`), and the expansion
serves every flow the frame takes part in, as the later frame of one pair and the earlier frame
of the next, and in ``idt`` mode for the flow against the camera-warped frame too.
``cv2.calcOpticalFlowFarneback`` expands both images at every call.

Followed from improved_trajectory_ocv4 at 0893954 (the OpenCV-4 port of LEAR's code),
``OpticalFlow.h``: ``FarnebackPolyExp`` 14-141 (:func:`_expansion_kernels`,
:func:`_poly_expansion`), ``FarnebackUpdateMatrices`` 144-221 (:func:`_update_matrices`),
``FarnebackUpdateFlow_GaussianBlur`` 224-399 (:func:`_window_kernel`, :func:`_solve_flow`),
``MedianBlurFlow`` 402-409, ``FarnebackPolyExpPyr`` 411-434 (:func:`expand`) and its
``calcOpticalFlowFarneback`` 436-470 (:func:`refine`, :func:`flow_pyramid`); the parameters and
the reuse from ``DenseTrackStab.cpp`` 152-153 and 171-172 (n 7, σ 1.5, window 10, 2 iterations,
the previous frame's expansion for both flows) and ``DenseTrackStab.h`` 38 (scale stride √2).

Per level, with the release's parameters: the frame in float, Gaussian-smoothed with
σ = (scale − 1)/2 (kernel side round(5σ) | 1, at least 3) and resized (bilinear) from full
resolution; polynomial expansion with n = 7, σ = 1.5; flow from the coarser level's (resized and
× the scale stride), one displacement-matrix update and 2 iterations with a Gaussian window of
10 (σ = 1.5); then a 5×5 median filter per component. The per-pixel steps follow OpenCV's
``FarnebackPolyExp``, ``FarnebackUpdateMatrices`` and ``FarnebackUpdateFlow_GaussianBlur``
(replicated borders, the same float/double arithmetic), compiled with numba; the window average
is ``cv2.sepFilter2D`` (5× faster than a compiled loop here; it sums in another order, which
moves the flow by ~1e-5 px). Against the release's own flow, dumped from the rebuilt program
(docs/idt.md): median endpoint error below 1e-6 px.
"""

from __future__ import annotations

from functools import cache

import cv2
import numba
import numpy as np

POLY_N = 7  # polynomial neighbourhood: (2n + 1)² pixels
POLY_SIGMA = 1.5  # σ of its Gaussian weights
WINDOW = 10  # averaging window of the displacement equations (Gaussian, σ = 0.3 × window/2)
ITERATIONS = 2  # flow updates per level


@cache
def _expansion_kernels(n: int, sigma: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Half kernels ``g, x·g, x²·g`` (float32, ``n+1``, offsets 0…n) of the normalised Gaussian
    and the four entries of the inverse moment matrix that turn the filter responses into the
    polynomial's coefficients (``FarnebackPrepareGaussian``)."""
    x = np.arange(-n, n + 1)
    g = np.exp(-(x**2) / (2 * sigma * sigma)).astype(np.float32)
    g = (g / g.astype(np.float64).sum()).astype(np.float32)
    xg, xxg = (x * g).astype(np.float32), (x * x * g).astype(np.float32)
    gy, gx = np.meshgrid(g.astype(np.float64), g.astype(np.float64), indexing="ij")
    yy, xx = np.meshgrid(x.astype(np.float64), x.astype(np.float64), indexing="ij")
    moments = np.zeros((6, 6))
    moments[0, 0] = (gy * gx).sum()
    moments[1, 1] = moments[2, 2] = moments[0, 3] = moments[0, 4] = moments[3, 0] = moments[4, 0] = (
        gy * gx * xx**2
    ).sum()
    moments[3, 3] = moments[4, 4] = (gy * gx * xx**4).sum()
    moments[3, 4] = moments[4, 3] = moments[5, 5] = (gy * gx * xx**2 * yy**2).sum()
    inverse = np.linalg.inv(moments)
    coefficients = np.array([inverse[1, 1], inverse[0, 3], inverse[3, 3], inverse[5, 5]])
    return g[n:].copy(), xg[n:].copy(), xxg[n:].copy(), coefficients


@numba.njit(cache=True, nogil=True)
def _poly_expansion(
    src: np.ndarray, g: np.ndarray, xg: np.ndarray, xxg: np.ndarray, ig: np.ndarray, out: np.ndarray
) -> None:
    """``out[y, x]`` (``H×W×5``) = the coefficients (b_y, b_x, a_yy, a_xx, a_xy) of the quadratic
    fitted around each pixel of ``src`` (``H×W`` float32), borders replicated. The filters are
    separable: per row, a vertical pass weighted by 1, y and y² (float), then horizontal passes
    accumulated in double; the inner loops run along the row so that they vectorise."""
    height, width = src.shape
    n = len(g) - 1
    ig11, ig03, ig33, ig55 = ig[0], ig[1], ig[2], ig[3]
    v = np.empty((3, width + 2 * n), np.float32)  # vertical sums (1, y, y²), borders padded
    b = np.empty((6, width))  # 1, x, y, x², y², xy
    for y in range(height):
        centre = src[y]
        for x in range(width):
            v[0, n + x] = centre[x] * g[0]
            v[1, n + x] = 0.0
            v[2, n + x] = 0.0
        for k in range(1, n + 1):
            above, below = src[max(y - k, 0)], src[min(y + k, height - 1)]
            gk, xgk, xxgk = g[k], xg[k], xxg[k]
            for x in range(width):
                p = above[x] + below[x]
                v[0, n + x] += gk * p
                v[1, n + x] += xgk * (below[x] - above[x])
                v[2, n + x] += xxgk * p
        for c in range(3):
            for x in range(n):
                v[c, x] = v[c, n]
                v[c, n + width + x] = v[c, n + width - 1]
        for x in range(width):
            b[0, x] = v[0, n + x] * g[0]
            b[1, x] = 0.0
            b[2, x] = v[1, n + x] * g[0]
            b[3, x] = 0.0
            b[4, x] = v[2, n + x] * g[0]
            b[5, x] = 0.0
        for k in range(1, n + 1):
            gk, xgk, xxgk = g[k], xg[k], xxg[k]
            for x in range(width):
                right, left = n + x + k, n + x - k
                tg = np.float64(v[0, right] + v[0, left])
                b[0, x] += tg * gk
                b[3, x] += tg * xxgk
                b[1, x] += (v[0, right] - v[0, left]) * xgk
                b[2, x] += (v[1, right] + v[1, left]) * gk
                b[5, x] += (v[1, right] - v[1, left]) * xgk
                b[4, x] += (v[2, right] + v[2, left]) * gk
        for x in range(width):
            out[y, x, 0] = b[2, x] * ig11
            out[y, x, 1] = b[1, x] * ig11
            out[y, x, 2] = b[0, x] * ig03 + b[4, x] * ig33
            out[y, x, 3] = b[0, x] * ig03 + b[3, x] * ig33
            out[y, x, 4] = b[5, x] * ig55


#: weights of the displacement equations within 5 pixels of the border (``FarnebackUpdateMatrices``)
_BORDER = np.array([0.14, 0.14, 0.4472, 0.4472, 0.4472], np.float32)


@numba.njit(cache=True, nogil=True, inline="always")
def _bilinear(r: np.ndarray, y: int, x: int, c: int, fy: np.float32, fx: np.float32) -> np.float32:
    """Channel ``c`` of ``r`` between pixels ``[y…y+1, x…x+1]`` at fractions ``fy, fx``."""
    one = np.float32(1.0)
    return (
        (one - fx) * (one - fy) * r[y, x, c]
        + fx * (one - fy) * r[y, x + 1, c]
        + (one - fx) * fy * r[y + 1, x, c]
        + fx * fy * r[y + 1, x + 1, c]
    )


@numba.njit(cache=True, nogil=True)
def _update_matrices(
    r0: np.ndarray, r1: np.ndarray, flow: np.ndarray, border: np.ndarray, m: np.ndarray
) -> None:
    """``m`` (``H×W×5``): per pixel the normal equations (G_yy, G_xy, G_xx, h_y, h_x) of the
    displacement that moves ``r0``'s polynomial onto ``r1``'s, given the current ``flow``."""
    height, width = flow.shape[:2]
    nb = len(border)
    half, quarter = np.float32(0.5), np.float32(0.25)
    for y in range(height):
        for x in range(width):
            dx, dy = flow[y, x, 0], flow[y, x, 1]
            fx, fy = np.float32(x + dx), np.float32(y + dy)
            x1, y1 = int(np.floor(fx)), int(np.floor(fy))
            fx -= np.float32(x1)
            fy -= np.float32(y1)
            if 0 <= x1 < width - 1 and 0 <= y1 < height - 1:
                r2 = _bilinear(r1, y1, x1, 0, fy, fx)
                r3 = _bilinear(r1, y1, x1, 1, fy, fx)
                r4 = (r0[y, x, 2] + _bilinear(r1, y1, x1, 2, fy, fx)) * half
                r5 = (r0[y, x, 3] + _bilinear(r1, y1, x1, 3, fy, fx)) * half
                r6 = (r0[y, x, 4] + _bilinear(r1, y1, x1, 4, fy, fx)) * quarter
            else:
                r2 = r3 = np.float32(0.0)
                r4, r5 = r0[y, x, 2], r0[y, x, 3]
                r6 = r0[y, x, 4] * half
            r2 = (r0[y, x, 0] - r2) * half
            r3 = (r0[y, x, 1] - r3) * half
            r2 += r4 * dy + r6 * dx
            r3 += r6 * dy + r5 * dx
            if x < nb or x >= width - nb or y < nb or y >= height - nb:
                scale = np.float32(1.0)
                if x < nb:
                    scale *= border[x]
                if x >= width - nb:
                    scale *= border[width - x - 1]
                if y < nb:
                    scale *= border[y]
                if y >= height - nb:
                    scale *= border[height - y - 1]
                r2 *= scale
                r3 *= scale
                r4 *= scale
                r5 *= scale
                r6 *= scale
            m[y, x, 0] = r4 * r4 + r6 * r6
            m[y, x, 1] = (r4 + r5) * r6
            m[y, x, 2] = r5 * r5 + r6 * r6
            m[y, x, 3] = r4 * r2 + r6 * r3
            m[y, x, 4] = r6 * r2 + r5 * r3


@numba.njit(cache=True, nogil=True)
def _solve_flow(averaged: np.ndarray, flow: np.ndarray) -> None:
    """``flow`` (``H×W×2``, x then y) solving, per pixel in double, the window-averaged normal
    equations ``averaged`` (``H×W×5``: G_yy, G_xy, G_xx, h_y, h_x)."""
    height, width = flow.shape[:2]
    for y in range(height):
        for x in range(width):
            g11, g12, g22 = (
                np.float64(averaged[y, x, 0]),
                np.float64(averaged[y, x, 1]),
                np.float64(averaged[y, x, 2]),
            )
            h1, h2 = np.float64(averaged[y, x, 3]), np.float64(averaged[y, x, 4])
            idet = 1.0 / (g11 * g22 - g12 * g12 + 1e-3)
            flow[y, x, 0] = (g11 * h2 - g12 * h1) * idet
            flow[y, x, 1] = (g22 * h1 - g12 * h2) * idet


@cache
def _window_kernel(window: int) -> np.ndarray:
    """The normalised Gaussian averaging window (``window + 1`` taps, float32, σ = 0.3 ×
    window/2), computed as ``FarnebackUpdateFlow_GaussianBlur`` does."""
    m = window // 2
    sigma = m * 0.3
    kernel = np.ones(m + 1, np.float32)
    total = 1.0
    for i in range(1, m + 1):
        kernel[i] = np.float32(np.exp(-i * i / (2 * sigma * sigma)))
        total += float(kernel[i]) * 2
    half = (kernel * np.float32(1.0 / total)).astype(np.float32)
    return np.concatenate([half[:0:-1], half])


def expand_level(image: np.ndarray, n: int = POLY_N, sigma: float = POLY_SIGMA) -> np.ndarray:
    """Polynomial expansion of an ``H×W`` float32 image → ``H×W×5`` float32 coefficients
    (b_y, b_x, a_yy, a_xx, a_xy) per pixel."""
    out = np.empty((*image.shape, 5), np.float32)
    _poly_expansion(np.ascontiguousarray(image, np.float32), *_expansion_kernels(n, sigma), out)
    return out


def expand(grey: np.ndarray, scales: list[float], sizes: list[tuple[int, int]]) -> list[np.ndarray]:
    """The polynomial expansion of an ``H×W`` uint8 frame at every pyramid level (``sizes`` as
    ``(width, height)``, ``scales`` ≥ 1): the float frame smoothed with σ = (scale − 1)/2, resized
    from full resolution and expanded (``FarnebackPolyExpPyr``)."""
    image = grey.astype(np.float32)
    levels = []
    for scale, size in zip(scales, sizes, strict=True):
        sigma = (scale - 1) * 0.5
        side = max(round(sigma * 5) | 1, 3)
        smoothed = cv2.GaussianBlur(image, (side, side), sigma, sigmaY=sigma)
        levels.append(expand_level(cv2.resize(smoothed, size, interpolation=cv2.INTER_LINEAR)))
    return levels


def refine(
    previous: np.ndarray,
    current: np.ndarray,
    flow: np.ndarray,
    window: int = WINDOW,
    iterations: int = ITERATIONS,
) -> np.ndarray:
    """Farneback flow ``H×W×2`` (float32, x then y, pixels) of one level from two expansions
    (:func:`expand_level`), starting from ``flow`` (``cv2.calcOpticalFlowFarneback`` with
    ``OPTFLOW_FARNEBACK_GAUSSIAN``, given the expansions instead of the images)."""
    flow = np.array(flow, np.float32, copy=True)
    m = np.empty_like(previous)
    _update_matrices(previous, current, flow, _BORDER, m)
    kernel = _window_kernel(window)
    for i in range(iterations):
        averaged = cv2.sepFilter2D(m, cv2.CV_32F, kernel, kernel, borderType=cv2.BORDER_REPLICATE)
        _solve_flow(averaged, flow)
        if i < iterations - 1:
            _update_matrices(previous, current, flow, _BORDER, m)
    return flow


def flow_pyramid(
    previous: list[np.ndarray], current: list[np.ndarray], scale_stride: float
) -> list[np.ndarray]:
    """Flow at every level between two frames' expansions (:func:`expand`), coarse to fine: each
    level starts from the coarser level's flow (resized, × ``scale_stride``), is refined
    (:func:`refine`) and median-filtered (5×5 per component)."""
    flows: list[np.ndarray] = [np.empty(0)] * len(previous)
    for k in range(len(previous) - 1, -1, -1):
        height, width = previous[k].shape[:2]
        if k == len(previous) - 1:
            initial = np.zeros((height, width, 2), np.float32)
        else:
            initial = cv2.resize(flows[k + 1], (width, height), interpolation=cv2.INTER_LINEAR) * np.float32(
                scale_stride
            )
        flow = refine(previous[k], current[k], initial)
        flows[k] = cv2.merge([cv2.medianBlur(np.ascontiguousarray(flow[..., c]), 5) for c in range(2)])
    return flows
