"""Rendering a view: the decoded frames of one clip → its augmented tensor (:mod:`vidssl_datasets.view`
says which frames; this is the torch half, imported only where clips are made)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch

from vidssl_datasets import clip_transforms as ct
from vidssl_datasets.view import ViewSpec

ClipTransform = Callable[[torch.Tensor, np.random.Generator], torch.Tensor]


def render_view(
    frames: np.ndarray, spec: ViewSpec, rng: np.random.Generator, transforms: Sequence[ClipTransform] = ()
) -> torch.Tensor:
    """Augment the ``T×H×W×3`` frames of one clip → ``3×T×size×size`` (``3×…`` per crop for
    ``crop="three"``, stacked as ``3(crops)×3×T×size×size``); ``transforms`` (the view's built
    registered clip transforms) run on each normalised crop, before residual differencing."""
    if spec.resize:
        frames = ct.resize_short(frames, spec.resize)
    h, w = frames.shape[1:3]
    if spec.crop == "random_resized":
        boxes = [ct.random_resized_box(h, w, rng, spec.scale)]
    elif spec.crop == "multiscale":
        boxes = [ct.multiscale_box(h, w, rng, spec.scales)]
    elif spec.crop == "center":
        boxes = [ct.grid_box(h, w, min(h, w), 0.5)]
    else:
        boxes = [ct.grid_box(h, w, min(h, w), p) for p in (0.0, 0.5, 1.0)]
    if spec.rotation:
        frames = ct.rotate(frames, rng.uniform(-spec.rotation, spec.rotation))
    clips = []
    colour = bool(spec.color_jitter) or spec.grayscale > 0
    for box in boxes:
        cropped = ct.crop_resize(frames, box, spec.size)
        # without colour augmentation the conversion normalises in the same pass
        clip = ct.to_tensor(cropped) if colour else ct.to_tensor(cropped, spec.mean, spec.std)
        if spec.flip and rng.random() < spec.flip:
            clip = clip.flip(-1)
        if spec.reverse and rng.random() < spec.reverse:
            clip = clip.flip(1)
        if colour:
            parts = clip.unbind(1) if spec.per_frame_color else [clip]
            parts = [_color(part.unsqueeze(1) if spec.per_frame_color else part, spec, rng) for part in parts]
            clip = torch.cat(parts, 1) if spec.per_frame_color else parts[0]
            clip = ct.normalize(clip, spec.mean, spec.std)
        for transform in transforms:
            clip = transform(clip, rng)
        if spec.residual:
            clip = clip.diff(dim=1)
        clips.append(clip)
    return clips[0] if len(clips) == 1 else torch.stack(clips)


def _color(clip: torch.Tensor, spec: ViewSpec, rng: np.random.Generator) -> torch.Tensor:
    if spec.color_jitter:
        clip = ct.color_jitter(clip, rng, *spec.color_jitter)
    if spec.grayscale and rng.random() < spec.grayscale:
        clip = ct.grayscale(clip)
    return clip


def render_views(
    frames: np.ndarray,
    position: dict[int, int],
    indices: dict[str, list[list[int]]],
    specs: dict[str, ViewSpec],
    transforms: dict[str, Sequence[ClipTransform]],
    rng: np.random.Generator,
    repeat: int = 1,
) -> dict[str, torch.Tensor]:
    """Every view's clips cut from the decoded ``frames`` (``position``: frame index → row of
    ``frames``; ``indices``: a view's clips as frame indices) and augmented with ``rng``: a view is
    ``3×T×H×W`` (``N×3×T×H×W`` for N clips), stacked ``repeat×…`` for ``repeat`` > 1 (independent
    augmentations of the same frames)."""

    def once() -> dict[str, torch.Tensor]:
        views = {}
        for name, spec in specs.items():
            clips = [
                render_view(frames[[position[i] for i in ids]], spec, rng, transforms[name])
                for ids in indices[name]
            ]
            views[name] = clips[0] if len(clips) == 1 else torch.stack(clips)
        return views

    repeats = [once() for _ in range(repeat)]
    return repeats[0] if repeat == 1 else {name: torch.stack([r[name] for r in repeats]) for name in specs}
