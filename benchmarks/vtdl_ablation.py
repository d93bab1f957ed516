"""The VTDL seed README's ablation on synthetic_motion: baseline (MoCo), +BA, +temporal negative, +TCA.

Each row runs the pre-training and probe stages of ``configs/vtdl_r3d_synthetic.py`` with the
switches of that row (same seed, same budget) and prints the probe's top-1 next to the random-init
probe of the same config. ``--keep DIR`` keeps each run's results.json and protocols.json in
DIR/<run> (what the generated ablation table of docs/results.md reads).

    python benchmarks/vtdl_ablation.py [--epochs 8] [--keep docs/results/vtdl_ablation] [--rows 3,4]
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

from config_run import config_run

PLAIN = [
    "stages.1.dataset.view.crop=center",
    "stages.1.dataset.view.rotation=0",
    "stages.1.dataset.view.color_jitter=[0,0,0]",
    "stages.1.dataset.view.grayscale=0",
]
#: row → (run name, options)
ROWS = {
    "baseline (MoCo)": (
        "1-moco",
        PLAIN + ["stages.1.method.temporal_negative=False", "stages.1.method.tca=False"],
    ),
    "+ BA": ("2-moco+ba", ["stages.1.method.temporal_negative=False", "stages.1.method.tca=False"]),
    "+ temporal negative": ("3-moco+ba+temporal_negative", ["stages.1.method.tca=False"]),
    "+ TCA (VTDL)": ("4-vtdl", []),
}


def run(options: list[str], stages: str, keep: Path | None) -> dict:
    """The run's results; with ``keep``, its results.json and protocols.json copied there."""
    with config_run(
        "vtdl_r3d_synthetic.py", "--stages", stages, *(["--cfg-options", *options] if options else [])
    ) as work:
        if keep is not None:
            keep.mkdir(parents=True, exist_ok=True)
            for name in ("results.json", "protocols.json"):
                shutil.copy(work / name, keep / name)
        return json.loads((work / "results.json").read_text())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--keep", type=Path, help="keep each run's results and cards in KEEP/<run>")
    parser.add_argument(
        "--rows",
        default="0,1,2,3,4",
        help="which rows to run (0 is the random-init probe), e.g. 3,4 after a "
        "change that only the temporal negative and TCA see",
    )
    args = parser.parse_args()
    keep = (lambda name: args.keep / name) if args.keep else (lambda name: None)
    rows = {int(r) for r in args.rows.split(",")}
    if 0 in rows:
        random = run([], "probe_random", keep("0-random_init"))["probe_random"]["top1"]
        print(f"{'row':<22} {'probe top1':>10}   (random-init probe: {random:.1f})")
    for number, (row, (name, options)) in enumerate(ROWS.items(), start=1):
        if number not in rows:
            continue
        results = run(options + [f"stages.1.epochs={args.epochs}"], "pretrain,probe", keep(name))
        print(f"{row:<22} {results['probe']['top1']:10.1f}", flush=True)


if __name__ == "__main__":
    main()
