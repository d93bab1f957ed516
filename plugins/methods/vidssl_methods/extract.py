"""``vidssl-extract CONFIG --checkpoint CKPT --out feats.npy``: backbone features of a dataset.

Runs the registered ``features`` extractor: ``feats.npy`` (float32 ``[num_videos, feat_dim]``,
features averaged over each video's clips and crops) and ``feats.index.tsv`` (row, video, label)
in annotation order. The dataset is the ``val_dataset`` (or, with ``--split dataset``, the
training ``dataset``) of ``--stage`` (default: the last stage that has one); the checkpoint is any
vidssl checkpoint with backbone weights (``stage_<name>.pt``, ``last.pt``, ``best.pt``).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from vidssl import command_parser, guarded


def main(argv: list[str] | None = None) -> int:
    parser = command_parser("vidssl-extract", __doc__)
    parser.add_argument("config", help="the config whose backbone and dataset are used")
    parser.add_argument("--checkpoint", required=True, help="a vidssl checkpoint (.pt)")
    parser.add_argument("--out", required=True, help="output .npy file")
    parser.add_argument("--stage", help="stage whose dataset is used (default: the last with one)")
    parser.add_argument(
        "--split",
        choices=["val_dataset", "dataset"],
        default="val_dataset",
        help="which dataset of the stage",
    )
    parser.add_argument("--batch-size", type=int, default=16, help="videos per batch")
    parser.add_argument(
        "--cfg-options", nargs="+", default=[], metavar="KEY=VALUE", help="override config keys, e.g. seed=1"
    )
    args = parser.parse_args(argv)
    return guarded("vidssl-extract", lambda: extract(args), args.debug)


def extract(args: argparse.Namespace) -> int:
    import torch  # noqa: PLC0415 -- lazy: start-up

    from vidssl import (  # noqa: PLC0415 -- lazy: start-up
        ClipDataset,
        ConfigError,
        EvaluationContext,
        Method,
        RunContext,
        Stage,
        check,
        checkpoint,
        get_plugins,
        load_config,
        stage_configs,
        validate_config,
    )

    plugins = get_plugins()
    cfg = load_config(args.config, args.cfg_options)
    validate_config(cfg, plugins.registry)
    found = [
        (i, s)
        for i, s in enumerate(stage_configs(cfg))
        if s.get(args.split) is not None and (args.stage is None or s["name"] == args.stage)
    ]
    if not found:
        raise ConfigError(
            f"no stage{' named ' + args.stage if args.stage else ''} with a {args.split} in {args.config}"
        )
    index, stage_cfg = found[-1]
    backbone = plugins.registry.build("backbone", cfg["backbone"], ["backbone"])
    backbone.load_state_dict(checkpoint.backbone_state(checkpoint.load(args.checkpoint), args.checkpoint))
    out = Path(args.out).resolve()
    stage = Stage(index, stage_cfg["name"], "extract", stage_cfg, method=Method(backbone).eval())
    dataset = plugins.registry.build(
        "dataset", stage_cfg[args.split], ["stages", index, args.split], views=stage.method.eval_views
    )
    check(dataset, ClipDataset, f"stages[{index}].{args.split}")
    run = RunContext(cfg, out.parent, torch.device("cpu"), plugins)
    extractor = plugins.registry.build("extractor", {"type": "features", "out": out.name})
    metrics = extractor.run(
        EvaluationContext(run, stage, stage.method, dataset, args.batch_size, stage_cfg["num_workers"])
    )
    print(
        f"wrote {out} ({int(metrics['videos'])}, {int(metrics['feat_dim'])}) and "
        f"{out.with_suffix('.index.tsv')}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
