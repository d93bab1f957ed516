"""Supervised training of the demo R3D on synthetic_motion, RGB clips against residual frames.

Runs the ``supervised`` stage of ``configs/supervised_r3d_synthetic.py`` for a few epochs twice,
as configured (8 RGB frames every 2nd) and with residual frames (9 frames → 8 differences, as
the SSL demos read them), and prints the held-out top-1 of each: how soon the network leaves
chance when static appearance is cancelled.

    python benchmarks/residual_frames.py [--epochs 3]
"""

from __future__ import annotations

import argparse
import json

from config_run import config_run

RESIDUAL = [
    f"stages.1.{split}.view.{key}"
    for split in ("dataset", "val_dataset")
    for key in ("residual=True", "clip_len=9")
]


def supervised_top1(epochs: int, options: list[str]) -> float:
    with config_run(
        "supervised_r3d_synthetic.py",
        "--stages",
        "supervised",
        "--cfg-options",
        f"stages.1.epochs={epochs}",
        f"stages.1.val_interval={epochs}",
        *options,
    ) as work:
        return json.loads((work / "results.json").read_text())["supervised"]["top1"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=3)
    args = parser.parse_args()
    rgb = supervised_top1(args.epochs, [])
    residual = supervised_top1(args.epochs, RESIDUAL)
    print(
        f"supervised, {args.epochs} epochs: RGB {rgb:.1f} %, residual frames {residual:.1f} % (chance 10 %)"
    )


if __name__ == "__main__":
    main()
