"""Temporal sampling: which frame indices of a video make a clip.

All functions take the video length ``n`` and return 0-based frame indices; indices past the end
wrap around (the seeds' loop padding for short videos).
"""

from __future__ import annotations

import numpy as np


def clip_indices(start: int, clip_len: int, stride: int, n: int) -> list[int]:
    """``clip_len`` frames from ``start`` every ``stride`` frames, wrapping past the end."""
    return [(start + i * stride) % n for i in range(clip_len)]


def random_start(n: int, span: int, rng: np.random.Generator) -> int:
    """Uniform start in ``[0, max(0, n - span)]`` (kenshohara's TemporalRandomCrop)."""
    return int(rng.integers(0, max(0, n - span) + 1))


def center_start(n: int, span: int) -> int:
    """Start of the centred window (TemporalCenterCrop)."""
    return max(0, n - span) // 2


def uniform_starts(n: int, span: int, num_clips: int) -> list[int]:
    """``num_clips`` starts spread evenly over the video (multi-clip testing)."""
    if num_clips == 1:
        return [center_start(n, span)]
    last = max(0, n - span)
    return [round(j * last / (num_clips - 1)) for j in range(num_clips)]


def distant_start(n: int, span: int, start: int, min_gap: int, rng: np.random.Generator) -> int:
    """Another start of the same video, VTDL's different-time negative (seed 002): drawn as the
    anchor's; if it is within ``min_gap`` frames of ``start`` it moves ``n // 3`` frames on,
    wrapping modulo the video's ``n`` frames (the seed's 1-based ``(s + n//3) mod n``, 0 → 1).
    The clip from it wraps past the end like any other."""
    other = random_start(n, span, rng)
    if abs(other - start) < min_gap:
        other = max((other + 1 + n // 3) % n, 1) - 1
    return other
