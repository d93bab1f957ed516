"""Views: how one clip is cut from a video and augmented.

A dataset config sets the default view (``view=dict(clip_len=16, size=112, ...)``); a method asks
for named views that override some of those fields (``{"query": {}, "key": {"same_time_as":
"query"}}``). Every view becomes a ``3×T×H×W`` tensor (``N×3×T×H×W`` for ``num_clips`` > 1).

Here: a view's fields and which frames each of its clips takes; :mod:`vidssl_datasets.view_render`
cuts and augments the clips (torch code, imported only where clips are made).

A view can also name components of kind ``transform`` that another plugin registers: clip
transforms (``transforms=[dict(type=NAME, ...)]``, applied in order to the normalised clip) and a
temporal sampler (``sampler=dict(type=NAME, ...)`` instead of a built-in name); see
``vidssl_register_transforms`` in :mod:`vidssl._plugin_system.hookspecs`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from vidssl import ConfigError, schema_from_signature, validate_arguments
from vidssl_datasets import clip_sampler as cs

IMAGENET_MEAN = [0.485, 0.456, 0.406]
IMAGENET_STD = [0.229, 0.224, 0.225]


@dataclass(frozen=True)
class ViewSpec:
    """Sampling and augmentation of one view (sizes in pixels, strides in frames, ``rotation``
    the largest clip-consistent rotation in degrees, probabilities for ``flip``, ``grayscale``
    and ``reverse``, colour-jitter strengths as [brightness, contrast, saturation]; colour jitter
    and grayscale are drawn once per clip unless ``per_frame_color``). With ``residual`` the
    view is the clip's frame differences ``x_{t+1} − x_t`` after normalisation (residual frames,
    Tao et al. 2020): static content cancels, and a ``clip_len``-frame clip gives
    ``clip_len − 1`` time steps.

    MLFO's sampling: with ``part`` set, the view is one part of a ``2·clip_len``-frame span taken
    at a random rate in ``[1, rate_max]`` (capped by the video length): its ``first`` or
    ``second`` half, or every 2nd frame of it (``global``); views linked by ``same_time_as``
    share the span.

    ``sampler`` is a built-in rule (``random``, ``center``, ``uniform``) or a registered sampler
    ``dict(type=NAME, ...)``; ``transforms`` lists registered clip transforms."""

    clip_len: int = 16
    stride: int = 1
    sampler: Literal["random", "center", "uniform"] | dict = "random"
    num_clips: int = 1
    rate_max: float = 1.0
    part: Literal["first", "second", "global"] | None = None
    same_time_as: str | None = None
    different_time_from: str | None = None
    min_gap: int = 2
    size: int = 112
    resize: int | None = None
    crop: Literal["random_resized", "multiscale", "center", "three"] = "center"
    scale: tuple[float, float] = (0.5, 1.0)
    scales: list[float] = field(default_factory=lambda: [1.0])
    rotation: float = 0.0
    flip: float = 0.0
    color_jitter: list[float] | None = None
    grayscale: float = 0.0
    per_frame_color: bool = False
    reverse: float = 0.0
    residual: bool = False
    transforms: list[dict] = field(default_factory=list)
    mean: list[float] = field(default_factory=lambda: list(IMAGENET_MEAN))
    std: list[float] = field(default_factory=lambda: list(IMAGENET_STD))

    @property
    def span(self) -> int:
        return (self.clip_len - 1) * self.stride + 1


VIEW_SCHEMA = schema_from_signature(ViewSpec)
# registered components are validated against their own schemas with the config
VIEW_SCHEMA["properties"]["sampler"] = {
    "anyOf": [{"enum": ["random", "center", "uniform"]}, {"x-component": "transform", "type": "object"}]
}
VIEW_SCHEMA["properties"]["transforms"] = {
    "type": "array",
    "items": {"x-component": "transform", "type": "object"},
}


#: a ``--smoke --tiny`` view's limits (and size ≤ 64, one crop)
TINY_VIEW = {"clip_len": 8, "resize": 64, "num_clips": 2}


def tiny_view(view: dict | None) -> dict:
    """``view`` shrunk for ``--smoke --tiny``: clip length, resize and clips per video capped
    (where the view sets them; no resize stays none), size ≤ 64, one crop, and a resize never
    below the size."""
    view = dict(view or {})
    for key, limit in TINY_VIEW.items():
        if view.get(key) is not None:
            view[key] = min(view[key], limit)
    view["size"] = min(view.get("size") or 64, 64)
    if view.get("crop") == "three":
        view["crop"] = "center"
    if view.get("resize") is not None:
        view["resize"] = max(view["resize"], view["size"])
    return view


def make_view_specs(default: dict, views: dict[str, dict], where: str) -> dict[str, ViewSpec]:
    """Merge each requested view over the dataset's default view; check keys and references."""
    validate_arguments(default, VIEW_SCHEMA, [where, "view"])
    specs = {}
    for name, overrides in views.items():
        validate_arguments(overrides, VIEW_SCHEMA, [where, "views", name])
        merged = {**default, **overrides}
        if isinstance(merged.get("scale"), list):
            merged["scale"] = tuple(merged["scale"])
        specs[name] = ViewSpec(**merged)
    for name, spec in specs.items():
        for ref in (spec.same_time_as, spec.different_time_from):
            if ref is not None and ref not in specs:
                raise ConfigError(
                    f"{where}.views.{name}: refers to view '{ref}', which is not "
                    f"requested (views: {', '.join(specs)})"
                )
    return specs


def frame_indices(
    specs: dict[str, ViewSpec], n: int, rng: np.random.Generator, samplers: dict[str, Any] | None = None
) -> dict[str, list[list[int]]]:
    """0-based frame indices of every clip of every view of one ``n``-frame video (views that
    refer to another view are placed after it); ``samplers`` holds the built registered sampler
    of each view whose ``sampler`` is a component."""
    samplers = samplers or {}
    spans: dict[str, list[tuple[int, float]]] = {}  # view → (start, rate) per clip
    pending = list(specs)
    while pending:
        name = pending.pop(0)
        spec = specs[name]
        ref = spec.same_time_as or spec.different_time_from
        if ref is not None and ref not in spans:
            pending.append(name)
            continue
        length = 2 * spec.clip_len if spec.part else spec.span
        if spec.same_time_as:
            spans[name] = spans[spec.same_time_as]
        elif spec.different_time_from:
            spans[name] = [
                (cs.distant_start(n, length, s, spec.min_gap, rng), rate)
                for s, rate in spans[spec.different_time_from]
            ]
        elif spec.part:
            rate = rng.uniform(1.0, max(1.0, min(spec.rate_max, n / length)))
            spans[name] = [(cs.random_start(n, int(np.ceil(length * rate)), rng), rate)]
        elif name in samplers:
            spans[name] = [(int(s), 1.0) for s in samplers[name].starts(n, length, spec.num_clips, rng)]
        elif spec.sampler == "random":
            spans[name] = [(cs.random_start(n, length, rng), 1.0) for _ in range(spec.num_clips)]
        elif spec.sampler == "center":
            spans[name] = [(cs.center_start(n, length), 1.0)] * spec.num_clips
        else:
            spans[name] = [(s, 1.0) for s in cs.uniform_starts(n, length, spec.num_clips)]
    indices = {}
    for name, spec in specs.items():
        if spec.part:
            clips = []
            for start, rate in spans[name]:
                span = [min(n - 1, round(start + rate * i)) for i in range(2 * spec.clip_len)]
                clips.append(
                    {"first": span[: spec.clip_len], "second": span[spec.clip_len :], "global": span[::2]}[
                        spec.part
                    ]
                )
            indices[name] = clips
        else:
            indices[name] = [cs.clip_indices(s, spec.clip_len, spec.stride, n) for s, _ in spans[name]]
    return indices
