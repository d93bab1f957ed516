"""Dense trajectories (Wang et al., CVPR 2011 / IJCV 2013) and improved trajectories (Wang &
Schmid, ICCV 2013) with OpenCV and numpy, following the LEAR release (``DenseTrack`` and
``DenseTrackStab``, v1.2) step by step:

* a spatial pyramid of up to 8 scales with factor √2 (as many as keep the short side ≥ the
  32-pixel patch);
* dense sampling every W = 5 pixels at cell centres whose minimal eigenvalue of the structure
  tensor exceeds 0.001 × the frame's maximum, only in cells no live track occupies, re-sampled at
  every frame;
* Farneback flow per scale, coarse to fine (:mod:`vidssl_idt.farneback`: each frame expanded
  into polynomials once per scale, each scale's flow started from the coarser scale's, then a
  5×5 median filter); points move by the flow at their rounded position and are dropped when
  they leave the frame;
* a track of L = 15 frames is kept unless static (both coordinate standard deviations < √3),
  erratic (either > 50) or with a sudden jump (largest step > 20 px and > 70 % of the length);
* ``mode="idt"``: the camera motion is a RANSAC homography between consecutive frames from SURF
  matches (:mod:`vidssl_idt.surf`) and flow matches (outside optional person boxes); HOF, MBH
  and the trajectory shape use the flow recomputed against the warped frame, and tracks whose
  compensated displacement never exceeds 1 px are dropped as camera motion.

:func:`extract_trajectories` returns the original program's 436 columns per trajectory. Tracks
that started on the same frame move together as one array (a cohort); while frame t is tracked,
two worker threads compute the descriptor flow and histograms of frame t + 1 and the tracking flow
of frame t + 2.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Literal

import cv2
import numpy as np

from vidssl_idt.camera_motion import CameraMotion, FrameFeatures, warp_to_previous
from vidssl_idt.descriptors import (
    BLOCK_BINS,
    DescriptorGeometry,
    frame_descriptors,
    integral_histograms,
    patch_corners,
    pool_time,
)
from vidssl_idt.farneback import expand, flow_pyramid

Mode = Literal["dt", "idt"]
#: column blocks of a trajectory row: name → (start, stop)
COLUMNS = {
    "info": (0, 10),
    "trajectory": (10, 40),
    "hog": (40, 136),
    "hof": (136, 244),
    "mbhx": (244, 340),
    "mbhy": (340, 436),
}
N_COLUMNS = 436


@dataclass(frozen=True)
class TrajectoryParams:
    """The release's command-line parameters (defaults = the release's defaults)."""

    track_length: int = 15  # L, frames
    min_distance: int = 5  # W, sampling stride in pixels
    patch_size: int = 32  # N, descriptor neighbourhood in pixels
    nxy_cells: int = 2
    nt_cells: int = 3
    scale_num: int = 8
    scale_stride: float = math.sqrt(2)
    quality: float = 0.001
    init_gap: int = 1  # re-sample every init_gap frames
    min_var: float = math.sqrt(3)  # static: both coordinate std below this (pixels)
    max_var: float = 50.0  # erratic: either coordinate std above this
    max_dis: float = 20.0  # sudden jump: a step above this and above 70 % of the length

    @property
    def geometry(self) -> DescriptorGeometry:
        return DescriptorGeometry(self.patch_size, self.nxy_cells, self.nt_cells)


def pyramid_sizes(
    width: int, height: int, params: TrajectoryParams
) -> tuple[list[float], list[tuple[int, int]]]:
    """Scale factors and ``(width, height)`` of the pyramid levels for a frame size."""
    side, levels = float(min(width, height)), 0
    while side >= params.patch_size:
        side /= params.scale_stride
        levels += 1
    levels = min(params.scale_num, max(levels, 1))
    scales = [params.scale_stride**i for i in range(levels)]
    return scales, [(round(width / s), round(height / s)) for s in scales]


@dataclass
class _Cohort:
    """Tracks of one scale that started at the same frame (so all have the same length):
    points ``n×(L+1)×2``, camera-compensated displacements ``n×L×2``, per-frame descriptors
    ``n×L×d``, the index of the last point and which tracks are still in the frame (a track
    that left stays in the arrays, which are not copied for it, is no longer moved or described,
    and is dropped at the end)."""

    points: np.ndarray
    displacement: np.ndarray
    descriptors: np.ndarray
    alive: np.ndarray
    index: int = 0

    @classmethod
    def start(cls, starts: np.ndarray, length: int, dim: int) -> _Cohort:
        points = np.zeros((len(starts), length + 1, 2), np.float32)
        points[:, 0] = starts
        return cls(
            points,
            np.zeros((len(starts), length, 2), np.float32),
            np.zeros((len(starts), length, dim), np.float32),
            np.ones(len(starts), bool),
        )

    def live_points(self) -> np.ndarray:
        """The last points of the tracks still in the frame, ``m×2``."""
        return self.points[self.alive, self.index]


def dense_sample(grey: np.ndarray, occupied: np.ndarray, params: TrajectoryParams) -> np.ndarray:
    """New track starts ``m×2`` (float32 pixels): centres of the W×W cells that hold none of the
    ``occupied`` points and whose minimal eigenvalue exceeds ``quality`` × the image maximum."""
    step = params.min_distance
    eig = cv2.cornerMinEigenVal(grey, 3, ksize=3)
    threshold = float(eig.max()) * params.quality
    cols, rows = grey.shape[1] // step, grey.shape[0] // step
    free = np.ones((rows, cols), bool)
    if len(occupied):
        cx, cy = np.floor(occupied[:, 0]).astype(np.int64), np.floor(occupied[:, 1]).astype(np.int64)
        inside = (cx >= 0) & (cy >= 0) & (cx < cols * step) & (cy < rows * step)
        free[cy[inside] // step, cx[inside] // step] = False
    ys, xs = np.mgrid[0:rows, 0:cols] * step + step // 2
    candidate = free & (eig[ys, xs] > threshold)
    return np.stack([xs[candidate], ys[candidate]], axis=1).astype(np.float32)


def _grey_pyramid(grey: np.ndarray, sizes: list[tuple[int, int]]) -> list[np.ndarray]:
    """Sampling/HOG pyramid: each level resized (bilinear) from the next finer one."""
    levels = [grey]
    for size in sizes[1:]:
        levels.append(cv2.resize(levels[-1], size, interpolation=cv2.INTER_LINEAR))
    return levels


def _valid(
    traj: np.ndarray, params: TrajectoryParams
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The release's pruning of ``n×(L+1)×2`` trajectories (original-resolution pixels):
    keep-mask, mean ``n×2``, standard deviation ``n×2`` and length ``n``."""
    mean = traj.mean(1)
    std = np.sqrt(((traj - mean[:, None]) ** 2).mean(1))
    steps = np.linalg.norm(np.diff(traj, axis=1), axis=2)
    length = steps.sum(1)
    largest = steps.max(1)
    keep = ~((std[:, 0] < params.min_var) & (std[:, 1] < params.min_var))
    keep &= ~((std[:, 0] > params.max_var) | (std[:, 1] > params.max_var))
    keep &= ~((largest > params.max_dis) & (largest > 0.7 * length))
    return keep, mean, std, length


@dataclass
class _FrameAnalysis:
    """Everything per frame that does not depend on the tracks (computed ahead in worker
    threads): the sampling pyramid, the polynomial expansion per level (:func:`expand`) and the
    tracking flow from the previous frame per level (:func:`_track_flow`); the descriptor flow
    (camera-compensated in ``idt`` mode) and the integral histograms of HOG (on the previous
    frame) and HOF/MBH (on the descriptor flow) (:func:`_describe`)."""

    pyramid: list[np.ndarray]
    expansions: list[np.ndarray]
    flows: list[np.ndarray] | None = None
    descriptor_flows: list[np.ndarray] | None = None
    integrals: list[np.ndarray] | None = None


def _track_flow(
    frame: np.ndarray,
    previous: Future[_FrameAnalysis] | None,
    scales: list[float],
    sizes: list[tuple[int, int]],
    params: TrajectoryParams,
) -> _FrameAnalysis:
    """The pyramids of ``frame`` and its tracking flow from the ``previous`` frame's analysis."""
    grey = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)
    result = _FrameAnalysis(_grey_pyramid(grey, sizes), expand(grey, scales, sizes))
    if previous is not None:
        result.flows = flow_pyramid(previous.result().expansions, result.expansions, params.scale_stride)
    return result


def _describe(
    current: Future[_FrameAnalysis],
    previous: Future[_FrameAnalysis],
    scales: list[float],
    sizes: list[tuple[int, int]],
    params: TrajectoryParams,
    camera: tuple[CameraMotion, Future[FrameFeatures], Future[FrameFeatures]] | None,
    boxes: np.ndarray,
    spare: list[np.ndarray] | None,
) -> _FrameAnalysis:
    """``current`` completed with its descriptor flow and integral histograms (in ``idt`` mode,
    ``camera`` given with the two frames' features, the flow against the frame warped by the
    camera motion between them); ``spare``: integral images of a frame nobody reads any more,
    overwritten instead of allocating new ones (fresh pages of a large array cost the kernel more
    than filling them)."""
    result, before = current.result(), previous.result()
    result.descriptor_flows = result.flows
    if camera is not None:
        motion, found_before, found_now = camera
        grey = result.pyramid[0]
        features = (found_before.result(), found_now.result())
        h = motion.homography(before.pyramid[0], features, result.flows[0], boxes)
        warped = warp_to_previous(grey, before.pyramid[0], h)
        result.descriptor_flows = flow_pyramid(
            before.expansions, expand(warped, scales, sizes), params.scale_stride
        )
    result.integrals = [
        integral_histograms(g, f, spare[k] if spare else None)
        for k, (g, f) in enumerate(zip(before.pyramid, result.descriptor_flows, strict=True))
    ]
    return result


def _boxes_of_pair(boxes: dict[int, np.ndarray] | None, t: int) -> np.ndarray:
    """The person boxes (``k×4``) the camera motion from frame t - 1 to frame t leaves out: frame
    t - 1's (frame 0's for frame 0, whose features serve the first pair)."""
    return (boxes or {}).get(max(t - 1, 0), np.zeros((0, 4), np.float32))


def _features(camera: CameraMotion, analysis: Future[_FrameAnalysis], boxes: np.ndarray) -> FrameFeatures:
    """The camera-motion features of the frame ``analysis`` is of, outside ``boxes``."""
    return camera.features(analysis.result().pyramid[0], boxes)


def extract_trajectories(
    frames: Iterable[np.ndarray],
    mode: Mode = "dt",
    params: TrajectoryParams = TrajectoryParams(),
    boxes: dict[int, np.ndarray] | None = None,
    n_frames: int | None = None,
) -> np.ndarray:
    """Trajectories of a video given as ``H×W×3`` uint8 RGB frames → ``n×436`` float32 rows in the
    release's column order (frame, mean x/y, std x/y, length, scale, x/y/t position, trajectory
    30, HOG 96, HOF 108, MBHx 96, MBHy 96). ``boxes`` (frame → ``k×4`` person boxes, ``idt``
    mode) are left out of the camera-motion estimate. ``n_frames`` (the video's length)
    normalises the t position; by default the number of frames read."""
    camera = CameraMotion() if mode == "idt" else None
    frames = iter(frames)
    first = next(frames, None)
    if first is None:
        return np.zeros((0, N_COLUMNS), np.float32)
    height, width = first.shape[:2]
    scales, sizes = pyramid_sizes(width, height, params)
    dim = sum(BLOCK_BINS.values()) * params.nxy_cells**2  # per-frame HOG|HOF|MBHx|MBHy
    cohorts: list[list[_Cohort]] = [[] for _ in scales]
    rows: list[np.ndarray] = []

    def sample(analysis: _FrameAnalysis) -> None:
        for s, level in enumerate(analysis.pyramid):
            occupied = [c.live_points() for c in cohorts[s]]
            starts = dense_sample(
                level, np.concatenate(occupied) if occupied else np.zeros((0, 2), np.float32), params
            )
            if len(starts):
                cohorts[s].append(_Cohort.start(starts, params.track_length, dim))

    with (
        ThreadPoolExecutor(1) as flow_thread,
        ThreadPoolExecutor(1) as feature_thread,
        ThreadPoolExecutor(1) as describe_thread,
    ):
        # while frame t is tracked, one thread describes frame t + 1 and the others find the
        # tracking flow and (idt) the camera-motion features of frame t + 2 (each in frame order)
        flows: dict[int, Future[_FrameAnalysis]] = {}
        found: dict[int, Future[FrameFeatures]] = {}

        def analyse(t: int, frame: np.ndarray) -> None:
            flows[t] = flow_thread.submit(_track_flow, frame, flows.get(t - 1), scales, sizes, params)
            if camera is not None:
                found[t] = feature_thread.submit(_features, camera, flows[t], _boxes_of_pair(boxes, t))

        def flow_ahead() -> None:
            frame = next(frames, None)
            if frame is not None:
                analyse(max(flows) + 1, frame)

        def describe(t: int, spare: list[np.ndarray] | None) -> Future[_FrameAnalysis] | None:
            if t not in flows:
                return None
            return describe_thread.submit(
                _describe,
                flows[t],
                flows[t - 1],
                scales,
                sizes,
                params,
                (camera, found[t - 1], found[t]) if camera is not None else None,
                _boxes_of_pair(boxes, t),
                spare,
            )

        analyse(0, first)
        analysis = flows[0].result()
        sample(analysis)
        flow_ahead()
        flow_ahead()
        described, t = describe(1, None), 0
        while described is not None:
            t += 1
            spare, analysis = analysis.integrals, described.result()
            del flows[t - 1]  # its analysis is no longer read
            found.pop(t - 1, None)
            flow_ahead()
            described = describe(t + 1, spare)
            for s, scale in enumerate(scales):
                rows.extend(
                    _advance(cohorts[s], analysis, s, scale, (width, height), t, params, camera is not None)
                )
            if t % params.init_gap == 0:
                sample(analysis)
    if not rows:
        return np.zeros((0, N_COLUMNS), np.float32)
    out = np.concatenate(rows).astype(np.float32)
    length = params.track_length
    out[:, 9] = np.clip((out[:, 0] - length / 2.0) / float(n_frames or t + 1), 0, 0.999)
    return out


def _advance(
    cohorts: list[_Cohort],
    analysis: _FrameAnalysis,
    level: int,
    scale: float,
    frame_size: tuple[int, int],
    t: int,
    params: TrajectoryParams,
    camera_compensated: bool,
) -> list[np.ndarray]:
    """Move one scale's live tracks by the flow into frame ``t``, append their descriptors
    (measured at the previous points) and return the rows of the tracks that reached length L
    (removing them, and every cohort whose tracks all left the frame, from ``cohorts``). A track
    that left the frame is neither moved nor described again: the release erases it."""
    if not cohorts:
        return []
    flow, descriptor_flow = analysis.flows[level], analysis.descriptor_flows[level]
    height, width = flow.shape[:2]
    live = [np.flatnonzero(c.alive) for c in cohorts]
    prev = np.concatenate([c.points[rows, c.index] for c, rows in zip(cohorts, live, strict=True)])
    ix = np.clip(np.rint(prev[:, 0]).astype(np.int64), 0, width - 1)
    iy = np.clip(np.rint(prev[:, 1]).astype(np.int64), 0, height - 1)
    moved = prev + flow[iy, ix]
    x, y = patch_corners(prev, width, height, params.geometry)
    descriptors = frame_descriptors(analysis.integrals[level], x, y, params.geometry)
    displacement = descriptor_flow[iy, ix]
    inside = (moved[:, 0] > 0) & (moved[:, 0] < width) & (moved[:, 1] > 0) & (moved[:, 1] < height)
    rows, survivors, start = [], [], 0
    for cohort, live_rows in zip(cohorts, live, strict=True):
        part = slice(start, start + len(live_rows))
        start += len(live_rows)
        cohort.descriptors[live_rows, cohort.index] = descriptors[part]
        cohort.displacement[live_rows, cohort.index] = displacement[part]
        cohort.index += 1
        cohort.points[live_rows, cohort.index] = moved[part]
        cohort.alive[live_rows] = inside[part]
        if not cohort.alive.any():
            continue
        if cohort.index >= params.track_length:
            rows.append(_finish(cohort, scale, frame_size, t, params, camera_compensated))
        else:
            survivors.append(cohort)
    cohorts[:] = survivors
    return rows


def _finish(
    cohort: _Cohort,
    scale: float,
    frame_size: tuple[int, int],
    t: int,
    params: TrajectoryParams,
    camera_compensated: bool,
) -> np.ndarray:
    """Rows (436 columns) of the tracks of a complete cohort that pass the release's pruning."""
    traj = cohort.points.astype(np.float64) * scale
    keep, mean, std, track_length = _valid(traj, params)
    keep &= cohort.alive
    if camera_compensated:
        shape = cohort.displacement.astype(np.float64) * scale
        magnitude = np.linalg.norm(shape, axis=2)
        keep &= magnitude.max(1) > 1
        shape = shape / np.maximum(magnitude.sum(1), 1e-12)[:, None, None]
    else:
        shape = np.diff(traj, axis=1) / np.maximum(track_length, 1e-12)[:, None, None]
    n = len(mean)
    info = np.column_stack(
        [
            np.full(n, t),
            mean,
            std,
            track_length,
            np.full(n, scale),
            np.clip(mean[:, 0] / frame_size[0], 0, 0.999),
            np.clip(mean[:, 1] / frame_size[1], 0, 0.999),
            np.zeros(n),
        ]
    )
    blocks = [info, shape.reshape(n, -1)]
    start = 0
    for bins in BLOCK_BINS.values():
        dim = bins * params.nxy_cells**2
        blocks.append(pool_time(cohort.descriptors[:, :, start : start + dim], params.nt_cells))
        start += dim
    return np.concatenate(blocks, axis=1)[keep]
