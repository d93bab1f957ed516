"""The smoke preflight's epoch estimate against the epoch itself, on the main demo's training stages.

``vidssl-run CONFIG --smoke`` projects each training stage's full epoch (``smoke.json``); the same
config then runs its training stages for one epoch each, and each epoch is timed from its stage's
start to its epoch record in ``metrics.jsonl`` (data loading, warm-up and hooks included, the
final evaluation not). Smoke and measured runs are interleaved; the median of the per-repeat
ratios estimate / measured is printed per stage, and the ``ratio:`` line is the worst (farthest
from 1) of them.

    python benchmarks/smoke_estimate.py [--config configs/vtdl_r3d_synthetic.py] [--repeats 5]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from vidssl import load_config, stage_configs

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def training_stages(config: Path) -> list[tuple[int, str, int]]:
    """(index, name, epochs) of the config's training stages."""

    return [
        (i, s["name"], s["epochs"])
        for i, s in enumerate(stage_configs(load_config(config)))
        if s["type"] in ("train", "probe")
    ]


def vidssl_run(*args: str) -> None:
    subprocess.run([str(BIN / "vidssl-run"), *args], check=True, capture_output=True)


def measured_epochs(work: Path) -> dict[str, float]:
    """Stage → seconds from its start to its first epoch record."""
    records = [json.loads(line) for line in (work / "metrics.jsonl").read_text().splitlines()]
    ends = {r["stage"]: r["time"] - r["seconds"] for r in records if r["event"] == "stage"}
    return {
        r["stage"]: r["time"] - ends[r["stage"]] for r in records if r["event"] == "epoch" and r["epoch"] == 1
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default=str(REPO / "configs" / "vtdl_r3d_synthetic.py"))
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    config = Path(args.config)
    stages = training_stages(config)
    ratios: dict[str, list[float]] = {name: [] for _, name, _ in stages}
    with tempfile.TemporaryDirectory() as scratch:
        data = ["data_root=" + str(Path(scratch) / "data")]
        one_epoch = [f"stages.{i}.epochs=1" for i, _, _ in stages] + ["log.progress_bar=False"]
        for repeat in range(args.repeats):
            smoke, full = Path(scratch) / f"smoke{repeat}", Path(scratch) / f"full{repeat}"
            vidssl_run(str(config), "--smoke", "--work-dir", str(smoke), "--cfg-options", *data)
            projected = json.loads((smoke / "smoke.json").read_text())["stages"]
            vidssl_run(
                str(config),
                "--work-dir",
                str(full),
                "--stages",
                ",".join(name for _, name, _ in stages),
                "--cfg-options",
                *data,
                *one_epoch,
            )
            epochs = measured_epochs(full)
            for _, name, config_epochs in stages:
                # smoke.json holds the whole stage at the config's own number of epochs
                estimate = projected[name] / config_epochs
                ratios[name].append(estimate / epochs[name])
                print(
                    f"repeat {repeat + 1}: {name}: epoch estimate {estimate:.1f} s, measured "
                    f"{epochs[name]:.1f} s",
                    flush=True,
                )
    medians = {name: statistics.median(values) for name, values in ratios.items()}
    for name, value in medians.items():
        print(f"{name}: estimate / measured epoch = {value:.2f} (median of {args.repeats})")
    worst = max(medians.values(), key=lambda r: max(r, 1 / r))
    print(f"ratio: {worst:.2f} (the farthest from 1 of the stages; the goal is within 0.5-2)")


if __name__ == "__main__":
    main()
