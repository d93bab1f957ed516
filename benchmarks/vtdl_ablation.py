"""The VTDL README ablation on synthetic_motion: baseline (MoCo), +BA, +temporal negative, +TCA.

Each row runs the pre-training and probe stages of ``configs/vtdl_r3d_synthetic.py`` with the
switches of that row (same seed, same budget) and prints the probe's top-1 next to the random-init
probe of the same config.

    python benchmarks/vtdl_ablation.py [--epochs 8]
"""
from __future__ import annotations

import argparse
import json

from config_run import config_run

PLAIN = ["stages.1.dataset.view.crop=center", "stages.1.dataset.view.rotation=0",
         "stages.1.dataset.view.color_jitter=[0,0,0]",
         "stages.1.dataset.view.grayscale=0"]
ROWS = {
    "baseline (MoCo)": PLAIN + ["stages.1.method.temporal_negative=False", "stages.1.method.tca=False"],
    "+ BA": ["stages.1.method.temporal_negative=False", "stages.1.method.tca=False"],
    "+ temporal negative": ["stages.1.method.tca=False"],
    "+ TCA (VTDL)": [],
}


def run(options: list[str], stages: str) -> dict:
    with config_run("vtdl_r3d_synthetic.py", "--stages", stages,
                    *(["--cfg-options", *options] if options else [])) as work:
        return json.loads((work / "results.json").read_text())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=8)
    args = parser.parse_args()
    random = run([], "probe_random")["probe_random"]["top1"]
    print(f"{'row':<22} {'probe top1':>10}   (random-init probe: {random:.1f})")
    for row, options in ROWS.items():
        results = run(options + [f"stages.1.epochs={args.epochs}"], "pretrain,probe")
        print(f"{row:<22} {results['probe']['top1']:10.1f}", flush=True)


if __name__ == "__main__":
    main()
