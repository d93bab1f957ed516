"""``vidssl-prepare``: turn official dataset downloads into what the readers expect.

    vidssl-prepare frames --videos UCF-101 --out ucf101_frames [--short-side 240] [--workers 2]
    vidssl-prepare annotations ucf101 --annotation-dir ucfTrainTestlist --split 1 --out ucf101_01.json
    vidssl-prepare fixtures {ucf101,hmdb51,kinetics400,something_v1,all} --out DATA_ROOT
    vidssl-prepare fixtures kinetics400 --full-size [--rows N] --out DATA_ROOT
    vidssl-prepare verify {ucf101,hmdb51,kinetics400,something_v1} [--data-root DATA_ROOT]
                          [--workers N] [--decode first|last_gop|all]
    vidssl-prepare transcode {ucf101,hmdb51,kinetics400} [--data-root DATA_ROOT] --out NEW_ROOT
                             [--short-side 256] [--gop 16] [--workers N]

``frames`` extracts every video under ``--videos`` (keeping the folder structure, one folder per
video named like the file without extension) as ``image_00001.jpg`` ... resized so the shorter
side is ``--short-side`` pixels, and writes ``n_frames`` last; a video whose folder already has
``n_frames`` is skipped, so an interrupted run resumes. Failures are listed at the end (exit 1).
``annotations`` writes the 3D-ResNets JSON (``labels`` + ``database``) for a UCF101 or HMDB51
split, which the ``video_list`` dataset reads. ``fixtures`` writes tiny copies of the datasets in
their official layouts (:mod:`vidssl_datasets.fixtures`). ``verify`` reads a dataset's annotation
files, checks every listed video (missing, unreadable, empty) in ``--workers`` processes, writes
the dataset's video index (:mod:`vidssl_datasets.video_index`) and prints a summary against the
official counts; videos the index already holds valid entries for are not probed again, so an
interrupted verify continues where it stopped. ``transcode`` re-encodes every listed video of
a dataset into a new data root (:mod:`vidssl_datasets.transcode`: H.264, short side 256, a
keyframe every 16 frames; same layout, file names and containers, annotation files copied) in
``--workers`` processes, resumable (a video whose copy exists is not encoded again), then verifies
the copy, which writes its video index, and prints the size before and after.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import cv2

from vidssl import ConfigError, DataError, DatasetNotFound, command_parser, guarded
from vidssl_datasets import annotations as ann
from vidssl_datasets.clip_transforms import resize_short
from vidssl_datasets.compact_index import open_snapshot
from vidssl_datasets.video_index import VideoIndex
from vidssl_datasets.video_reader import read_video

VIDEO_EXTENSIONS = (".avi", ".mp4", ".mkv", ".webm", ".mov")
T = TypeVar("T")


def extract_frames(
    video: Path, out: Path, short_side: int, backend: str = "opencv", pattern: str = "image_{:05d}.jpg"
) -> int:
    """Write the frames of ``video`` into ``out`` (through a temporary folder renamed at the end)
    and return how many were written."""
    tmp = out.with_name(out.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    if backend == "ffmpeg":
        ffmpeg = shutil.which("ffmpeg")
        if ffmpeg is None:
            raise DataError("backend 'ffmpeg' asked for, but no ffmpeg program is on PATH")
        scale = f"scale='if(gt(iw,ih),-2,{short_side})':'if(gt(iw,ih),{short_side},-2)'"
        result = subprocess.run(
            [
                ffmpeg,
                "-loglevel",
                "error",
                "-i",
                str(video),
                "-vf",
                scale,
                "-q:v",
                "2",
                str(tmp / pattern.replace("{:05d}", "%05d")),
            ],
            capture_output=True,
            text=True,
        )
        if result.returncode != 0:
            raise DataError(f"ffmpeg failed on {video}: {result.stderr.strip()[:300]}")
        n = len(list(tmp.glob("*.jpg")))
    else:
        frames = resize_short(read_video(video), short_side)
        for i, frame in enumerate(frames):
            cv2.imwrite(
                str(tmp / pattern.format(i + 1)),
                cv2.cvtColor(frame, cv2.COLOR_RGB2BGR),
                [cv2.IMWRITE_JPEG_QUALITY, 95],
            )
        n = len(frames)
    if n == 0:
        raise DataError(f"no frame extracted from {video}")
    (tmp / "n_frames").write_text(f"{n}\n")
    shutil.rmtree(out, ignore_errors=True)
    tmp.rename(out)
    return n


def _job(args: tuple[Path, Path, int, str]) -> tuple[Path, str | None]:
    video, out, short_side, backend = args
    try:
        extract_frames(video, out, short_side, backend)
        return video, None
    except (DataError, OSError, cv2.error) as exc:
        shutil.rmtree(out.with_name(out.name + ".partial"), ignore_errors=True)
        return video, str(exc)


def frames_command(args: argparse.Namespace) -> int:
    from tqdm import tqdm  # noqa: PLC0415 -- lazy: start-up

    videos_root, out_root = Path(args.videos), Path(args.out)
    if not videos_root.is_dir():
        raise DataError(f"--videos {videos_root} is not a folder")
    videos = sorted(p for p in videos_root.rglob("*") if p.suffix.lower() in VIDEO_EXTENSIONS)
    jobs = [
        (v, out_root / v.relative_to(videos_root).with_suffix(""), args.short_side, args.backend)
        for v in videos
    ]
    todo = [j for j in jobs if not (j[1] / "n_frames").is_file()]
    print(
        f"{len(videos)} videos, {len(videos) - len(todo)} already done, {len(todo)} to extract",
        file=sys.stderr,
    )
    failures = []
    with ProcessPoolExecutor(max_workers=args.workers) as pool:
        for video, error in tqdm(
            pool.map(_job, todo, chunksize=4), total=len(todo), file=sys.stderr, desc="frames"
        ):
            if error:
                failures.append((video, error))
    for video, error in failures:
        print(f"failed: {video}: {error}", file=sys.stderr)
    print(f"extracted {len(todo) - len(failures)}, failed {len(failures)}", file=sys.stderr)
    return 1 if failures else 0


def annotations_command(args: argparse.Namespace) -> int:
    ann_dir = Path(args.annotation_dir)
    database = {}
    if args.dataset == "ucf101":
        classes = ann.read_class_index(ann_dir / "classInd.txt")
        subsets = {
            "training": ann.read_ucf101_list(ann_dir / f"trainlist0{args.split}.txt", classes, Path(), True),
            "validation": ann.read_ucf101_list(ann_dir / f"testlist0{args.split}.txt", classes, Path(), True),
        }
    else:
        train, classes = ann.read_hmdb51(ann_dir, args.split, "train", Path(), True)
        subsets = {
            "training": train,
            "validation": ann.read_hmdb51(ann_dir, args.split, "test", Path(), True)[0],
        }
    for subset, records in subsets.items():
        for record in records:
            database[Path(record.path).name] = {
                "subset": subset,
                "annotations": {"label": classes[record.label]},
            }
    Path(args.out).write_text(json.dumps({"labels": classes, "database": database}, indent=1))
    print(f"wrote {args.out}: {len(classes)} classes, {len(database)} videos", file=sys.stderr)
    return 0


def fixtures_command(args: argparse.Namespace) -> int:

    from vidssl_datasets.fixtures import DATASETS, kinetics400_full_size, write_fixtures  # noqa: PLC0415 -- lazy: start-up

    which = list(DATASETS) if args.dataset == "all" else [args.dataset]
    started = time.perf_counter()
    if args.full_size or args.rows:
        if which != ["kinetics400"]:
            raise ConfigError("--full-size and --rows are for kinetics400 only")
        folders = {"kinetics400": kinetics400_full_size(Path(args.out), args.rows, args.workers)}
    else:
        folders = write_fixtures(args.out, which, args.workers)
    for name, folder in folders.items():
        files = {
            (s.st_dev, s.st_ino): s.st_size for p in folder.rglob("*") if p.is_file() for s in [p.stat()]
        }  # a hard-linked file once
        size = sum(files.values())
        print(f"{name}: {folder} ({size / 1e6:.1f} MB)")
    print(
        f"fixtures written in {time.perf_counter() - started:.0f} s; try a config on them with "
        f"--cfg-options data_root={args.out}"
    )
    return 0


def _listed_videos(dataset: str, root: Path) -> dict[str, tuple[Path, list[str]]]:
    """Per part of ``dataset`` under the data root: the folder its videos (or frame folders) are
    under and every path its official annotation files list."""
    if dataset == "ucf101":
        lists, videos = root / "ucf101" / "ucfTrainTestlist", root / "ucf101" / "UCF-101"
        classes = ann.read_class_index(lists / "classInd.txt")
        paths = {
            r.path
            for split in (1, 2, 3)
            for subset in ("train", "test")
            for r in ann.read_ucf101_list(lists / f"{subset}list0{split}.txt", classes, videos)
        }
        return {"ucf101": (videos, sorted(paths))}
    if dataset == "hmdb51":
        splits, videos = root / "hmdb51" / "splits", root / "hmdb51" / "videos"
        paths = {
            r.path
            for subset in ("train", "test")
            for split in (1, 2, 3)
            for r in ann.read_hmdb51(splits, split, subset, videos)[0]
        }
        return {"hmdb51": (videos, sorted(paths))}
    if dataset == "kinetics400":
        base = root / "kinetics400"
        train, classes = ann.read_kinetics(base / "annotations" / "train.csv", base / "train")
        val, _ = ann.read_kinetics(base / "annotations" / "validate.csv", base / "val", classes)
        return {
            "kinetics400_train": (base / "train", [r.path for r in train]),
            "kinetics400_val": (base / "val", [r.path for r in val]),
        }
    base = root / "something_v1"
    labels = base / "something-something-v1-labels.csv"
    frames = base / "20bn-something-something-v1"
    return {
        f"something_v1_{split}": (
            frames,
            [
                r.path
                for r in ann.read_something_v1(labels, base / f"something-something-v1-{split}.csv", frames)[
                    0
                ]
            ],
        )
        for split in ("train", "validation")
    }


@functools.cache
def _worker_index(root: str) -> VideoIndex:
    """A verify worker's index of ``root``: opened once per process, its snapshot as it is
    (the lines the other processes append are read as they come, not made into a new snapshot
    for every chunk)."""
    index = VideoIndex(root)
    index.open(tail_share=float("inf"))
    return index


def _probe_chunk(job: tuple[str, list[str], str]) -> list[str]:
    """In a worker process: look up (probing where need be) each path in the index of
    ``root``; their statuses."""
    root, paths, decode = job
    index = _worker_index(root)
    return [index.lookup(p, decode)["status"] for p in paths]


def in_parallel(
    function: Callable[[Any], list[T]], jobs: list[Any], workers: int, label: str, verb: str
) -> list[T]:
    """``function`` over ``jobs`` (each a chunk of videos, a list of results back) in ``workers``
    processes: the results in order, progress (videos/s, ETA) on stderr every 10 s. Each job is a
    tuple whose second item lists its videos."""
    total, done, shown, results = sum(len(j[1]) for j in jobs), 0, 0.0, []
    started = time.perf_counter()
    with ProcessPoolExecutor(max_workers=workers) as pool:
        for found in pool.map(function, jobs):
            results += found
            done += len(found)
            elapsed = time.perf_counter() - started
            if elapsed - shown >= 10 or done == total:
                shown = elapsed
                rate = done / max(elapsed, 1e-9)
                print(
                    f"{label}: {verb} {done}/{total}, {rate:.1f} videos/s, ETA "
                    f"{(total - done) / max(rate, 1e-9):.0f} s",
                    file=sys.stderr,
                    flush=True,
                )
    return results


def verify_videos(paths: list[str], root: Path, workers: int, decode: str, label: str) -> list[str]:
    """The status of each video file (``ok``, ``missing``, ``unreadable``, ``empty``), probing
    only those the index of ``root`` does not hold valid entries for, in ``workers`` processes;
    progress (videos/s, ETA) on stderr. Entries are appended as they are made, so an interrupted
    verify continues where it stopped. The index's snapshot is brought up to date at the end, so
    the first run after a verify maps it instead of making it."""
    index = VideoIndex(root)
    print(f"{label}: index {index.file}", file=sys.stderr)
    rows, unusable = index.check_at_startup(paths, "startup")
    statuses = ["ok" if rows[i] >= 0 else unusable.get(i, "") for i in range(len(paths))]
    for i in unusable:  # a line saying so where the index has none (missing, empty: no probe)
        index.lookup(paths[i], decode)
    todo = [i for i, s in enumerate(statuses) if not s]
    chunks = [todo[k : k + 8] for k in range(0, len(todo), 8)]
    found = in_parallel(
        _probe_chunk, [(str(root), [paths[i] for i in c], decode) for c in chunks], workers, label, "probed"
    )
    for i, status in zip(todo, found, strict=True):
        statuses[i] = status
    if index.file is not None and index.file.is_file():
        open_snapshot(index.file)
    return statuses


@ann.gc_paused
def verify_command(args: argparse.Namespace) -> int:
    """Check every listed video, write the dataset's video index, print a summary."""
    from vidssl_datasets.fixtures import COUNTS  # noqa: PLC0415 -- lazy: start-up
    from vidssl_datasets.video_reader import count_frames  # noqa: PLC0415 -- lazy: start-up

    root = Path(args.data_root or os.environ.get("VIDSSL_DATA_ROOT") or "data")
    if not (root / args.dataset).is_dir():
        raise DatasetNotFound(
            f"{root / args.dataset} does not exist (download the dataset "
            f"there, or try 'vidssl-prepare fixtures {args.dataset} --out "
            f"{root}')"
        )
    rows, bad = [], []
    for part, (videos, paths) in _listed_videos(args.dataset, root).items():
        if args.dataset == "something_v1":  # frame folders: present and not empty
            statuses = [
                "missing"
                if not os.path.isdir(p)
                else "ok"
                if count_frames(Path(p), "{:05d}.jpg")
                else "empty"
                for p in paths
            ]
        else:
            statuses = verify_videos(paths, videos, args.workers, args.decode, part)
        counts = {s: statuses.count(s) for s in ("ok", "missing", "unreadable", "empty")}
        rows.append([part, str(len(paths)), *map(str, counts.values()), str(COUNTS.get(part, "")) or "-"])
        bad += [f"{status}\t{path}" for path, status in zip(paths, statuses, strict=True) if status != "ok"]
    from vidssl import table  # noqa: PLC0415 -- lazy: start-up

    print(table(rows, ["part", "listed", "ok", "missing", "unreadable", "empty", "official"]))
    if bad:
        report = root / args.dataset / "vidssl-verify.txt"
        report.write_text("\n".join(bad) + "\n")
        print(
            f"{len(bad)} videos are not usable (datasets leave them out without opening them); "
            f"the first ones:\n  " + "\n  ".join(bad[:10]) + f"\nall of them: {report}"
        )
    return 0


def _transcode_chunk(job: tuple[str, list[str], list[str], int, int]) -> list[str | None]:
    """In a worker process: transcode each source video to its target; ``None`` or why not."""
    from vidssl_datasets.transcode import transcode_video  # noqa: PLC0415 -- lazy: start-up

    _, sources, targets, short_side, gop = job
    failures: list[str | None] = []
    for source, target in zip(sources, targets, strict=True):
        try:
            transcode_video(Path(source), Path(target), short_side, gop)
            failures.append(None)
        except (DataError, OSError) as exc:
            failures.append(str(exc))
    return failures


def _copy_annotations(source: Path, target: Path) -> None:
    """Every file under ``source`` that is neither a video nor vidssl's own (index, verify
    report), to the same place under ``target``."""
    for path in source.rglob("*"):
        own = (
            path.name.startswith(".vidssl-index")
            or path.name == "vidssl-verify.txt"
            or any(part.startswith(".vidssl-index") for part in path.relative_to(source).parts)
        )
        if path.is_file() and path.suffix.lower() not in VIDEO_EXTENSIONS and not own:
            (target / path.relative_to(source)).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, target / path.relative_to(source))


@ann.gc_paused
def transcode_command(args: argparse.Namespace) -> int:
    """Re-encode a dataset's listed videos into a new data root (same layout, names and
    containers; annotation files copied), then verify the copy (its video index)."""
    if args.dataset == "something_v1":
        raise ConfigError(
            "something_v1 is frame folders; transcode re-encodes video files (ucf101, hmdb51, kinetics400)"
        )
    root, out = Path(args.data_root or os.environ.get("VIDSSL_DATA_ROOT") or "data"), Path(args.out)
    source, target = root / args.dataset, out / args.dataset
    if not source.is_dir():
        raise DatasetNotFound(f"{source} does not exist (the dataset to transcode)")
    if (
        target.resolve() == source.resolve()
        or target.resolve().is_relative_to(source.resolve())
        or source.resolve().is_relative_to(target.resolve())
    ):
        raise ConfigError(
            f"--out {out}: the copy {target} would overwrite or nest in the source "
            f"{source}; give another data root"
        )
    _copy_annotations(source, target)
    failures, sizes = [], [0, 0]
    for part, (videos, paths) in _listed_videos(args.dataset, root).items():
        new_videos = target / videos.relative_to(source)
        cut = len(str(videos)) + 1  # listed paths are the video folder's path + "/" + their own
        pairs = [(p, f"{new_videos}/{p[cut:]}") for p in paths if os.path.isfile(p)]
        todo = [(s, t) for s, t in pairs if not os.path.exists(t)]
        print(
            f"{part}: {len(pairs)} videos present, {len(pairs) - len(todo)} transcoded "
            f"already, {len(todo)} to transcode",
            file=sys.stderr,
        )
        chunks = [todo[k : k + 4] for k in range(0, len(todo), 4)]
        errors = in_parallel(
            _transcode_chunk,
            [(part, [s for s, _ in c], [t for _, t in c], args.short_side, args.gop) for c in chunks],
            args.workers,
            part,
            "transcoded",
        )
        failures += [f"{s}: {e}" for (s, _), e in zip(todo, errors, strict=True) if e]
        done = [(s, t) for s, t in pairs if os.path.exists(t)]
        sizes[0] += sum(os.path.getsize(s) for s, _ in done)
        sizes[1] += sum(os.path.getsize(t) for _, t in done)
        verify_videos([t for _, t in done], new_videos, args.workers, "first", part)
    print(
        f"transcoded {args.dataset} into {target}: {sizes[0] / 1e6:.1f} MB → "
        f"{sizes[1] / 1e6:.1f} MB (short side {args.short_side}, a keyframe every {args.gop} "
        f"frames)",
        file=sys.stderr,
    )
    for failure in failures:
        print(f"failed: {failure}", file=sys.stderr)
    return 1 if failures else 0


def main(argv: list[str] | None = None) -> int:
    parser = command_parser("vidssl-prepare", __doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    frames = commands.add_parser("frames", help="extract JPEG frames from every video of a folder")
    frames.add_argument("--videos", required=True, help="the folder of videos (searched below)")
    frames.add_argument("--out", required=True, help="the folder to write frame folders to")
    frames.add_argument("--short-side", type=int, default=240, help="shorter side of the frames in pixels")
    frames.add_argument("--workers", type=int, default=2, help="processes")
    frames.add_argument(
        "--backend",
        choices=["opencv", "ffmpeg"],
        default="opencv",
        help="decode with OpenCV (default) or the ffmpeg program",
    )
    notes = commands.add_parser("annotations", help="3D-ResNets JSON for a UCF101/HMDB51 split")
    notes.add_argument("dataset", choices=["ucf101", "hmdb51"], help="which dataset")
    notes.add_argument(
        "--annotation-dir",
        required=True,
        help="the official split files (ucfTrainTestlist or testTrainMulti_7030_splits)",
    )
    notes.add_argument("--split", type=int, choices=[1, 2, 3], default=1, help="default 1")
    notes.add_argument("--out", required=True, help="the JSON file to write")
    names = ["ucf101", "hmdb51", "kinetics400", "something_v1"]
    fixtures = commands.add_parser(
        "fixtures", help="tiny copies of the datasets in their official layouts, to try configs on"
    )
    fixtures.add_argument("dataset", choices=[*names, "all"], help="which dataset, or all")
    fixtures.add_argument("--out", required=True, help="the data root to write them under")
    fixtures.add_argument("--workers", type=int, default=2, help="encoding processes")
    fixtures.add_argument(
        "--full-size",
        action="store_true",
        help="kinetics400 with every row of the official lists (train, "
        "validate, test), its files hard links to a few dozen real videos",
    )
    fixtures.add_argument("--rows", type=int, help="with --full-size: this many listed videos in all instead")
    verify = commands.add_parser(
        "verify", help="check a dataset's files against its annotation and write its video index"
    )
    verify.add_argument("dataset", choices=names, help="which dataset")
    verify.add_argument("--data-root", help="default: $VIDSSL_DATA_ROOT, else data")
    verify.add_argument(
        "--workers",
        type=int,
        default=len(os.sched_getaffinity(0)),
        help="probing processes (default: the cores this process may use)",
    )
    verify.add_argument(
        "--decode",
        choices=["first", "last_gop", "all"],
        default="first",
        help="how much of each video a probe decodes: its first frame (the "
        "packets give the rest), its last group of pictures, or all of it",
    )
    transcode = commands.add_parser(
        "transcode", help="re-encode a dataset's videos for training (smaller, a keyframe every few frames)"
    )
    transcode.add_argument("dataset", choices=names, help="which dataset (video files only)")
    transcode.add_argument("--data-root", help="where it is: default $VIDSSL_DATA_ROOT, else data")
    transcode.add_argument("--out", required=True, help="the data root to write the copy under")
    transcode.add_argument(
        "--short-side",
        type=int,
        default=256,
        help="shorter side of the copy in pixels (never enlarged; 320 keeps more for 224² crops)",
    )
    transcode.add_argument("--gop", type=int, default=16, help="a keyframe every this many frames")
    transcode.add_argument(
        "--workers",
        type=int,
        default=len(os.sched_getaffinity(0)),
        help="encoding processes (default: the cores this process may use)",
    )
    args = parser.parse_args(argv)
    command = {
        "frames": frames_command,
        "annotations": annotations_command,
        "fixtures": fixtures_command,
        "verify": verify_command,
        "transcode": transcode_command,
    }[args.command]
    return guarded("vidssl-prepare", lambda: command(args), args.debug)


if __name__ == "__main__":
    raise SystemExit(main())
