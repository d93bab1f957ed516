"""``vidssl-cam``: where a frozen backbone sees the arrow of time (MLFO's temporal-cue CAM, seed
003).

    vidssl-cam CONFIG --checkpoint CKPT --video PATH --out DIR [--head HEAD.pt] [--epochs 50]

A bias-free linear layer on the globally pooled last stage map of the frozen backbone is trained
to tell normal (0) from time-reversed (1) clips of the config's first training dataset (or loaded
with ``--head``; saved as ``DIR/cam_head.pt``). It is then applied at every position of the
video's last stage map, upsampled (trilinear) to the clip, min–max normalised, coloured with JET
and blended 50/50 with the frames: ``DIR/normal_XX.png`` (class-0 map on the clip),
``DIR/reversed_XX.png`` (class-1 map on the reversed clip) and ``DIR/contact_sheet.png``.
When the config's datasets read residual frames (``view.residual``), so does the tool: the clip
is ``--clip-len`` frame differences, each shown on the later of its two frames.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from vidssl import checkpoint, get_plugins
from vidssl.cli import command_parser, guarded
from vidssl.config import load_config, stage_configs
from vidssl.errors import ConfigError
from vidssl.protocols import Backbone, check


def last_map(backbone: nn.Module, clip: torch.Tensor) -> torch.Tensor:
    """The backbone's last stage map ``B×C×T'×H'×W'``."""
    return next(reversed(backbone.forward_features(clip).values()))


def reverse(clip: torch.Tensor, residual: bool) -> torch.Tensor:
    """A ``B×3×T×H×W`` clip played backwards (frame differences also change sign)."""
    return -clip.flip(2) if residual else clip.flip(2)


def train_head(backbone: nn.Module, loader, epochs: int, device: torch.device,
               residual: bool = False) -> nn.Linear:
    """Bias-free Linear(C→2) on pooled last-stage features, normal (0) vs reversed (1) clips;
    Adam lr 1e-3, weight decay 1e-3, lr ×0.1 at 60 % of the epochs."""
    head = nn.Linear(backbone.feature_info[-1].channels, 2, bias=False).to(device)
    optimizer = torch.optim.Adam(head.parameters(), lr=1e-3, weight_decay=1e-3)
    scheduler = torch.optim.lr_scheduler.MultiStepLR(optimizer, [max(1, int(0.6 * epochs))])
    for epoch in range(epochs):
        correct = total = 0
        for batch in loader:
            clip = batch["views"]["clip"].to(device)
            both = torch.cat([clip, reverse(clip, residual)])
            labels = torch.cat([torch.zeros(len(clip)), torch.ones(len(clip))]).long().to(device)
            with torch.no_grad():
                features = last_map(backbone, both).mean((2, 3, 4))
            logits = head(features)
            loss = F.cross_entropy(logits, labels)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            correct += int((logits.argmax(1) == labels).sum())
            total += len(labels)
        scheduler.step()
        print(f"vidssl-cam: head epoch {epoch + 1}/{epochs}: normal-vs-reversed accuracy "
              f"{100 * correct / total:.1f}%", file=sys.stderr)
    return head


def cam(backbone: nn.Module, head: nn.Linear, clip: torch.Tensor, channel: int) -> np.ndarray:
    """``T×H×W`` class activation map in [0, 1] of class ``channel`` for a ``1×3×T×H×W`` clip."""
    feature = last_map(backbone, clip)
    maps = torch.einsum("kc,bcthw->bkthw", head.weight, feature)
    maps = F.interpolate(maps, size=clip.shape[2:], mode="trilinear", align_corners=False)
    m = maps[0, channel]
    return ((m - m.min()) / (m.max() - m.min() + 1e-12)).cpu().numpy()


def overlay(frames: np.ndarray, heat: np.ndarray) -> np.ndarray:
    """50/50 blend of ``T×H×W×3`` uint8 RGB frames with the JET-coloured ``T×H×W`` map."""
    import matplotlib

    colour = matplotlib.colormaps["jet"](heat)[..., :3] * 255
    return np.round(0.5 * frames + 0.5 * colour).astype(np.uint8)


def _clip_of(video_path: str, clip_len: int, size: int, residual: bool,
             view: dict) -> tuple[np.ndarray, torch.Tensor]:
    """The centred ``clip_len`` frames of a video, centre-cropped to ``size²``, read through a
    registered ``video_files`` dataset: uint8 ``T×H×W×3`` frames to draw on and the ``1×3×T×H×W``
    batch the backbone sees, normalised as the config's views are (with ``residual``: one frame
    more, and the batch holds the ``clip_len`` differences)."""
    from vidssl import build

    base = dict(clip_len=clip_len + residual, size=size, sampler="center", crop="center",
                **{k: view[k] for k in ("mean", "std") if k in view})
    dataset = build("dataset", {"type": "video_files", "paths": [video_path], "view": base,
                                "reader": {"on_error": "raise"}},
                    views={"clip": {"residual": residual},
                           "display": {"mean": [0.0] * 3, "std": [1.0] * 3}})
    views = dataset[0]["views"]
    frames = (views["display"].permute(1, 2, 3, 0) * 255).round().byte().numpy()
    return frames, views["clip"].unsqueeze(0)


def _save_png(path: Path, image: np.ndarray) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.imsave(path, image)


def main(argv: list[str] | None = None) -> int:
    parser = command_parser("vidssl-cam", __doc__)
    parser.add_argument("config", help="the config whose backbone and first training dataset "
                                       "are used")
    parser.add_argument("--checkpoint", required=True,
                        help="a vidssl checkpoint with backbone weights (stage_<name>.pt, last.pt)")
    parser.add_argument("--video", required=True, help="the video to draw the maps on")
    parser.add_argument("--out", required=True, help="output folder for the PNGs and the head")
    parser.add_argument("--head", help="a trained cam_head.pt to use instead of training one")
    parser.add_argument("--epochs", type=int, default=50, help="head training epochs")
    parser.add_argument("--clip-len", type=int, default=16, help="frames per clip")
    parser.add_argument("--size", type=int, default=112, help="clip side in pixels")
    parser.add_argument("--batch-size", type=int, default=32, help="head training batch")
    args = parser.parse_args(argv)
    return guarded("vidssl-cam", lambda: run(args), args.debug)


def run(args: argparse.Namespace) -> int:
    cfg = load_config(args.config)
    registry = get_plugins().registry
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    backbone = registry.build("backbone", cfg["backbone"], ["backbone"]).to(device).eval()
    check(backbone, Backbone, "backbone")
    saved = checkpoint.load(args.checkpoint, device)
    backbone.load_state_dict(checkpoint.backbone_state(saved, args.checkpoint))
    for p in backbone.parameters():
        p.requires_grad_(False)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    source = next((s["dataset"] for s in stage_configs(cfg) if s.get("dataset")), None)
    if source is None:
        raise ConfigError(f"{args.config}: no stage with a dataset to train the CAM head on")
    source_view = source.get("view") or {}
    residual = bool(source_view.get("residual", False))
    view = dict(clip_len=args.clip_len + residual, size=args.size, crop="random_resized",
                scale=(0.5, 1.0), residual=residual)
    if args.head:
        weight = torch.load(args.head, map_location=device, weights_only=True)
        head = nn.Linear(weight.shape[1], 2, bias=False).to(device)
        head.weight.data.copy_(weight)
    else:
        dataset = registry.build("dataset", {**source, "view": view},
                                 ["stages", "dataset"], views={"clip": {}})
        loader = torch.utils.data.DataLoader(dataset, batch_size=args.batch_size, shuffle=True,
                                             drop_last=len(dataset) > args.batch_size)
        head = train_head(backbone, loader, args.epochs, device, residual)
        torch.save(head.weight.detach().cpu(), out / "cam_head.pt")
    frames, clip = _clip_of(args.video, args.clip_len, args.size, residual, source_view)
    with torch.no_grad():
        # with residual frames, each difference is shown on the later frame of its pair
        steps = clip.shape[2]
        normal = overlay(frames[-steps:], cam(backbone, head, clip.to(device), 0))
        backwards = overlay(frames[:steps][::-1].copy(),
                            cam(backbone, head, reverse(clip, residual).to(device), 1))
    for name, images in (("normal", normal), ("reversed", backwards)):
        for t, image in enumerate(images):
            _save_png(out / f"{name}_{t:02d}.png", image)
    sheet = np.concatenate([np.concatenate(list(normal), 1), np.concatenate(list(backwards), 1)],
                           0)
    _save_png(out / "contact_sheet.png", sheet)
    print(f"vidssl-cam: {2 * len(normal)} overlays and contact_sheet.png in {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
