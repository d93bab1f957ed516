"""``vidssl-run CONFIG``: run the stages of a config."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from vidssl import distributed
from vidssl.cli import command_parser, guarded, table


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = command_parser("vidssl-run", __doc__)
    parser.add_argument("config", help="a .py config file")
    parser.add_argument("--cfg-options", nargs="+", default=[], metavar="KEY=VALUE",
                        help="override config keys, e.g. stages.0.epochs=1 seed=3")
    parser.add_argument("--work-dir", help="default: work_dirs/<config stem>")
    parser.add_argument("--resume", action="store_true",
                        help="continue from the work dir's last checkpoint, keeping finished stages")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace the run already in the work dir (default: refuse)")
    parser.add_argument("--stages", help="comma-separated stage names to run (others are skipped)")
    parser.add_argument("--smoke", nargs="?", type=int, const=2, metavar="N",
                        help="preflight: every stage with N training iterations (default 2), "
                             "batch 2, a few videos; prints a table per stage")
    parser.add_argument("--tiny", action="store_true",
                        help="with --smoke: also shrink clips (length <= 8, size <= 64, <= 2 "
                             "clips, one crop)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)

    def body() -> int:
        from vidssl.config import load_config
        from vidssl.errors import ConfigError
        from vidssl.runner import Runner

        cfg = load_config(args.config, args.cfg_options)
        stem = Path(args.config).stem + ("_smoke" if args.smoke else "")
        work_dir = Path(args.work_dir or (None if args.smoke else cfg.get("work_dir")) or
                        Path("work_dirs") / stem)
        only = [s.strip() for s in args.stages.split(",")] if args.stages else None
        hooks = []
        if args.tiny and not args.smoke:
            raise ConfigError("--tiny shrinks a smoke run: use it with --smoke")
        if args.smoke:
            from vidssl.plugin_manager import get_plugins
            from vidssl.smoke import SmokeReport, smoke_config

            cfg, full, notes = smoke_config(cfg, args.smoke, args.tiny, get_plugins().hook,
                                            distributed.world_size_from_env())
            for note in notes:
                print(f"vidssl-run --smoke: {note}", file=sys.stderr)
            hooks.append(SmokeReport(full, distributed.world_size_from_env()))
        runner = Runner(cfg, work_dir, resume=args.resume, only=only, hooks=hooks,
                        overwrite=args.overwrite)
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
