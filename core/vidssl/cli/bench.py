"""``vidssl-bench synthetic``: the synthetic_motion leaderboard of every installed method that
registers a demo config (``register(name, builder, demo_config=PATH)``; a third-party plugin's
method joins the same way).

Each method's demo config runs once per seed (stages up to its score stage: ``probe`` for a
self-supervised method, ``supervised`` for a supervised one) into OUT/<method>/seed<N>; a run
already finished there is reused. Its score is that stage's top-1; its baseline, the
random-init linear probe (``probe_random``) of the same run, on the same input; the gain, their
difference, passes at +10 points on every seed. OUT/leaderboard.md and leaderboard.json are
rewritten after every run (mean ± std over seeds, each value, minutes per run); --table prints it
again. --tiny runs each stage as the --smoke --tiny preflight does (a few videos, 2 iterations):
what CI runs.
"""
from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path
from typing import Any

from vidssl.cli import command_parser, guarded, integer_list, mean_std
from vidssl.errors import ConfigError

PASS_GAIN = 10.0


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = command_parser("vidssl-bench", __doc__)
    parser.add_argument("suite", choices=["synthetic"], help="the benchmark to run")
    parser.add_argument("--methods", help="comma-separated method names (default: every method "
                                          "with a demo config)")
    parser.add_argument("--seeds", default="0", help="comma-separated seeds")
    parser.add_argument("--out", default="work_dirs/bench_synthetic", help="where runs and the "
                                                                           "leaderboard go")
    parser.add_argument("--data-root", help="where synthetic_motion is generated (default: as "
                                            "vidssl-run: $VIDSSL_DATA_ROOT or data)")
    parser.add_argument("--tiny", action="store_true",
                        help="each stage as the --smoke --tiny preflight (CI)")
    parser.add_argument("--table", action="store_true",
                        help="print the leaderboard of OUT/leaderboard.json only (nothing runs)")
    return parser.parse_args(argv)


def entries(registry, names: list[str] | None) -> list[tuple[str, Any]]:
    """(method name, component) of the methods to rank."""
    found = {c.name: c for c in registry.all() if c.kind == "method" and c.demo_config}
    if names:
        unknown = [n for n in names if n not in found]
        if unknown:
            raise ConfigError(f"--methods: no demo config registered for "
                              f"{', '.join(unknown)} (methods with one: {', '.join(sorted(found))})")
        return [(n, found[n]) for n in names]
    return sorted(found.items())


def score_stage(stages: list[dict[str, Any]], config: str) -> str:
    names = [s["name"] for s in stages]
    for name in ("probe", "supervised"):
        if name in names and "probe_random" in names:
            return name
    raise ConfigError(f"demo config {config} needs a 'probe_random' stage and a 'probe' (or "
                      f"'supervised') stage to be ranked; its stages: {', '.join(names)}")


def run_entry(component, seed: int, out: Path, data_root: str | None,
              tiny: bool) -> dict[str, Any]:
    """One method on one seed: its (reused or new) run's score, baseline and minutes."""
    from vidssl.cli.run import execute
    from vidssl.config import load_config

    work_dir = out / component.name / f"seed{seed}"
    record_file = work_dir / "bench.json"
    if record_file.is_file():
        return json.loads(record_file.read_text())
    if not Path(component.demo_config).is_file():
        raise ConfigError(f"method '{component.name}' ({component.distribution}): its demo config "
                          f"{component.demo_config} does not exist")
    options = [f"seed={seed}"] + ([f"data_root={data_root}"] if data_root else [])
    cfg = load_config(component.demo_config, options)
    stages = [s["name"] for s in cfg["stages"]]
    score = score_stage(cfg["stages"], component.demo_config)
    only = stages[: stages.index(score) + 1]
    started = time.perf_counter()
    results, stopped, _ = execute(cfg, work_dir, only=only, overwrite=True,
                                  smoke=2 if tiny else None, tiny=tiny)
    if stopped is not None:
        raise ConfigError(f"method '{component.name}' seed {seed}: stopped by a hook: {stopped}")
    record = {"method": component.name, "distribution": component.distribution,
              "version": component.version, "config": component.demo_config, "seed": seed,
              "score_stage": score, "score": results[score]["top1"],
              "random_init": results["probe_random"]["top1"],
              "minutes": (time.perf_counter() - started) / 60, "tiny": tiny}
    record["gain"] = record["score"] - record["random_init"]
    record_file.write_text(json.dumps(record, indent=1) + "\n")
    return record


def _spread(values: list[float]) -> str:
    mean, std = mean_std(values)
    return f"{mean:.1f} ± {std:.1f} ({', '.join(f'{v:.1f}' for v in values)})"


def leaderboard(records: list[dict[str, Any]]) -> str:
    """The Markdown table: one row per method, best mean gain first."""
    by_method: dict[str, list[dict[str, Any]]] = {}
    for record in records:
        by_method.setdefault(record["method"], []).append(record)
    rows = sorted(by_method.values(), key=lambda rs: -statistics.fmean(r["gain"] for r in rs))
    lines = ["| method | distribution | stage | top-1 (%) | random-init probe (%) | gain | pass "
             f"(+{PASS_GAIN:.0f} on every seed) | minutes per run |",
             "|---|---|---|---|---|---|---|---|"]
    for rs in rows:
        gains = [r["gain"] for r in rs]
        passed = "yes" if min(gains) >= PASS_GAIN else "no"
        lines.append(f"| {rs[0]['method']} | {rs[0]['distribution']} {rs[0]['version']} | "
                     f"{rs[0]['score_stage']} | {_spread([r['score'] for r in rs])} | "
                     f"{_spread([r['random_init'] for r in rs])} | {_spread(gains)} | {passed} | "
                     f"{statistics.fmean(r['minutes'] for r in rs):.1f} |")
    seeds = sorted({r["seed"] for r in records})
    tiny = " (--tiny: preflight-sized, the numbers mean nothing)" if any(r["tiny"] for r in records) \
        else ""
    return "\n".join(lines) + f"\n\nseeds {', '.join(map(str, seeds))}{tiny}\n"


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)

    def body() -> int:
        from vidssl.plugin_manager import get_plugins

        out = Path(args.out)
        if args.table:
            saved = out / "leaderboard.json"
            if not saved.is_file():
                raise ConfigError(f"--table: {saved} does not exist (run the benchmark first)")
            print(leaderboard(json.loads(saved.read_text())), end="")
            return 0
        methods = entries(get_plugins().registry,
                          [m.strip() for m in args.methods.split(",")] if args.methods else None)
        records = []
        for seed in integer_list(args.seeds, "seeds"):   # seed by seed: every method's first seed first
            for name, component in methods:
                print(f"vidssl-bench: {name}, seed {seed}", flush=True)
                records.append(run_entry(component, seed or 0, out, args.data_root, args.tiny))
                table = leaderboard(records)
                (out / "leaderboard.md").write_text(table)
                (out / "leaderboard.json").write_text(json.dumps(records, indent=1) + "\n")
        print(table, end="")
        print(f"leaderboard: {out / 'leaderboard.md'}")
        return 0

    return guarded("vidssl-bench", body, args.debug)


if __name__ == "__main__":
    raise SystemExit(main())
