"""``vidssl-extract CONFIG --checkpoint CKPT --out feats.npy``: backbone features of a dataset.

Writes ``feats.npy`` (float32 ``[num_videos, feat_dim]``, features averaged over each video's
clips and crops) and ``feats.index.tsv`` (row, video, label) in annotation order. The dataset is
the ``val_dataset`` (or, with ``--split dataset``, the training ``dataset``) of ``--stage``
(default: the last stage that has one); the checkpoint is a vidssl ``stage_<name>.pt``,
``last.pt`` or any file with a ``backbone`` state dict.
"""
from __future__ import annotations

import argparse
from pathlib import Path

from vidssl.cli import guarded


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="vidssl-extract", description=__doc__.split("\n\n")[0])
    parser.add_argument("config")
    parser.add_argument("--checkpoint", required=True)
    parser.add_argument("--out", required=True, help="output .npy file")
    parser.add_argument("--stage", help="stage whose dataset is used (default: the last with one)")
    parser.add_argument("--split", choices=["val_dataset", "dataset"], default="val_dataset")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--cfg-options", nargs="+", default=[], metavar="KEY=VALUE")
    parser.add_argument("--debug", action="store_true")
    args = parser.parse_args(argv)
    return guarded("vidssl-extract", lambda: extract(args), args.debug)


def extract(args: argparse.Namespace) -> int:
    import numpy as np
    import torch

    from vidssl import checkpoint
    from vidssl.config import load_config, stage_configs, validate_config
    from vidssl.errors import CheckpointError, ConfigError
    from vidssl.evaluation import per_video, to_device
    from vidssl.method import Method
    from vidssl.plugin_manager import get_plugins

    registry = get_plugins().registry
    cfg = load_config(args.config, args.cfg_options)
    validate_config(cfg, registry)
    stages = [s for s in stage_configs(cfg) if s.get(args.split) is not None
              and (args.stage is None or s["name"] == args.stage)]
    if not stages:
        raise ConfigError(f"no stage{' named ' + args.stage if args.stage else ''} with a "
                          f"{args.split} in {args.config}")
    stage = stages[-1]
    saved = checkpoint.load(args.checkpoint)
    state = saved.get("backbone")
    if state is None and "progress" in saved:
        state = {k[len("backbone."):]: v for k, v in saved["progress"]["method"].items()
                 if k.startswith("backbone.")}
    if not state:
        raise CheckpointError(f"checkpoint {args.checkpoint} has no backbone weights "
                              f"(entries: {', '.join(sorted(saved))})")
    backbone = registry.build("backbone", cfg["backbone"], ["backbone"])
    backbone.load_state_dict(state)
    method = Method(backbone).eval()
    dataset = registry.build("dataset", stage[args.split], [stage["name"], args.split],
                             views=method.eval_views)
    loader = torch.utils.data.DataLoader(dataset, batch_size=args.batch_size, shuffle=False,
                                         num_workers=stage["num_workers"])
    features, labels = [], []
    with torch.no_grad():
        for batch in loader:
            batch = to_device(batch, torch.device("cpu"))
            features.append(per_video(lambda clip: method.embed({"views": {"clip": clip}}),
                                      batch["views"]["clip"]))
            labels += batch["label"].tolist()
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    matrix = torch.cat(features).float().numpy()
    np.save(out, matrix)
    records = getattr(dataset, "records", None)
    lines = ["row\tvideo\tlabel"] + [
        f"{i}\t{records[i].path if records else i}\t{label}" for i, label in enumerate(labels)]
    out.with_suffix(".index.tsv").write_text("\n".join(lines) + "\n")
    print(f"wrote {out} {tuple(matrix.shape)} and {out.with_suffix('.index.tsv')}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
