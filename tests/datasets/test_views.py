"""Clip sampling and augmentation of views, on the seeds' samplers."""

from __future__ import annotations

import numpy as np
import torch

from vidssl_datasets.clip_sampler import distant_start, random_start
from vidssl_datasets.view import ViewSpec, frame_indices
from vidssl_datasets.view_render import render_view


def specs(**views):
    return {name: ViewSpec(**kw) for name, kw in views.items()}


def test_loop_padding_uniform_and_center_clips():
    rng = np.random.default_rng(0)
    short = frame_indices(specs(a=dict(clip_len=8, stride=2, sampler="center")), 5, rng)["a"]
    assert short == [[0, 2, 4, 1, 3, 0, 2, 4]], "short videos wrap around"
    uniform = frame_indices(specs(a=dict(clip_len=4, sampler="uniform", num_clips=3)), 24, rng)["a"]
    assert [c[0] for c in uniform] == [0, 10, 20]
    center = frame_indices(specs(a=dict(clip_len=4, stride=2, sampler="center")), 20, rng)["a"]
    assert center == [[6, 8, 10, 12]]


def test_same_time_and_different_time_views():
    for seed in range(20):
        idx = frame_indices(
            specs(
                q=dict(clip_len=4),
                k=dict(clip_len=4, same_time_as="q"),
                n=dict(clip_len=4, different_time_from="q", min_gap=3),
            ),
            40,
            np.random.default_rng(seed),
        )
        assert idx["k"] == idx["q"]
        assert abs(idx["n"][0][0] - idx["q"][0][0]) >= 3


def seed_negative_start(n, span, anchor_1based, draw_1based):
    """Seed 002's rule (data/dataset.py, 1-based frame numbers) for the negative's start."""
    s_n = draw_1based
    if abs(s_n - anchor_1based) < 2:
        s_n = (s_n + n // 3) % n
        if s_n == 0:
            s_n = 1
    return s_n


def test_different_time_start_follows_the_seed_rule_short_videos_included():
    for n, span in ((40, 16), (17, 16), (10, 16), (5, 16), (64, 64), (3, 8)):
        for seed in range(200):
            rng = np.random.default_rng(seed)
            anchor = random_start(n, span, rng)
            draw = random_start(n, span, np.random.default_rng([seed, 1]))
            ours = distant_start(n, span, anchor, 2, np.random.default_rng([seed, 1]))
            assert ours + 1 == seed_negative_start(n, span, anchor + 1, draw + 1), (n, span, seed)
            assert 0 <= ours < n


def test_mlfo_halves_and_global_clip_share_one_span():
    views = specs(
        c1=dict(clip_len=16, part="first", rate_max=3.0),
        c2=dict(clip_len=16, part="second", same_time_as="c1"),
        g=dict(clip_len=16, part="global", same_time_as="c1"),
    )
    rates = []
    for seed in range(30):
        idx = frame_indices(views, 200, np.random.default_rng(seed))
        c1, c2, g = idx["c1"][0], idx["c2"][0], idx["g"][0]
        span = c1 + c2
        assert g == span[::2] and len(c1) == len(c2) == len(g) == 16
        steps = np.diff(span)
        assert steps.min() >= 1 and max(span) <= 199
        rates.append((span[-1] - span[0]) / 31)
    assert 1.0 <= min(rates) and max(rates) <= 3.0 and max(rates) - min(rates) > 0.5
    # a video too short for a high rate: the rate is capped by its length
    idx = frame_indices(views, 40, np.random.default_rng(0))
    assert max(idx["c1"][0] + idx["c2"][0]) <= 39


def test_clip_consistent_versus_per_frame_colour():
    frames = np.full((6, 20, 20, 3), 120, np.uint8)
    mean, std = [0.0] * 3, [1.0] * 3
    clip = render_view(
        frames,
        ViewSpec(clip_len=6, size=20, color_jitter=[0.8, 0, 0], mean=mean, std=std),
        np.random.default_rng(1),
    )
    per_frame = render_view(
        frames,
        ViewSpec(clip_len=6, size=20, color_jitter=[0.8, 0, 0], mean=mean, std=std, per_frame_color=True),
        np.random.default_rng(1),
    )
    brightness = clip.mean((0, 2, 3))
    assert torch.allclose(brightness, brightness[0].expand(6)), "one jitter for the whole clip"
    assert per_frame.mean((0, 2, 3)).std() > 0.01, "a jitter per frame"
    rotated = render_view(
        np.random.default_rng(2).integers(0, 255, (2, 20, 20, 3), dtype=np.uint8),
        ViewSpec(clip_len=2, size=20, rotation=10.0),
        np.random.default_rng(3),
    )
    assert rotated.shape == (3, 2, 20, 20)


def test_residual_view_is_the_difference_of_normalised_frames():
    rng = np.random.default_rng(4)
    still = np.repeat(rng.integers(0, 255, (1, 20, 20, 3), dtype=np.uint8), 5, axis=0)
    moving = still.copy()
    moving[:, 5:10, 5:10] = (np.arange(5) * 40)[:, None, None, None]  # a patch brightening by 40
    std = [0.2, 0.25, 0.5]
    view = ViewSpec(clip_len=5, size=20, residual=True, mean=[0.5] * 3, std=std)
    static = render_view(still, view, np.random.default_rng(0))
    assert static.shape == (3, 4, 20, 20) and static.abs().max() == 0, "static content cancels"
    diff = render_view(moving, view, np.random.default_rng(0))
    expected = torch.tensor(40 / 255) / torch.tensor(std)
    assert torch.allclose(diff[:, :, 5:10, 5:10], expected.view(3, 1, 1, 1).expand(3, 4, 5, 5))
    assert diff[:, :, :5].abs().max() == 0
