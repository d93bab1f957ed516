"""``synthetic_motion``: an embedded, procedurally generated action dataset whose classes differ
only in motion.

Ten classes, five pairs; the second class of each pair is the first one played backwards, so
temporal order matters:

====  ===============  ==============================================================
 id    class            motion of the textured object over the video
====  ===============  ==============================================================
 0     move_right       constant-speed translation to the right (0.35–0.55 frame widths)
 1     move_left        the same, reversed in time (translation to the left)
 2     rotate_cw        clockwise rotation by 120–240°
 3     rotate_ccw       counter-clockwise (reversed)
 4     zoom_in          growing ×1.6–2.4 (approach)
 5     zoom_out         shrinking (reversed)
 6     speed_up         starts at rest and accelerates, in a random direction
 7     slow_down        decelerates to rest (reversed)
 8     swing_grow       oscillation of growing amplitude along a random axis
 9     swing_fade       damped oscillation (reversed)
====  ===============  ==============================================================

Appearance carries no class information: object shape, texture and colours, background texture
and colours, static distractor objects, camera jitter and pixel noise are drawn independently of
the class. Object and background *families* are split: the test split uses families never seen
in training, so appearance cannot be memorised. A horizontal flip turns classes 0↔1 and 2↔3; a
time reversal swaps every pair; the dataset declares both so that transforms refuse them as
label-preserving augmentations.

The labelled ``train`` and ``test`` splits are written to disk as MJPG ``.avi`` files with
UCF101-style ``classInd.txt``, ``trainlist01.txt`` and ``testlist01.txt`` and read back through
the ordinary video readers. The ``unlabeled`` split is rendered in memory, fresh every epoch
(a video takes a few milliseconds), from the training families.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import math
import os
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path

import cv2
import numpy as np

CLASSES = [
    "move_right",
    "move_left",
    "rotate_cw",
    "rotate_ccw",
    "zoom_in",
    "zoom_out",
    "speed_up",
    "slow_down",
    "swing_grow",
    "swing_fade",
]
#: transforms that change the class: transform → {class → class it becomes}
LABEL_SWAPS = {
    "hflip": {0: 1, 1: 0, 2: 3, 3: 2},
    "reverse": {2 * i + j: 2 * i + 1 - j for i in range(5) for j in range(2)},
}
N_SHAPES, N_TEXTURES, N_BACKGROUNDS = 8, 4, 6
GENERATOR_VERSION = 1
#: families held out for the test split
TEST_SHAPES, TEST_BACKGROUNDS = (6, 7), (4, 5)


@dataclass(frozen=True)
class SyntheticMotionConfig:
    """Defaults of the embedded dataset: fixed once, so every method's numbers are comparable."""

    size: int = 32  # frame side, pixels
    frames: int = 24  # frames per video
    train_per_class: int = 200  # labelled training videos per class
    test_per_class: int = 60  # held-out test videos per class (≥ 500 in total)
    seed: int = 0
    noise: float = 6.0  # pixel noise std (0–255 scale)
    jitter: float = 0.3  # camera jitter std, pixels per frame (random walk)
    distractors: int = 2  # static objects besides the moving one


def _shape_mask(shape: int, side: int, rng: np.random.Generator) -> np.ndarray:
    """Binary mask (side×side float32) of one shape family, randomly proportioned."""
    mask = np.zeros((side, side), np.uint8)
    c, r = side // 2, side // 2 - 1
    if shape == 0:  # ellipse
        cv2.ellipse(mask, (c, c), (r, max(2, int(r * rng.uniform(0.45, 0.8)))), 0, 0, 360, 1, -1)
    elif shape == 1:  # rectangle
        h = max(2, int(r * rng.uniform(0.45, 0.8)))
        mask[c - h : c + h, 1:-1] = 1
    elif shape == 2:  # triangle
        pts = np.array([[c, 1], [side - 2, side - 3], [1, side - 3]], np.int32)
        cv2.fillPoly(mask, [pts], 1)
    elif shape == 3:  # L shape
        t = max(2, int(r * rng.uniform(0.5, 0.8)))
        mask[1:-1, 1 : 1 + t] = 1
        mask[-1 - t : -1, 1:-1] = 1
    elif shape == 4:  # arrow-like pentagon
        pts = np.array(
            [
                [1, c - r // 2],
                [c, c - r // 2],
                [c, 1],
                [side - 2, c],
                [c, side - 2],
                [c, c + r // 2],
                [1, c + r // 2],
            ],
            np.int32,
        )
        cv2.fillPoly(mask, [pts], 1)
    elif shape == 5:  # semicircle
        cv2.ellipse(mask, (c, c), (r, r), 0, 180, 360, 1, -1)
        mask[c : c + max(2, r // 3), 1:-1] = 1
    elif shape == 6:  # star
        pts = [
            (
                c + (r if k % 2 == 0 else r * 0.45) * math.cos(k * math.pi / 5 - math.pi / 2),
                c + (r if k % 2 == 0 else r * 0.45) * math.sin(k * math.pi / 5 - math.pi / 2),
            )
            for k in range(10)
        ]
        cv2.fillPoly(mask, [np.array(pts, np.int32)], 1)
    else:  # T shape
        t = max(2, int(r * rng.uniform(0.45, 0.7)))
        mask[1 : 1 + t, 1:-1] = 1
        mask[1:-1, c - t // 2 : c + t // 2 + 1] = 1
    return mask.astype(np.float32)


def _contrasting(background_mean: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A random colour whose brightness differs from ``background_mean``'s by at least 90."""
    level = background_mean.mean()
    target = rng.uniform(level + 90, 255) if level < 128 else rng.uniform(0, level - 90)
    colour = rng.uniform(0, 255, 3)
    return np.clip(colour - colour.mean() + target, 0, 255)


def _texture(kind: int, side: int, rng: np.random.Generator, base: np.ndarray) -> np.ndarray:
    """side×side×3 float32 texture in two colours around ``base`` (stripes, checks, rings or
    dots)."""
    a = base
    b = np.clip(base + rng.uniform(-60, 60, 3), 0, 255)
    y, x = np.mgrid[0:side, 0:side].astype(np.float32)
    period = rng.uniform(3, 6)
    angle = rng.uniform(0, math.pi)
    u = x * math.cos(angle) + y * math.sin(angle)
    v = -x * math.sin(angle) + y * math.cos(angle)
    if kind == 0:
        t = np.sin(2 * math.pi * u / period) > 0
    elif kind == 1:
        t = (np.floor(u / period) + np.floor(v / period)) % 2 == 0
    elif kind == 2:
        t = np.sin(2 * math.pi * np.hypot(x - side / 2, y - side / 2) / period) > 0
    else:
        t = (np.sin(2 * math.pi * u / period) * np.sin(2 * math.pi * v / period)) > 0.2
    return np.where(t[..., None], a, b).astype(np.float32)


def _background(kind: int, side: int, rng: np.random.Generator) -> np.ndarray:
    """side×side×3 float32 background of one family."""
    y, x = np.mgrid[0:side, 0:side].astype(np.float32) / side
    a = rng.uniform(20, 235, 3)
    b = np.clip(a + rng.uniform(-70, 70, 3), 0, 255)  # low-contrast texture
    f = rng.uniform(2, 5)
    phase = rng.uniform(0, 2 * math.pi)
    if kind == 0:  # linear gradient
        t = x * math.cos(phase) + y * math.sin(phase)
    elif kind == 1:  # soft stripes
        t = 0.5 + 0.5 * np.sin(2 * math.pi * f * (x * math.cos(phase) + y * math.sin(phase)))
    elif kind == 2:  # checkerboard
        t = ((np.floor(x * f * 2) + np.floor(y * f * 2)) % 2).astype(np.float32)
    elif kind == 3:  # blobs
        t = np.zeros_like(x)
        for _ in range(6):
            cx, cy, s = rng.uniform(0, 1), rng.uniform(0, 1), rng.uniform(0.05, 0.2)
            t += np.exp(-((x - cx) ** 2 + (y - cy) ** 2) / (2 * s * s))
        t = np.clip(t, 0, 1)
    elif kind == 4:  # grid lines
        t = (np.abs(np.sin(math.pi * f * 2 * x)) < 0.25) | (np.abs(np.sin(math.pi * f * 2 * y)) < 0.25)
        t = t.astype(np.float32)
    else:  # concentric rings
        t = 0.5 + 0.5 * np.sin(2 * math.pi * f * np.hypot(x - 0.5, y - 0.5) * 2 + phase)
    t = t[..., None]
    img = a * (1 - t) + b * t
    return cv2.GaussianBlur(img.astype(np.float32), (0, 0), 0.8)


def _trajectory(label: int, frames: int, size: int, rng: np.random.Generator):
    """Per-frame object offset (pixels), angle (degrees) and scale for class ``label``."""
    pair, reverse = divmod(label, 2)
    t = np.linspace(0, 1, frames)
    if reverse:
        t = t[::-1]
    offset = np.zeros((frames, 2))
    angle = np.full(frames, rng.uniform(0, 360))
    scale = np.full(frames, rng.uniform(0.85, 1.15))
    direction = rng.uniform(0, 2 * math.pi)
    unit = np.array([math.cos(direction), math.sin(direction)])
    if pair == 0:
        offset[:, 0] = t * rng.uniform(0.45, 0.6) * size
        offset[:, 1] = t * rng.uniform(-0.05, 0.05) * size
    elif pair == 1:
        angle = angle + t * rng.uniform(180, 300)
    elif pair == 2:
        scale = rng.uniform(0.5, 0.6) * np.exp(t * math.log(rng.uniform(2.0, 3.0)))
    elif pair == 3:
        offset = (t**2)[:, None] * rng.uniform(0.45, 0.6) * size * unit
    else:
        cycles = rng.uniform(1.5, 2.5)
        offset = (t * np.sin(2 * math.pi * cycles * t))[:, None] * rng.uniform(0.2, 0.28) * size * unit
    return offset, angle, scale


def render_video(
    label: int,
    seed: int | list[int],
    cfg: SyntheticMotionConfig,
    shapes: tuple[int, ...],
    backgrounds: tuple[int, ...],
) -> np.ndarray:
    """One video of class ``label``: ``frames×size×size×3`` uint8 RGB, fully determined by
    ``seed``; object shapes and backgrounds are drawn from the given families."""
    rng = np.random.default_rng(seed)
    size, margin = cfg.size, cfg.size // 4
    canvas = size + 2 * margin
    background = _background(int(rng.choice(backgrounds)), canvas, rng)
    side = int(size * 0.4) | 1
    background_mean = background.mean((0, 1))
    sprite_mask = _shape_mask(int(rng.choice(shapes)), side, rng)
    sprite = _texture(int(rng.integers(N_TEXTURES)), side, rng, _contrasting(background_mean, rng))
    for _ in range(cfg.distractors):
        d_side = int(size * rng.uniform(0.18, 0.28)) | 1
        mask = _shape_mask(int(rng.choice(shapes)), d_side, rng)[..., None]
        tex = _texture(int(rng.integers(N_TEXTURES)), d_side, rng, _contrasting(background_mean, rng))
        x, y = rng.integers(0, canvas - d_side, 2)
        region = background[y : y + d_side, x : x + d_side]
        region[:] = region * (1 - mask) + tex * mask
    offset, angle, scale = _trajectory(label, cfg.frames, size, rng)
    # place the path so the object stays inside the frame
    low, high = offset.min(0), offset.max(0)
    radius = side * scale.max() * 0.5
    start = [
        rng.uniform(margin + radius - lo, margin + size - radius - hi)
        if margin + size - radius - hi > margin + radius - lo
        else margin + size / 2 - (lo + hi) / 2
        for lo, hi in zip(low, high, strict=True)
    ]
    camera = np.cumsum(rng.normal(0, cfg.jitter, (cfg.frames, 2)), axis=0)
    camera = np.clip(camera, -margin + 1, margin - 1)
    video = np.empty((cfg.frames, size, size, 3), np.uint8)
    for f in range(cfg.frames):
        cx, cy = start[0] + offset[f, 0], start[1] + offset[f, 1]
        m = cv2.getRotationMatrix2D((side / 2, side / 2), angle[f], scale[f])
        m[:, 2] += (cx - side / 2, cy - side / 2)
        alpha = cv2.warpAffine(sprite_mask, m, (canvas, canvas), flags=cv2.INTER_LINEAR)[..., None]
        color = cv2.warpAffine(sprite, m, (canvas, canvas), flags=cv2.INTER_LINEAR)
        frame = background * (1 - alpha) + color * alpha
        ox, oy = margin + camera[f]
        shift = np.float32([[1, 0, -ox], [0, 1, -oy]])
        frame = cv2.warpAffine(frame, shift, (size, size), flags=cv2.INTER_LINEAR)
        frame += rng.normal(0, cfg.noise, frame.shape)
        video[f] = np.clip(frame, 0, 255).astype(np.uint8)
    return video


def split_families(split: str) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """(shape families, background families) used by ``split``."""
    if split == "test":
        return TEST_SHAPES, TEST_BACKGROUNDS
    return (
        tuple(s for s in range(N_SHAPES) if s not in TEST_SHAPES),
        tuple(b for b in range(N_BACKGROUNDS) if b not in TEST_BACKGROUNDS),
    )


def video_seed(cfg: SyntheticMotionConfig, split: str, label: int, k: int, epoch: int = 0) -> list[int]:
    """Seed of the ``k``-th video of class ``label`` in ``split`` (and epoch, for ``unlabeled``)."""
    return [cfg.seed, ["train", "test", "unlabeled"].index(split), label, k, epoch]


def write_video(path: Path, video: np.ndarray, fps: float = 25.0) -> None:
    """Encode ``T×H×W×3`` RGB frames as an MJPG .avi file."""
    h, w = video.shape[1:3]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, (w, h))
    if not writer.isOpened():
        raise OSError(f"cannot open a video writer for {path}")
    writer.set(cv2.VIDEOWRITER_PROP_QUALITY, 95)
    for frame in video:
        writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    writer.release()


def data_key(cfg: SyntheticMotionConfig) -> str:
    """The folder name of one parameter set: readable sizes and a hash of every parameter."""
    meta = json.dumps({"generator": GENERATOR_VERSION, **asdict(cfg)}, sort_keys=True)
    digest = hashlib.sha1(meta.encode()).hexdigest()[:8]
    return f"{cfg.size}px_{cfg.frames}f_{cfg.train_per_class}x{cfg.test_per_class}_{digest}"


def generate(parent: str | Path, cfg: SyntheticMotionConfig) -> Path:
    """Write the labelled splits of ``cfg`` under ``<parent>/<data_key(cfg)>/`` (unless they are
    already there) and return that folder: ``videos/<class>/v_<class>_g<split>_c<k>.avi``,
    ``classInd.txt``, ``trainlist01.txt``, ``testlist01.txt`` and ``meta.json``. Each parameter
    set has its own folder, so datasets of other sizes never touch it; it is written into a
    temporary folder and renamed, under a lock, so processes generating at once wait for one
    writer and a crash leaves no half-written data."""
    root = Path(parent) / data_key(cfg)
    meta = {"generator": GENERATOR_VERSION, **asdict(cfg)}
    meta_file = root / "meta.json"
    if meta_file.is_file() and json.loads(meta_file.read_text()) == meta:
        return root
    root.parent.mkdir(parents=True, exist_ok=True)
    with open(root.with_name(root.name + ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another process may be writing the same folder
        if meta_file.is_file() and json.loads(meta_file.read_text()) == meta:
            return root
        tmp = root.with_name(f"{root.name}.partial-{os.getpid()}")
        shutil.rmtree(tmp, ignore_errors=True)
        _write(tmp, cfg)
        (tmp / "meta.json").write_text(json.dumps(meta, indent=2))
        shutil.rmtree(root, ignore_errors=True)  # only an incomplete copy of this key
        tmp.rename(root)
    return root


def _write(folder: Path, cfg: SyntheticMotionConfig) -> None:
    (folder / "videos").mkdir(parents=True)
    (folder / "classInd.txt").write_text("".join(f"{i + 1} {c}\n" for i, c in enumerate(CLASSES)))
    lists = {"train": [], "test": []}
    for split, per_class in (("train", cfg.train_per_class), ("test", cfg.test_per_class)):
        shapes, backgrounds = split_families(split)
        for label, name in enumerate(CLASSES):
            (folder / "videos" / name).mkdir(exist_ok=True)
            for k in range(per_class):
                rel = f"{name}/v_{name}_g{split}_c{k:04d}.avi"
                video = render_video(label, video_seed(cfg, split, label, k), cfg, shapes, backgrounds)
                write_video(folder / "videos" / rel, video)
                lists[split].append(f"{rel} {label + 1}\n" if split == "train" else f"{rel}\n")
    (folder / "trainlist01.txt").write_text("".join(lists["train"]))
    (folder / "testlist01.txt").write_text("".join(lists["test"]))
