"""``vidssl-eval SOURCE --protocol NAME --dataset NAME``: evaluate a backbone under a named
protocol (configs/protocols: linear, knn, finetune_seed000 ... finetune_seed003).

SOURCE is a vidssl work dir (its config names the backbone; the weights are those a training
stage left, by default its last self-supervised one, see --from-stage), a model folder that
vidssl-export wrote (its config.json names the backbone, layout and input) or a checkpoint file with
--backbone TYPE [--set key=value ...] [--format FMT] (any registered weight format:
``vidssl-plugins --kind weight_format``). The weights reach the backbone as the first stage's
``init_from`` (and ``init_format``), so any backbone can be evaluated. Each evaluation is an
ordinary run in its own work dir (eval_config.py is the config it ran); with several --splits or
--seeds, one run per (split, seed) under the work dir, and there results.json holds each metric's
mean and protocols.json each stage's card with every run's values, the mean and the std.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from vidssl import (
    ConfigError,
    command_parser,
    execute,
    exit_code,
    guarded,
    integer_list,
    mean_std,
    parse_value,
    results_table,
    write_json,
)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = command_parser("vidssl-eval", __doc__)
    parser.add_argument(
        "source",
        help="a vidssl work dir, a model folder (vidssl-export), or a checkpoint file (with --backbone)",
    )
    parser.add_argument(
        "--protocol",
        required=True,
        help="a protocol name (a file in configs/protocols) or a protocol .py file",
    )
    parser.add_argument(
        "--dataset",
        required=True,
        help="ucf101, hmdb51, kinetics400, something_v1 or synthetic_motion "
        "(each protocol says where it is valid)",
    )
    parser.add_argument(
        "--splits",
        help="comma-separated official splits (ucf101, hmdb51), e.g. "
        "1,2,3 (default: the protocol's, split 1)",
    )
    parser.add_argument("--seeds", default="0", help="comma-separated seeds, one run each")
    parser.add_argument("--backbone", help="the backbone type of a checkpoint-file SOURCE")
    parser.add_argument(
        "--set",
        nargs="+",
        default=[],
        metavar="KEY=VALUE",
        help="backbone arguments for a checkpoint-file SOURCE, e.g. depth=18",
    )
    parser.add_argument(
        "--format",
        default="vidssl",
        help="the checkpoint file's weight format (vidssl-plugins --kind weight_format)",
    )
    parser.add_argument(
        "--from-stage",
        help="with a work dir: the stage whose backbone is "
        "evaluated (default: its last self-supervised "
        "training stage, else its last training stage)",
    )
    parser.add_argument(
        "--input",
        choices=["auto", "rgb", "residual"],
        default="auto",
        help="the frames the backbone reads; auto: as the work dir's stage was "
        "trained (RGB for a checkpoint file)",
    )
    parser.add_argument(
        "--work-dir", help="default: work_dirs/eval/<source>-<protocol>-<dataset> (with --smoke: ..._smoke)"
    )
    parser.add_argument(
        "--cfg-options",
        nargs="+",
        default=[],
        metavar="KEY=VALUE",
        help="override keys of the composed config, e.g. stages.0.epochs=1",
    )
    parser.add_argument("--resume", action="store_true", help="continue unfinished runs")
    parser.add_argument(
        "--overwrite", action="store_true", help="replace runs already in the work dir (default: refuse)"
    )
    parser.add_argument(
        "--smoke", nargs="?", type=int, const=2, metavar="N", help="preflight: as vidssl-run --smoke"
    )
    parser.add_argument("--tiny", action="store_true", help="with --smoke: shrink the clips")
    return parser.parse_args(argv)


def source_backbone(args: argparse.Namespace) -> tuple[dict[str, Any], tuple[str, str], bool, str]:
    """(backbone config, its weights as (checkpoint file or model folder, weight format), whether
    it reads residual frames, a short name of the source)."""
    from vidssl import checkpoint, stage_file, trained_stage  # noqa: PLC0415 -- lazy: start-up

    source = Path(args.source)
    if (source / checkpoint.FOLDER_WEIGHTS).is_file():  # a model folder (vidssl-export)
        folder = json.loads((source / "config.json").read_text())
        residual = (folder.get("input") or {}).get("frames") == "residual"
        return (
            folder["backbone"],
            (str(source.resolve()), folder.get("format", "vidssl")),
            residual,
            source.resolve().name,
        )
    if source.is_dir():
        stage = trained_stage(source, args.from_stage)
        print(f"vidssl-eval: the backbone of stage '{stage['name']}' of {source}", file=sys.stderr)
        view = (stage.get("dataset") or {}).get("view") or {}
        weights = (str(stage_file(source, stage["name"]).resolve()), "vidssl")
        cfg = json.loads((source / "config.json").read_text())
        return (
            cfg["backbone"],
            weights,
            bool(view.get("residual")),
            f"{source.resolve().name}.{stage['name']}",
        )
    if not source.is_file():
        raise ConfigError(f"SOURCE {source} is neither a work dir, a model folder nor a checkpoint file")
    if not args.backbone:
        raise ConfigError("a checkpoint-file SOURCE needs --backbone TYPE (and its arguments with --set)")
    backbone: dict[str, Any] = {"type": args.backbone}
    for option in args.set:
        key, sep, value = option.partition("=")
        if not sep:
            raise ConfigError(f"--set expects KEY=VALUE, got '{option}'")
        backbone[key] = parse_value(value)
    return backbone, (str(source.resolve()), args.format), False, source.name.split(".")[0]


def aggregate(runs: list[tuple[dict[str, Any], Path]]) -> tuple[dict, dict]:
    """Mean results and cards (with every run's values, mean and sample std) over ``runs``:
    (labels such as ``{"split": 1, "seed": 0}``, work dir) pairs."""
    loaded = [
        (
            labels,
            json.loads((d / "results.json").read_text()),
            json.loads((d / "protocols.json").read_text()),
            d,
        )
        for labels, d in runs
    ]
    results, cards = {}, {}
    top = runs[0][1].parent
    for stage, first in loaded[0][2].items():
        means, stds = {}, {}
        for metric in loaded[0][1][stage]:
            values = [r[stage][metric] for _, r, _, _ in loaded if r.get(stage, {}).get(metric) is not None]
            means[metric], stds[metric] = mean_std(values) if values else (None, 0.0)
        results[stage] = means
        cards[stage] = {
            **first,
            "runs": [
                {**labels, "work_dir": str(d.relative_to(top)), "metrics": r[stage]}
                for labels, r, _, d in loaded
            ],
            "mean": means,
            "std": stds,
        }
    return results, cards


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)

    def body() -> int:
        from vidssl import load_config  # noqa: PLC0415 -- lazy: start-up
        from vidssl_methods.eval_protocol import compose, protocol_file, write_config  # noqa: PLC0415 -- lazy: start-up

        protocol = protocol_file(args.protocol)
        backbone, weights, trained_residual, name = source_backbone(args)
        residual = trained_residual if args.input == "auto" else args.input == "residual"
        splits, seeds = integer_list(args.splits, "splits"), integer_list(args.seeds, "seeds")
        smoke = "_smoke" if args.smoke else ""  # a preflight does not block the real run
        work_dir = Path(
            args.work_dir or Path("work_dirs") / "eval" / f"{name}-{protocol.stem}-{args.dataset}{smoke}"
        )
        runs = [(split, seed) for split in splits for seed in seeds]
        done, stopped_any = [], None
        for split, seed in runs:
            labels = {"seed": seed} | ({"split": split} if split is not None else {})
            run_dir = (
                work_dir
                if len(runs) == 1
                else work_dir / "_".join(f"{k}{v}" for k, v in sorted(labels.items(), reverse=True))
            )
            composed = compose(protocol, args.dataset, backbone, weights, seed or 0, split, residual)
            config = run_dir / "eval_config.py"
            write_config(
                composed,
                config,
                f"vidssl-eval: protocol {protocol.stem} on {args.dataset}"
                f"{f' split {split}' if split else ''}, seed {seed or 0}, the backbone "
                f"of {args.source}\n(from {protocol}); vidssl-run runs it alike",
            )
            results, stopped, is_main = execute(
                load_config(config, args.cfg_options),
                run_dir,
                resume=args.resume,
                overwrite=args.overwrite,
                smoke=args.smoke,
                tiny=args.tiny,
            )
            done.append((labels, run_dir))
            stopped_any = stopped_any or stopped
            if stopped is not None:
                break
        if not is_main:
            return 0
        if len(runs) > 1:
            results, cards = aggregate(done)
            for file, content in (("results.json", results), ("protocols.json", cards)):
                write_json(work_dir / file, content)
            rows = {
                stage: {
                    k: f"{v:.4g} ± {cards[stage]['std'][k]:.2g}" if v is not None else "-"
                    for k, v in metrics.items()
                }
                for stage, metrics in results.items()
            }
            print(results_table(rows))
        else:
            print(results_table(results))
        print(f"results: {work_dir / 'results.json'} (protocol cards: protocols.json)")
        return exit_code("vidssl-eval", stopped_any)

    return guarded("vidssl-eval", body, args.debug)


if __name__ == "__main__":
    raise SystemExit(main())
