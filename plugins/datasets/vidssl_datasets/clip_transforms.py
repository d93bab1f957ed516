"""Spatial transforms of clips. Every random choice is drawn from the generator passed in, once
per clip (clip-consistent), so a sample's augmentation depends only on its seed.

Frames enter as ``T×H×W×3`` uint8 arrays; :func:`to_tensor` returns ``3×T×H×W`` float32.
"""

from __future__ import annotations

import math

import cv2
import numpy as np
import torch

Box = tuple[int, int, int, int]  # x, y, width, height


def resize_short(frames: np.ndarray, size: int) -> np.ndarray:
    """Resize so that the shorter side is ``size`` pixels (bilinear)."""
    h, w = frames.shape[1:3]
    if min(h, w) == size:
        return frames
    scale = size / min(h, w)
    shape = (max(size, round(w * scale)), max(size, round(h * scale)))
    return np.stack([cv2.resize(f, shape, interpolation=cv2.INTER_LINEAR) for f in frames])


def rotate(frames: np.ndarray, degrees: float) -> np.ndarray:
    """Rotate every frame by ``degrees`` (counter-clockwise) about its centre, borders
    replicated."""
    h, w = frames.shape[1:3]
    matrix = cv2.getRotationMatrix2D((w / 2, h / 2), degrees, 1.0)
    return np.stack(
        [
            cv2.warpAffine(f, matrix, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
            for f in frames
        ]
    )


def crop_resize(frames: np.ndarray, box: Box, size: int) -> np.ndarray:
    """Crop ``box`` from every frame and resize it to ``size×size`` (a view when no resize is
    needed)."""
    x, y, w, h = box
    crop = frames[:, y : y + h, x : x + w]
    if (w, h) == (size, size):
        return crop
    return np.stack([cv2.resize(f, (size, size), interpolation=cv2.INTER_LINEAR) for f in crop])


def random_resized_box(
    h: int,
    w: int,
    rng: np.random.Generator,
    scale: tuple[float, float],
    ratio: tuple[float, float] = (3 / 4, 4 / 3),
) -> Box:
    """Inception-style box: area fraction in ``scale``, aspect ratio in ``ratio`` (log-uniform);
    falls back to the centred largest square after 10 tries."""
    area = h * w
    for _ in range(10):
        target = area * rng.uniform(*scale)
        aspect = math.exp(rng.uniform(math.log(ratio[0]), math.log(ratio[1])))
        bw, bh = round(math.sqrt(target * aspect)), round(math.sqrt(target / aspect))
        if 0 < bw <= w and 0 < bh <= h:
            return int(rng.integers(0, w - bw + 1)), int(rng.integers(0, h - bh + 1)), bw, bh
    side = min(h, w)
    return (w - side) // 2, (h - side) // 2, side, side


def multiscale_box(h: int, w: int, rng: np.random.Generator, scales: list[float]) -> Box:
    """Square of side ``scale·min(h, w)`` (scale drawn from ``scales``) at a random position
    (kenshohara's MultiScaleRandomCrop)."""
    side = max(1, round(min(h, w) * scales[int(rng.integers(len(scales)))]))
    return int(rng.integers(0, w - side + 1)), int(rng.integers(0, h - side + 1)), side, side


def grid_box(h: int, w: int, size: int, position: float) -> Box:
    """``size×size`` box at fraction ``position`` ∈ [0, 1] of the free range along both axes
    (0.5 = centre crop; 0, 0.5, 1 = the NL-I3D three crops)."""
    size = min(size, h, w)
    return round((w - size) * position), round((h - size) * position), size, size


def color_jitter(
    clip: torch.Tensor, rng: np.random.Generator, brightness: float, contrast: float, saturation: float
) -> torch.Tensor:
    """Clip-consistent brightness, contrast and saturation jitter of a ``3×T×H×W`` clip in
    [0, 1], applied in random order with factors drawn from ``[1-s, 1+s]``."""
    ops = []
    if brightness:
        f = rng.uniform(1 - brightness, 1 + brightness)
        ops.append(lambda c, f=f: c * f)
    if contrast:
        f = rng.uniform(1 - contrast, 1 + contrast)
        ops.append(lambda c, f=f: (c - c.mean()) * f + c.mean())
    if saturation:
        f = rng.uniform(1 - saturation, 1 + saturation)
        ops.append(lambda c, f=f: (c - _gray(c)) * f + _gray(c))
    for i in rng.permutation(len(ops)):
        clip = ops[i](clip).clamp_(0, 1)
    return clip


def _gray(clip: torch.Tensor) -> torch.Tensor:
    weights = torch.tensor([0.299, 0.587, 0.114], dtype=clip.dtype).view(3, 1, 1, 1)
    return (clip * weights).sum(0, keepdim=True)


def grayscale(clip: torch.Tensor) -> torch.Tensor:
    """Luma replicated over the 3 channels of a ``3×T×H×W`` clip."""
    return _gray(clip).expand_as(clip).clone()


def to_tensor(
    frames: np.ndarray, mean: list[float] | None = None, std: list[float] | None = None
) -> torch.Tensor:
    """``T×H×W×3`` uint8 → ``3×T×H×W`` float32 in [0, 1], or, with ``mean`` and ``std``, already
    normalised, ``(x/255 − mean)/std`` (one pass over the clip instead of three)."""
    clip = torch.from_numpy(frames).permute(3, 0, 1, 2)
    clip = clip.to(torch.float32, memory_format=torch.contiguous_format)
    if mean is None or std is None:
        return clip.div_(255)
    scale = torch.tensor([1 / (255 * s) for s in std]).view(3, 1, 1, 1)
    shift = torch.tensor([-m / s for m, s in zip(mean, std, strict=True)]).view(3, 1, 1, 1)
    return clip.mul_(scale).add_(shift)


def normalize(clip: torch.Tensor, mean: list[float], std: list[float]) -> torch.Tensor:
    """Per-channel ``(x - mean) / std`` of a ``3×T×H×W`` clip, in place."""
    m = torch.tensor(mean, dtype=clip.dtype).view(3, 1, 1, 1)
    s = torch.tensor(std, dtype=clip.dtype).view(3, 1, 1, 1)
    return clip.sub_(m).div_(s)
