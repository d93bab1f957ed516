"""``vidssl-idt``: improved dense trajectories, Fisher vectors and clustering from the shell.

    vidssl-idt extract VIDEO -o OUT[.txt|.gz|.npz] [--mode dt|idt] [--boxes FILE.bb]
    vidssl-idt extract --list VIDEOS.txt -o DIR [--workers N] [--shard i/n] [--format npz|gz|txt]
                                            [--boxes-dir D]
    vidssl-idt merge DIR --list VIDEOS.txt
    vidssl-idt fit DIR -o model.npz [--k 256] [--pca 0.9] [--samples 500] [--per-descriptor]
    vidssl-idt encode DIR --model model.npz -o OUT_DIR [--variant seed|improved] [--sketch 2000]
    vidssl-idt cluster OUT_DIR --annotation LIST -o CLUSTER_DIR [--k 6000] [--num-c 3]

``extract --list`` runs ``--workers`` processes over its videos (each streams one video's frames),
is sharded (``--shard i/n``; else a SLURM array job's
``SLURM_ARRAY_TASK_ID``/``SLURM_ARRAY_TASK_COUNT``; else ``RANK``/``WORLD_SIZE`` under torchrun),
resumable (videos whose output exists are skipped) and logs a failing video without stopping: to
``DIR/failed.txt`` unsharded, to ``DIR/failed.shard<i>of<n>.txt`` per shard (rewritten by each
run of that shard). ``merge`` joins the shards' logs into ``DIR/failed.txt`` and names the videos
that have neither an output nor a failure (a shard that has not finished). ``cluster`` matches
annotation rows to feature files by video name and writes ``cluster_labels.npy`` (int64
``[num_c, N]``) with the annotation file filtered to the videos that have features, in its own
format, rows in the same order.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import sys
from pathlib import Path

import numpy as np

import vidssl
from vidssl import ConfigError, DataError, DatasetNotFound, command_parser, guarded
from vidssl_idt.camera_motion import read_boxes
from vidssl_idt.trajectories import TrajectoryParams, extract_trajectories

FORMATS = {"npz": ".npz", "gz": ".gz", "txt": ".txt"}


def _params(args: argparse.Namespace) -> TrajectoryParams:
    return TrajectoryParams(
        track_length=args.track_length,
        min_distance=args.min_distance,
        patch_size=args.patch_size,
        nxy_cells=args.nxy_cells,
        nt_cells=args.nt_cells,
        scale_num=args.scale_num,
    )


def _shard(text: str | None) -> tuple[int, int]:
    """(index, count) of this process's share of a list: ``--shard``, a SLURM array task, or a
    torchrun rank."""
    if text is None:
        env = os.environ
        if "SLURM_ARRAY_TASK_ID" in env and "SLURM_ARRAY_TASK_COUNT" in env:
            first = int(env.get("SLURM_ARRAY_TASK_MIN", 0))  # --array=1-100 starts at 1
            return int(env["SLURM_ARRAY_TASK_ID"]) - first, int(env["SLURM_ARRAY_TASK_COUNT"])
        return int(env.get("RANK", 0)), int(env.get("WORLD_SIZE", 1))
    try:
        index, count = (int(v) for v in text.split("/"))
    except ValueError:
        raise ConfigError(f"--shard expects i/n (e.g. 0/4), got '{text}'") from None
    if not 0 <= index < count:
        raise ConfigError(f"--shard {text}: need 0 ≤ i < n")
    return index, count


def _video_names(path: Path) -> list[tuple[str, str]]:
    """(video path as written, line) for every row of a list: first field of a space/comma
    separated line."""
    rows = []
    for line in path.read_text().splitlines():
        if line.strip():
            rows.append((line.replace(",", " ").split()[0], line))
    return rows


def _videos(paths: list[str], root: str = "") -> vidssl.ClipDataset:
    """The videos as a registered ``video_files`` dataset (its ``frames(row)`` streams one)."""
    return vidssl.build("dataset", {"type": "video_files", "paths": paths, "root": root}, views={})


def extract(args: argparse.Namespace) -> int:
    from tqdm import tqdm  # noqa: PLC0415 -- lazy: start-up

    from vidssl_idt.batch_extract import available_cores, extract_missing, extract_row  # noqa: PLC0415 -- lazy: start-up
    from vidssl_idt.trajectory_io import write_trajectories  # noqa: PLC0415 -- lazy: start-up

    params = _params(args)
    if args.list is None:
        if args.video is None:
            raise ConfigError("extract: give a VIDEO or --list FILE")
        boxes = read_boxes(args.boxes) if args.boxes else None
        rows = extract_trajectories(_videos([args.video]).frames(0), args.mode, params, boxes)
        write_trajectories(args.output, rows)
        print(f"vidssl-idt: {len(rows)} trajectories of {args.video} → {args.output}")
        return 0
    index, count = _shard(args.shard)
    workers = args.workers or available_cores()
    out = Path(args.output)
    out.mkdir(parents=True, exist_ok=True)
    root = Path(args.root) if args.root else Path(args.list).parent
    videos = [name for name, _ in _video_names(Path(args.list))][index::count]
    jobs = [(name, out / (Path(name).stem + FORMATS[args.format]), row) for row, name in enumerate(videos)]
    log = out / ("failed.txt" if count == 1 else f"failed.shard{index}of{count}.txt")
    log.unlink(missing_ok=True)  # this run retries the videos that failed before
    failed = 0
    if videos:
        extract_one = functools.partial(
            extract_row, _videos(videos, str(root)), args.mode, params, boxes_dir=args.boxes_dir
        )
        failed = extract_missing(
            extract_one,
            jobs,
            log,
            workers,
            lambda results, total: tqdm(
                results, total=total, desc=f"idt {index}/{count}", disable=not sys.stderr.isatty()
            ),
        )
    print(
        f"vidssl-idt: shard {index}/{count}: {len(videos) - failed} of {len(videos)} videos "
        f"done in {out} ({workers} worker processes)" + (f", {failed} failed (see {log})" if failed else "")
    )
    return 0


def merge(args: argparse.Namespace) -> int:
    """The shards' failure logs joined into ``DIR/failed.txt``; exit 1 while videos of the list
    have neither an output nor a failure."""
    out = Path(args.folder)
    logs = sorted(out.glob("failed.shard*of*.txt"))
    lines = [line for log in logs for line in log.read_text().splitlines() if line]
    (out / "failed.txt").write_text("".join(f"{line}\n" for line in lines))
    failed = {line.split("\t", 1)[0] for line in lines}
    done = {
        _stem(p)
        for p in out.iterdir()
        if p.name.endswith(tuple(FORMATS.values())) and not p.name.startswith("failed")
    }
    videos = [name for name, _ in _video_names(Path(args.list))]
    missing = [v for v in videos if Path(v).stem not in done and v not in failed]
    print(
        f"vidssl-idt merge: {len(videos) - len(missing) - len(failed)} of {len(videos)} videos "
        f"have trajectories, {len(failed)} failed (from {len(logs)} shard logs, now in "
        f"{out / 'failed.txt'})"
    )
    if missing:
        print(
            f"vidssl-idt merge: {len(missing)} videos not done yet (a shard still running or "
            f"stopped; rerun it, it resumes), e.g. {', '.join(missing[:3])}",
            file=sys.stderr,
        )
        return 1
    return 0


def _descriptor_files(folder: str) -> list[Path]:
    files = sorted(
        p
        for p in Path(folder).iterdir()
        if p.name.endswith((".npz", ".gz", ".txt")) and p.name != "failed.txt"
    )
    if not files:
        raise DatasetNotFound(f"no trajectory files (.npz/.gz/.txt) in {folder}")
    return files


def _stem(path: Path) -> str:
    name = path.name
    for suffix in (".npz", ".gz", ".txt", ".npy"):
        name = name.removesuffix(suffix)
    return name


def fit(args: argparse.Namespace) -> int:
    from vidssl_idt.fisher import fit_fisher_model, sample_descriptors  # noqa: PLC0415 -- lazy: start-up
    from vidssl_idt.trajectory_io import read_trajectories  # noqa: PLC0415 -- lazy: start-up

    videos = [read_trajectories(p) for p in _descriptor_files(args.descriptors)]
    blocks = ("trajectory", "hog", "hof", "mbhx", "mbhy") if args.per_descriptor else ("all",)
    pca = float(args.pca) if "." in args.pca else int(args.pca)
    model = fit_fisher_model(
        sample_descriptors(videos, args.samples, args.seed), k=args.k, pca=pca, blocks=blocks, seed=args.seed
    )
    model.save(args.output)
    print(f"vidssl-idt: Fisher-vector model ({', '.join(blocks)}; {model.dim}-d) → {args.output}")
    return 0


def encode(args: argparse.Namespace) -> int:
    from vidssl_idt.count_sketch import CountSketch  # noqa: PLC0415 -- lazy: start-up
    from vidssl_idt.fisher import FisherModel, fisher_vector  # noqa: PLC0415 -- lazy: start-up
    from vidssl_idt.trajectory_io import read_trajectories  # noqa: PLC0415 -- lazy: start-up

    model = FisherModel.load(args.model)
    out = Path(args.output)
    out.mkdir(parents=True, exist_ok=True)
    sketch = None
    for path in _descriptor_files(args.descriptors):
        vector = fisher_vector(read_trajectories(path), model, args.variant, args.weights)
        if args.sketch:
            sketch = sketch or CountSketch(len(vector), args.sketch, args.seed)
            vector = sketch(vector)
        np.save(out / f"{_stem(path)}.npy", vector)
    return 0


def cluster(args: argparse.Namespace) -> int:
    from vidssl import kmeans_labels  # noqa: PLC0415 -- lazy: start-up

    features_dir, annotation = Path(args.features), Path(args.annotation)
    out = Path(args.output)
    out.mkdir(parents=True, exist_ok=True)
    available = {p.stem: p for p in features_dir.glob("*.npy")}
    if annotation.suffix == ".json":
        data = json.loads(annotation.read_text())
        kept, names = {}, []
        for key, entry in data["database"].items():
            if entry.get("subset") != "training":
                kept[key] = entry
            elif key in available:
                kept[key] = entry
                names.append(key)
        filtered = json.dumps({**data, "database": kept})
    else:
        rows = [(Path(name).stem, line) for name, line in _video_names(annotation)]
        rows = [(name, line) for name, line in rows if name in available]
        names = [name for name, _ in rows]
        filtered = "".join(line + "\n" for _, line in rows)
    if not names:
        raise DataError(f"no video of {annotation} has a feature file in {features_dir}")
    features = np.stack([np.load(available[name]).reshape(-1) for name in names])
    labels = kmeans_labels(features, args.k, args.num_c, seed=args.seed)
    np.save(out / "cluster_labels.npy", labels)
    (out / annotation.name).write_text(filtered)
    print(
        f"vidssl-idt: {args.num_c}×{args.k} clusters of {len(names)} videos → "
        f"{out / 'cluster_labels.npy'}, filtered annotation {out / annotation.name}"
    )
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = command_parser("vidssl-idt", __doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    p = commands.add_parser("extract", help="trajectories + HOG/HOF/MBH of videos")
    p.add_argument("video", nargs="?", help="one video (or use --list)")
    p.add_argument("--list", help="file with one video path per line (first field)")
    p.add_argument("--root", help="videos of --list are relative to this (default: its folder)")
    p.add_argument(
        "-o", "--output", required=True, help="output file (.txt, .gz or .npz), or with --list a folder"
    )
    p.add_argument(
        "--mode",
        choices=["dt", "idt"],
        default="idt",
        help="dense trajectories, or improved (camera motion removed; default)",
    )
    p.add_argument("--boxes", help="person boxes (.bb) left out of camera-motion estimation")
    p.add_argument("--boxes-dir", help="with --list: <video name>.bb box files (the seed's -H)")
    p.add_argument(
        "--shard",
        help="i/n: process every n-th video from the i-th (default: the "
        "SLURM array task, else RANK/WORLD_SIZE, else all)",
    )
    p.add_argument("--format", choices=sorted(FORMATS), default="npz", help="with --list: output format")
    p.add_argument(
        "--workers",
        type=int,
        default=0,
        help="with --list: processes extracting videos at once, each streaming one "
        "video's frames (default: the cores this process may use, shared among "
        "torchrun's processes on the machine)",
    )
    defaults = TrajectoryParams()
    for name, text in (
        ("track_length", "trajectory length in frames (L)"),
        ("min_distance", "sampling stride in pixels (W)"),
        ("patch_size", "descriptor neighbourhood in pixels (N)"),
        ("nxy_cells", "descriptor cells along x and y"),
        ("nt_cells", "descriptor cells along time"),
        ("scale_num", "most spatial scales"),
    ):
        p.add_argument(
            f"--{name.replace('_', '-')}",
            type=int,
            default=getattr(defaults, name),
            help=f"{text}; default {getattr(defaults, name)}, as the original program",
        )
    p.set_defaults(run=extract)
    p = commands.add_parser("merge", help="join the shards' failure logs after a sharded extract")
    p.add_argument("folder", help="the extract --list output folder")
    p.add_argument("--list", required=True, help="the list the shards extracted")
    p.set_defaults(run=merge)
    p = commands.add_parser("fit", help="PCA + GMM on sampled descriptors")
    p.add_argument("descriptors", help="folder of trajectory files")
    p.add_argument("-o", "--output", required=True, help="the model file to write (.npz)")
    p.add_argument("--k", type=int, default=256, help="GMM components")
    p.add_argument("--pca", default="0.9", help="variance fraction (0.9) or dimensions (64)")
    p.add_argument("--samples", type=int, default=500, help="rows sampled per video")
    p.add_argument(
        "--per-descriptor",
        action="store_true",
        help="one PCA + GMM per descriptor instead of the seed's single 426-d one",
    )
    p.add_argument("--seed", type=int, default=0, help="random seed of sampling and fitting")
    p.set_defaults(run=fit)
    p = commands.add_parser("encode", help="per-video Fisher vectors (or count sketches)")
    p.add_argument("descriptors", help="folder of trajectory files")
    p.add_argument("--model", required=True, help="the model file vidssl-idt fit wrote")
    p.add_argument("-o", "--output", required=True, help="folder for one <video>.npy each")
    p.add_argument(
        "--variant",
        choices=["seed", "improved"],
        default="seed",
        help="the seed's Fisher vector (default), or Perronnin's scaled one",
    )
    p.add_argument("--weights", action="store_true", help="improved FV: add weight gradients")
    p.add_argument("--sketch", type=int, default=0, help="count-sketch dimension (seed: 2000)")
    p.add_argument("--seed", type=int, default=0, help="random seed of the count sketch")
    p.set_defaults(run=encode)
    p = commands.add_parser("cluster", help="faiss k-means of per-video features")
    p.add_argument("features", help="folder of <video>.npy features")
    p.add_argument("--annotation", required=True, help="list / CSV / 3D-ResNets JSON")
    p.add_argument("-o", "--output", required=True, help="the folder to write the clusters to")
    p.add_argument("--k", type=int, default=6000, help="clusters per clustering")
    p.add_argument("--num-c", type=int, default=3, help="independent clusterings")
    p.add_argument("--seed", type=int, default=1234, help="random seed of the first clustering")
    p.set_defaults(run=cluster)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    return guarded(f"vidssl-idt {args.command}", lambda: args.run(args), args.debug)


if __name__ == "__main__":
    sys.exit(main())
