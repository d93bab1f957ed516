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

from vidssl import (
    Backbone,
    ConfigError,
    check,
    checkpoint,
    command_parser,
    get_plugins,
    guarded,
    load_config,
    stage_configs,
)


def last_map(backbone: nn.Module, clip: torch.Tensor) -> torch.Tensor:
    """The backbone's last stage map ``B×C×T'×H'×W'``."""
    return next(reversed(backbone.forward_features(clip).values()))


def reverse(clip: torch.Tensor, residual: bool) -> torch.Tensor:
    """A ``B×3×T×H×W`` clip played backwards (frame differences also change sign)."""
    return -clip.flip(2) if residual else clip.flip(2)


#: a head whose last-epoch accuracy is at or below this (percent) is at chance: its maps are noise
CHANCE = 60.0


def train_head(
    backbone: nn.Module, loader, epochs: int, device: torch.device, residual: bool = False
) -> tuple[nn.Linear, float]:
    """Bias-free Linear(C→2) on pooled last-stage features, normal (0) vs reversed (1) clips;
    Adam lr 1e-3, weight decay 1e-3, lr ×0.1 at 60 % of the epochs. Returns the head and its
    last epoch's accuracy in percent."""
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
        print(
            f"vidssl-cam: head epoch {epoch + 1}/{epochs}: normal-vs-reversed accuracy "
            f"{100 * correct / total:.1f}%",
            file=sys.stderr,
        )
    return head, 100 * correct / total


def cam(backbone: nn.Module, head: nn.Linear, clip: torch.Tensor, channel: int) -> np.ndarray:
    """``T×H×W`` class activation map in [0, 1] of class ``channel`` for a ``1×3×T×H×W`` clip."""
    feature = last_map(backbone, clip)
    maps = torch.einsum("kc,bcthw->bkthw", head.weight, feature)
    maps = F.interpolate(maps, size=clip.shape[2:], mode="trilinear", align_corners=False)
    m = maps[0, channel]
    return ((m - m.min()) / (m.max() - m.min() + 1e-12)).cpu().numpy()


def overlay(frames: np.ndarray, heat: np.ndarray) -> np.ndarray:
    """50/50 blend of ``T×H×W×3`` uint8 RGB frames with the JET-coloured ``T×H×W`` map."""
    import matplotlib  # noqa: PLC0415 -- lazy: start-up

    colour = matplotlib.colormaps["jet"](heat)[..., :3] * 255
    return np.round(0.5 * frames + 0.5 * colour).astype(np.uint8)


def _clip_of(
    video_path: str, clip_len: int, size: int, residual: bool, view: dict
) -> tuple[np.ndarray, torch.Tensor]:
    """The centred ``clip_len`` frames of a video, centre-cropped to ``size²``, read through a
    registered ``video_files`` dataset: uint8 ``T×H×W×3`` frames to draw on and the ``1×3×T×H×W``
    batch the backbone sees, normalised as the config's views are (with ``residual``: one frame
    more, and the batch holds the ``clip_len`` differences)."""
    from vidssl import build  # noqa: PLC0415 -- lazy: start-up

    base = dict(
        clip_len=clip_len + residual,
        size=size,
        sampler="center",
        crop="center",
        **{k: view[k] for k in ("mean", "std") if k in view},
    )
    dataset = build(
        "dataset",
        {"type": "video_files", "paths": [video_path], "view": base, "reader": {"on_error": "raise"}},
        views={"clip": {"residual": residual}, "display": {"mean": [0.0] * 3, "std": [1.0] * 3}},
    )
    views = dataset[0]["views"]
    frames = (views["display"].permute(1, 2, 3, 0) * 255).round().byte().numpy()
    return frames, views["clip"].unsqueeze(0)


def contact_sheet(normal: np.ndarray, backwards: np.ndarray, path: Path, accuracy: float | None) -> None:
    """Both rows of overlays (``T×H×W×3`` each) in one labelled figure with the JET scale; the
    title gives the head's accuracy and warns when it is at chance."""
    import matplotlib  # noqa: PLC0415 -- lazy: start-up

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415 -- lazy: start-up

    steps = len(normal)
    fig, axes = plt.subplots(2, steps, figsize=(1.1 * steps + 1.2, 2.9), squeeze=False)
    rows = (("normal clip,\nclass 0 map", normal), ("reversed clip,\nclass 1 map", backwards))
    for r, (label, images) in enumerate(rows):
        for t, image in enumerate(images):
            ax = axes[r][t]
            ax.imshow(image)
            ax.set_xticks([])
            ax.set_yticks([])
            if r == 0:
                ax.set_title(f"t={t}", fontsize=7)
        axes[r][0].set_ylabel(label, fontsize=7)
    title = "where the backbone sees the arrow of time (vidssl-cam)"
    if accuracy is not None:
        title += f"; head accuracy {accuracy:.0f}%"
        if accuracy <= CHANCE:
            title += " (AT CHANCE: the maps are noise)"
    fig.suptitle(title, fontsize=8, color="red" if accuracy is not None and accuracy <= CHANCE else "black")
    scale = plt.cm.ScalarMappable(cmap="jet", norm=matplotlib.colors.Normalize(0, 1))
    bar = fig.colorbar(scale, ax=axes.ravel().tolist(), fraction=0.02, pad=0.01)
    bar.set_label("class activation (min–max per clip)", fontsize=7)
    bar.ax.tick_params(labelsize=6)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _save_png(path: Path, image: np.ndarray) -> None:
    import matplotlib  # noqa: PLC0415 -- lazy: start-up

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415 -- lazy: start-up

    plt.imsave(path, image)


def main(argv: list[str] | None = None) -> int:
    parser = command_parser("vidssl-cam", __doc__)
    parser.add_argument("config", help="the config whose backbone and first training dataset are used")
    parser.add_argument(
        "--checkpoint",
        required=True,
        help="a vidssl checkpoint with backbone weights (stage_<name>.pt, last.pt)",
    )
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
    view = dict(
        clip_len=args.clip_len + residual,
        size=args.size,
        crop="random_resized",
        scale=(0.5, 1.0),
        residual=residual,
    )
    accuracy = None
    if args.head:
        weight = torch.load(args.head, map_location=device, weights_only=True)
        head = nn.Linear(weight.shape[1], 2, bias=False).to(device)
        head.weight.data.copy_(weight)
    else:
        dataset = registry.build(
            "dataset", {**source, "view": view}, ["stages", "dataset"], views={"clip": {}}
        )
        loader = torch.utils.data.DataLoader(
            dataset, batch_size=args.batch_size, shuffle=True, drop_last=len(dataset) > args.batch_size
        )
        head, accuracy = train_head(backbone, loader, args.epochs, device, residual)
        torch.save(head.weight.detach().cpu(), out / "cam_head.pt")
        if accuracy <= CHANCE:
            print(
                f"vidssl-cam: warning: the head tells normal from reversed clips only "
                f"{accuracy:.1f}% of the time (chance: 50%): its maps show noise, not where "
                f"the backbone sees the arrow of time",
                file=sys.stderr,
            )
    frames, clip = _clip_of(args.video, args.clip_len, args.size, residual, source_view)
    with torch.no_grad():
        # with residual frames, each difference is shown on the later frame of its pair
        steps = clip.shape[2]
        normal = overlay(frames[-steps:], cam(backbone, head, clip.to(device), 0))
        backwards = overlay(
            frames[:steps][::-1].copy(), cam(backbone, head, reverse(clip, residual).to(device), 1)
        )
    for name, images in (("normal", normal), ("reversed", backwards)):
        for t, image in enumerate(images):
            _save_png(out / f"{name}_{t:02d}.png", image)
    contact_sheet(normal, backwards, out / "contact_sheet.png", accuracy)
    print(f"vidssl-cam: {2 * len(normal)} overlays and contact_sheet.png in {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
