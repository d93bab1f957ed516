"""``vidssl-export WORK_DIR --out DIR``: a trained backbone as a model folder for exchange.

DIR receives ``model.safetensors`` (the backbone of the run's last self-supervised training stage,
or of --stage; with --head the stage's classifier too), ``config.json`` (weight layout, backbone
type and arguments, feature size, input: frames, clip length, stride, size, normalisation) and
``README.md``, a model card from the run's protocol cards with every result it measured. --format
writes the weights in a registered layout (``vidssl-plugins --kind weight_format``), e.g.
``torchvision``: a state dict torchvision's matching model loads with ``strict=True``. The folder
is a SOURCE for ``vidssl-eval``, an ``init_from`` in configs, and ``vidssl.load_backbone(DIR)``.
"""

from __future__ import annotations

from pathlib import Path

from vidssl._cli import command_parser, guarded


def main(argv: list[str] | None = None) -> int:
    parser = command_parser("vidssl-export", __doc__)
    parser.add_argument("work_dir", help="a vidssl work dir")
    parser.add_argument("--out", required=True, help="the folder to write (created)")
    parser.add_argument(
        "--stage",
        help="the stage whose weights to export (default: the last "
        "self-supervised training stage; with --head, the last "
        "stage with a classifier)",
    )
    parser.add_argument("--head", action="store_true", help="also the stage's classifier")
    parser.add_argument(
        "--format", default="vidssl", help="the weights' layout (vidssl-plugins --kind weight_format)"
    )
    args = parser.parse_args(argv)

    def body() -> int:
        from vidssl._common.errors import ConfigError  # noqa: PLC0415 -- lazy: start-up
        from vidssl._engine.model_folder import export_model_folder  # noqa: PLC0415 -- lazy: start-up

        out = Path(args.out)
        if out.exists() and any(out.iterdir()):
            raise ConfigError(f"--out {out} exists and is not empty; name a new folder")
        weights = export_model_folder(Path(args.work_dir), out, args.stage, args.head, args.format)
        print(f"model folder: {out} ({weights.name}, config.json, README.md)")
        return 0

    return guarded("vidssl-export", body, args.debug)


if __name__ == "__main__":
    raise SystemExit(main())
