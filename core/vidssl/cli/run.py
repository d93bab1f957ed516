"""``vidssl-run CONFIG``: run the stages of a config."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from vidssl import distributed
from vidssl.cli import guarded, table


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="vidssl-run", description=__doc__)
    parser.add_argument("config", help="a .py config file")
    parser.add_argument("--cfg-options", nargs="+", default=[], metavar="KEY=VALUE",
                        help="override config keys, e.g. stages.0.epochs=1 seed=3")
    parser.add_argument("--work-dir", help="default: work_dirs/<config stem>")
    parser.add_argument("--resume", action="store_true",
                        help="continue from the work dir's last checkpoint, keeping finished stages")
    parser.add_argument("--stages", help="comma-separated stage names to run (others are skipped)")
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)

    def body() -> int:
        from vidssl.config import load_config
        from vidssl.runner import Runner

        cfg = load_config(args.config, args.cfg_options)
        work_dir = Path(args.work_dir or cfg.get("work_dir") or
                        Path("work_dirs") / Path(args.config).stem)
        only = [s.strip() for s in args.stages.split(",")] if args.stages else None
        runner = Runner(cfg, work_dir, resume=args.resume, only=only)
        try:
            results = runner.run()
            is_main = runner.is_main  # asked before the process group is gone
        finally:
            distributed.teardown()
        if is_main:
            print(results_table(results))
            print(f"results: {work_dir / 'results.json'}")
        if runner.stopped is not None:
            print(f"vidssl-run: stopped by a hook: {runner.stopped}", file=sys.stderr)
            return 1 if runner.stopped.failed else 0
        return 0

    return guarded("vidssl-run", body, args.debug)


def results_table(results: dict[str, dict[str, float]]) -> str:
    """One row per stage, one column per metric."""
    keys = list(dict.fromkeys(k for metrics in results.values() for k in metrics))
    rows = [[stage] + ["" if k not in m else "-" if m[k] is None else f"{m[k]:.4g}" for k in keys]
            for stage, m in results.items()]
    return table(rows, ["stage", *keys])


if __name__ == "__main__":
    raise SystemExit(main())
