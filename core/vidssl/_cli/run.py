"""``vidssl-run CONFIG``: run the stages of a config."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from vidssl._cli import command_parser, guarded
from vidssl._common.console import table
from vidssl._distributed import process_group as distributed


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = command_parser("vidssl-run", __doc__)
    parser.add_argument(
        "config",
        help="a .py config file, or the name of an installed config (vidssl-plugins --configs lists them)",
    )
    parser.add_argument(
        "--cfg-options",
        nargs="+",
        default=[],
        metavar="KEY=VALUE",
        help="override config keys, e.g. stages.0.epochs=1 seed=3",
    )
    parser.add_argument("--work-dir", help="default: work_dirs/<config stem>")
    parser.add_argument(
        "--resume",
        action="store_true",
        help="continue from the work dir's last checkpoint, keeping finished stages",
    )
    parser.add_argument(
        "--overwrite", action="store_true", help="replace the run already in the work dir (default: refuse)"
    )
    parser.add_argument("--stages", help="comma-separated stage names to run (others are skipped)")
    parser.add_argument(
        "--smoke",
        nargs="?",
        type=int,
        const=2,
        metavar="N",
        help="preflight: every stage with N training iterations (default 2), "
        "batch 2, a few videos; prints a table per stage",
    )
    parser.add_argument(
        "--tiny",
        action="store_true",
        help="with --smoke: also shrink clips (length <= 8, size <= 64, <= 2 "
        "clips, one crop) and synthetic_motion's generated copy (4 + 4 "
        "videos per class)",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)

    def body() -> int:
        from vidssl._config.loading import load_config  # noqa: PLC0415 -- lazy: start-up

        cfg = load_config(args.config, args.cfg_options)
        stem = Path(args.config).stem + ("_smoke" if args.smoke else "")
        work_dir = Path(
            args.work_dir or (None if args.smoke else cfg.get("work_dir")) or Path("work_dirs") / stem
        )
        only = [s.strip() for s in args.stages.split(",")] if args.stages else None
        results, stopped, is_main = execute(
            cfg,
            work_dir,
            resume=args.resume,
            overwrite=args.overwrite,
            only=only,
            smoke=args.smoke,
            tiny=args.tiny,
        )
        if is_main:
            print(results_table(results))
            print(f"results: {work_dir / 'results.json'}")
        return exit_code("vidssl-run", stopped)

    return guarded(
        "vidssl-run", body, args.debug, "; the same command with --resume continues from the last checkpoint"
    )


def exit_code(command: str, stopped: Any) -> int:
    """0, or for a run a hook stopped (``StopRun``): say so, and 1 if it stopped as failed."""
    if stopped is None:
        return 0
    print(f"{command}: stopped by a hook: {stopped}", file=sys.stderr)
    return 1 if stopped.failed else 0


def execute(
    cfg: dict[str, Any],
    work_dir: Path,
    *,
    resume: bool = False,
    overwrite: bool = False,
    only: list[str] | None = None,
    smoke: int | None = None,
    tiny: bool = False,
) -> tuple[dict[str, dict[str, float | None]], Any, bool]:
    """Run a loaded config into ``work_dir`` as ``vidssl-run`` does (``smoke``: the preflight
    with that many iterations, ``tiny`` shrinking it). Returns the results, the ``StopRun`` a
    hook raised (or ``None``) and whether this process is rank 0."""
    from vidssl._common.errors import ConfigError  # noqa: PLC0415 -- lazy: start-up
    from vidssl._engine.runner import Runner  # noqa: PLC0415 -- lazy: start-up

    hooks = []
    if tiny and not smoke:
        raise ConfigError("--tiny shrinks a smoke run: use it with --smoke")
    if smoke:
        from vidssl._hooks.smoke import SmokeReport, smoke_config  # noqa: PLC0415 -- lazy: start-up
        from vidssl._plugin_system.manager import get_plugins  # noqa: PLC0415 -- lazy: start-up

        cfg, full, notes = smoke_config(
            cfg, smoke, tiny, get_plugins().hook, distributed.world_size_from_env()
        )
        for note in notes:
            print(f"vidssl-run --smoke: {note}", file=sys.stderr)
        hooks.append(SmokeReport(full, distributed.world_size_from_env(), tiny))
    runner = Runner(cfg, work_dir, resume=resume, only=only, hooks=hooks, overwrite=overwrite)
    try:
        results = runner.run()
        is_main = runner.is_main  # asked before the process group is gone
    finally:
        distributed.teardown()
    return results, runner.stopped, is_main


def results_table(results: Mapping[str, Mapping[str, float | str | None]]) -> str:
    """One row per stage, one column per metric (numbers to 4 digits, text as it is)."""
    keys = list(dict.fromkeys(k for metrics in results.values() for k in metrics))

    def cell(metrics: Mapping[str, float | str | None], key: str) -> str:
        value = metrics.get(key, "")
        return "-" if value is None else value if isinstance(value, str) else f"{value:.4g}"

    rows = [[stage] + [cell(m, k) for k in keys] for stage, m in results.items()]
    return table(rows, ["stage", *keys])


if __name__ == "__main__":
    raise SystemExit(main())
