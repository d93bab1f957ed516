"""``vidssl-bench synthetic``: the synthetic_motion leaderboard of every installed method that
registers a demo config (``register(name, builder, demo_config=PATH)``; a third-party plugin's
method joins the same way).

Each method's demo config runs once per seed (stages up to its score stage: ``probe`` for a
self-supervised method, ``supervised`` for a supervised one) into OUT/<method>/seed<N>; a run
already finished there is reused. Its score is that stage's top-1; its baseline, the
random-init linear probe (``probe_random``) of the same run, on the same input; the gain, their
difference, passes at +10 points on every seed. OUT/leaderboard.md and leaderboard.json are
rewritten after every run (mean ± std over seeds, each value, minutes per run); --table prints it
again. Below it, the calibration (vidssl_methods.bench_calibration): chance, pixel probes on each input
the random-init probes read (OUT/calibration.json, computed once), the random-init probes and the
supervised runs, each with its pair metrics where the dataset declares a time-reversal swap.
--tiny runs each stage as the --smoke --tiny preflight does (a few videos, 2 iterations; pixel
probes on 40 videos): what CI runs.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path
from typing import Any

from vidssl import (
    ConfigError,
    command_parser,
    guarded,
    integer_list,
    mean_std,
    shrink_dataset,
    write_json,
)
from vidssl_methods import bench_calibration as calibration

PASS_GAIN = 10.0
#: what the calibration expects of each kind of row
EXPECTED = {"pixel": "≈ chance", "random_init": "< 40", "supervised": "≥ 80"}
TINY_PIXEL_VIDEOS = 40


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = command_parser("vidssl-bench", __doc__)
    parser.add_argument("suite", choices=["synthetic"], help="the benchmark to run")
    parser.add_argument(
        "--methods", help="comma-separated method names (default: every method with a demo config)"
    )
    parser.add_argument("--seeds", default="0", help="comma-separated seeds")
    parser.add_argument(
        "--out", default="work_dirs/bench_synthetic", help="where runs and the leaderboard go"
    )
    parser.add_argument(
        "--data-root",
        help="where synthetic_motion is generated (default: as vidssl-run: $VIDSSL_DATA_ROOT or data)",
    )
    parser.add_argument("--tiny", action="store_true", help="each stage as the --smoke --tiny preflight (CI)")
    parser.add_argument(
        "--table",
        action="store_true",
        help="print the leaderboard of OUT/leaderboard.json only (nothing runs)",
    )
    return parser.parse_args(argv)


def entries(registry, names: list[str] | None) -> list[tuple[str, Any]]:
    """(method name, component) of the methods to rank."""
    found = {c.name: c for c in registry.all() if c.kind == "method" and c.demo_config}
    if names:
        unknown = [n for n in names if n not in found]
        if unknown:
            raise ConfigError(
                f"--methods: no demo config registered for "
                f"{', '.join(unknown)} (methods with one: {', '.join(sorted(found))})"
            )
        return [(n, found[n]) for n in names]
    return sorted(found.items())


def score_stage(stages: list[dict[str, Any]], config: str) -> str:
    names = [s["name"] for s in stages]
    for name in ("probe", "supervised"):
        if name in names and "probe_random" in names:
            return name
    raise ConfigError(
        f"demo config {config} needs a 'probe_random' stage and a 'probe' (or "
        f"'supervised') stage to be ranked; its stages: {', '.join(names)}"
    )


def with_confusion_reports(cfg: dict[str, Any]) -> None:
    """Turn on ``report`` (per-class accuracy and ``<stage>_confusion.tsv``) wherever the config's
    evaluator is the classification one, for the calibration's pair metrics."""
    for holder in [cfg.get("stage_defaults", {}), *cfg["stages"]]:
        evaluator = holder.get("evaluator")
        if isinstance(evaluator, dict) and evaluator.get("type") == "classification":
            evaluator["report"] = True


def demo_config(component, seed: int, data_root: str | None) -> dict[str, Any]:
    """The method's demo config for this seed (and data root), with confusion reports on."""
    from vidssl import load_config  # noqa: PLC0415 -- lazy: start-up

    if not Path(component.demo_config).is_file():
        raise ConfigError(
            f"method '{component.name}' ({component.distribution}): its demo config "
            f"{component.demo_config} does not exist"
        )
    options = [f"seed={seed}"] + ([f"data_root={data_root}"] if data_root else [])
    cfg = load_config(component.demo_config, options)
    with_confusion_reports(cfg)
    return cfg


def calibrate(methods: list[tuple[str, Any]], out: Path, data_root: str | None, tiny: bool) -> dict[str, Any]:
    """OUT/calibration.json: each method's probe input and the pixel probes of every input,
    computed for the inputs it does not hold yet."""
    from vidssl import get_plugins  # noqa: PLC0415 -- lazy: start-up

    saved = out / "calibration.json"
    state = json.loads(saved.read_text()) if saved.is_file() else {"inputs": {}, "methods": {}}
    for name, component in methods:
        cfg = demo_config(component, 0, data_root)
        stage = next(s for s in cfg["stages"] if s["name"] == "probe_random")
        if tiny:  # the data the --tiny runs read (synthetic_motion: its small copy)
            for key in ("dataset", "val_dataset"):
                shrink_dataset(stage[key])
        kind = calibration.probe_input(stage)
        state["methods"][name] = kind
        if kind not in state["inputs"]:
            print(f"vidssl-bench: pixel probes on {kind}", flush=True)
            state["inputs"][kind] = calibration.pixel_probes(
                get_plugins().registry, stage, TINY_PIXEL_VIDEOS if tiny else None
            )
    out.mkdir(parents=True, exist_ok=True)
    write_json(saved, state, indent=1)
    return state


def with_pairs(record: dict[str, Any], work_dir: Path, reverse: dict[str, int]) -> dict[str, Any]:
    """The record with the pair metrics of its score and random-init stages (from their
    confusion matrices in ``work_dir``), where they are not in it yet."""
    if "pairs" not in record:
        swap = {int(a): int(b) for a, b in reverse.items()}
        record["pairs"] = {
            key: calibration.stage_pair_metrics(work_dir, stage, swap)
            for key, stage in (("score", record["score_stage"]), ("random_init", "probe_random"))
        }
    return record


def run_entry(
    component, seed: int, out: Path, data_root: str | None, tiny: bool, reverse: dict[str, int]
) -> dict[str, Any]:
    """One method on one seed: its (reused or new) run's score, baseline, pair metrics and
    minutes."""
    from vidssl import execute  # noqa: PLC0415 -- lazy: start-up

    work_dir = out / component.name / f"seed{seed}"
    record_file = work_dir / "bench.json"
    if record_file.is_file():
        record = json.loads(record_file.read_text())
        if "pairs" not in record:
            write_json(record_file, with_pairs(record, work_dir, reverse), indent=1)
        return record
    cfg = demo_config(component, seed, data_root)
    stages = [s["name"] for s in cfg["stages"]]
    score = score_stage(cfg["stages"], component.demo_config)
    only = stages[: stages.index(score) + 1]
    started = time.perf_counter()
    results, stopped, _ = execute(
        cfg, work_dir, only=only, overwrite=True, smoke=2 if tiny else None, tiny=tiny
    )
    if stopped is not None:
        raise ConfigError(f"method '{component.name}' seed {seed}: stopped by a hook: {stopped}")
    record = {
        "method": component.name,
        "distribution": component.distribution,
        "version": component.version,
        "config": component.demo_config,
        "seed": seed,
        "score_stage": score,
        "score": results[score]["top1"],
        "random_init": results["probe_random"]["top1"],
        "minutes": (time.perf_counter() - started) / 60,
        "tiny": tiny,
    }
    record["gain"] = record["score"] - record["random_init"]
    write_json(record_file, with_pairs(record, work_dir, reverse), indent=1)
    return record


def _spread(values: list[float]) -> str:
    mean, std = mean_std(values)
    return f"{mean:.1f} ± {std:.1f} ({', '.join(f'{v:.1f}' for v in values)})"


def leaderboard(records: list[dict[str, Any]], state: dict[str, Any]) -> str:
    """The Markdown tables: one row per method, best mean gain first; then the calibration."""
    by_method: dict[str, list[dict[str, Any]]] = {}
    for record in records:
        by_method.setdefault(record["method"], []).append(record)
    rows = sorted(by_method.values(), key=lambda rs: -statistics.fmean(r["gain"] for r in rs))
    lines = [
        "| method | distribution | stage | top-1 (%) | random-init probe (%) | gain | pass "
        f"(+{PASS_GAIN:.0f} on every seed) | minutes per run |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for rs in rows:
        gains = [r["gain"] for r in rs]
        passed = "yes" if min(gains) >= PASS_GAIN else "no"
        lines.append(
            f"| {rs[0]['method']} | {rs[0]['distribution']} {rs[0]['version']} | "
            f"{rs[0]['score_stage']} | {_spread([r['score'] for r in rs])} | "
            f"{_spread([r['random_init'] for r in rs])} | {_spread(gains)} | {passed} | "
            f"{statistics.fmean(r['minutes'] for r in rs):.1f} |"
        )
    seeds = sorted({r["seed"] for r in records})
    tiny = " (--tiny: preflight-sized, the numbers mean nothing)" if any(r["tiny"] for r in records) else ""
    calibrated = calibration_table(records, state)
    return (
        "\n".join(lines)
        + f"\n\nseeds {', '.join(map(str, seeds))}{tiny}\n"
        + (f"\n{calibrated}" if calibrated else "")
    )


def calibration_table(records: list[dict[str, Any]], state: dict[str, Any]) -> str:
    """Chance, the pixel probes of each input, the random-init probes per input (one per seed:
    the same run whichever method made it) and every supervised score stage."""
    inputs = state["inputs"]
    if not inputs:
        return ""
    first = next(iter(inputs.values()))
    metrics = ["top1", "pair_accuracy", "within_pair_accuracy"] if first["reverse"] else ["top1"]
    names = {
        "top1": "top-1 (%)",
        "pair_accuracy": "pair accuracy (%)",
        "within_pair_accuracy": "within-pair accuracy (%)",
    }
    lines = [
        f"| calibration | input | {' | '.join(names[m] for m in metrics)} | expected |",
        "|---|---|" + "---|" * len(metrics) + "---|",
        "| chance | | "
        + " | ".join(f"{v:.1f}" for v in calibration.chance(first["classes"], first["reverse"]).values())
        + " | |",
    ]
    for kind, found in inputs.items():
        for probe, values in found["probes"].items():
            lines.append(
                f"| pixel probe on the {probe} | {kind} | "
                + " | ".join(f"{values[m]:.1f}" for m in metrics)
                + f" | {EXPECTED['pixel']} |"
            )
    groups: dict[tuple[str, str], dict[int, dict[str, float]]] = {}
    for r in records:
        kind = state["methods"].get(r["method"], "?")
        pairs = r.get("pairs") or {}
        groups.setdefault(("random-init probe", kind), {})[r["seed"]] = pairs.get("random_init") or {
            "top1": r["random_init"]
        }
        if r["score_stage"] == "supervised":
            groups.setdefault((r["method"], kind), {})[r["seed"]] = pairs.get("score") or {"top1": r["score"]}
    for (label, kind), by_seed in groups.items():
        expected = EXPECTED["random_init" if label == "random-init probe" else "supervised"]
        cells = []
        for m in metrics:
            values = [v[m] for _, v in sorted(by_seed.items()) if m in v]
            cells.append(_spread(values) if values else "")
        lines.append(
            f"| {label}, seeds {', '.join(map(str, sorted(by_seed)))} | {kind} | "
            + " | ".join(cells)
            + f" | {expected} |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)

    def body() -> int:
        from vidssl import get_plugins  # noqa: PLC0415 -- lazy: start-up

        out = Path(args.out)
        if args.table:
            saved = out / "leaderboard.json"
            if not saved.is_file():
                raise ConfigError(f"--table: {saved} does not exist (run the benchmark first)")
            state = out / "calibration.json"
            print(
                leaderboard(
                    json.loads(saved.read_text()),
                    json.loads(state.read_text()) if state.is_file() else {"inputs": {}, "methods": {}},
                ),
                end="",
            )
            return 0
        methods = entries(
            get_plugins().registry, [m.strip() for m in args.methods.split(",")] if args.methods else None
        )
        state = calibrate(methods, out, args.data_root, args.tiny)
        reverse = next((found["reverse"] for found in state["inputs"].values()), {})
        records = []
        for seed in integer_list(args.seeds, "seeds"):  # seed by seed: every method's first seed first
            for name, component in methods:
                print(f"vidssl-bench: {name}, seed {seed}", flush=True)
                records.append(run_entry(component, seed or 0, out, args.data_root, args.tiny, reverse))
                table = leaderboard(records, state)
                (out / "leaderboard.md").write_text(table)
                write_json(out / "leaderboard.json", records, indent=1)
        print(table, end="")
        print(f"leaderboard: {out / 'leaderboard.md'}")
        return 0

    return guarded("vidssl-bench", body, args.debug)


if __name__ == "__main__":
    raise SystemExit(main())
