"""``vidssl-prepare``: turn official dataset downloads into what the readers expect.

    vidssl-prepare frames --videos UCF-101 --out ucf101_frames [--short-side 240] [--workers 2]
    vidssl-prepare annotations ucf101 --annotation-dir ucfTrainTestlist --split 1 --out ucf101_01.json
    vidssl-prepare fixtures {ucf101,hmdb51,kinetics400,something_v1,all} --out DATA_ROOT
    vidssl-prepare fixtures kinetics400 --full-size [--rows N] --out DATA_ROOT
    vidssl-prepare verify {ucf101,hmdb51,kinetics400,something_v1} [--data-root DATA_ROOT]
                          [--workers N] [--decode first|last_gop|all]

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
interrupted verify continues where it stopped.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import cv2

from vidssl.cli import command_parser, guarded
from vidssl.errors import ConfigError, DataError, DatasetNotFound
from vidssl_datasets import annotations as ann
from vidssl_datasets.clip_transforms import resize_short
from vidssl_datasets.video_reader import read_video

VIDEO_EXTENSIONS = (".avi", ".mp4", ".mkv", ".webm", ".mov")


def extract_frames(video: Path, out: Path, short_side: int, backend: str = "opencv",
                   pattern: str = "image_{:05d}.jpg") -> int:
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
        result = subprocess.run([ffmpeg, "-loglevel", "error", "-i", str(video), "-vf", scale,
                                 "-q:v", "2", str(tmp / pattern.replace("{:05d}", "%05d"))],
                                capture_output=True, text=True)
        if result.returncode != 0:
            raise DataError(f"ffmpeg failed on {video}: {result.stderr.strip()[:300]}")
        n = len(list(tmp.glob("*.jpg")))
    else:
        frames = resize_short(read_video(video), short_side)
        for i, frame in enumerate(frames):
            cv2.imwrite(str(tmp / pattern.format(i + 1)), cv2.cvtColor(frame, cv2.COLOR_RGB2BGR),
                        [cv2.IMWRITE_JPEG_QUALITY, 95])
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
    from tqdm import tqdm

    videos_root, out_root = Path(args.videos), Path(args.out)
    if not videos_root.is_dir():
        raise DataError(f"--videos {videos_root} is not a folder")
    videos = sorted(p for p in videos_root.rglob("*") if p.suffix.lower() in VIDEO_EXTENSIONS)
    jobs = [(v, out_root / v.relative_to(videos_root).with_suffix(""), args.short_side, args.backend)
            for v in videos]
    todo = [j for j in jobs if not (j[1] / "n_frames").is_file()]
    print(f"{len(videos)} videos, {len(videos) - len(todo)} already done, {len(todo)} to extract",
          file=sys.stderr)
    failures = []
    with ProcessPoolExecutor(max_workers=args.workers) as pool:
        for video, error in tqdm(pool.map(_job, todo, chunksize=4), total=len(todo),
                                 file=sys.stderr, desc="frames"):
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
        subsets = {"training": ann.read_ucf101_list(ann_dir / f"trainlist0{args.split}.txt",
                                                    classes, Path(), True),
                   "validation": ann.read_ucf101_list(ann_dir / f"testlist0{args.split}.txt",
                                                      classes, Path(), True)}
    else:
        train, classes = ann.read_hmdb51(ann_dir, args.split, "train", Path(), True)
        subsets = {"training": train,
                   "validation": ann.read_hmdb51(ann_dir, args.split, "test", Path(), True)[0]}
    for subset, records in subsets.items():
        for record in records:
            database[Path(record.path).name] = {"subset": subset,
                                                "annotations": {"label": classes[record.label]}}
    Path(args.out).write_text(json.dumps({"labels": classes, "database": database}, indent=1))
    print(f"wrote {args.out}: {len(classes)} classes, {len(database)} videos", file=sys.stderr)
    return 0


def fixtures_command(args: argparse.Namespace) -> int:
    import time

    from vidssl_datasets.fixtures import DATASETS, kinetics400_full_size, write_fixtures

    which = list(DATASETS) if args.dataset == "all" else [args.dataset]
    started = time.perf_counter()
    if args.full_size or args.rows:
        if which != ["kinetics400"]:
            raise ConfigError("--full-size and --rows are for kinetics400 only")
        folders = {"kinetics400": kinetics400_full_size(Path(args.out), args.rows, args.workers)}
    else:
        folders = write_fixtures(args.out, which, args.workers)
    for name, folder in folders.items():
        files = {(s.st_dev, s.st_ino): s.st_size for p in folder.rglob("*") if p.is_file()
                 for s in [p.stat()]}   # a hard-linked file once
        size = sum(files.values())
        print(f"{name}: {folder} ({size / 1e6:.1f} MB)")
    print(f"fixtures written in {time.perf_counter() - started:.0f} s; try a config on them with "
          f"--cfg-options data_root={args.out}")
    return 0


def _listed_videos(dataset: str, root: Path) -> dict[str, list[Path]]:
    """Every video (or frame folder) the official annotation files of ``dataset`` under the data
    root list, per part."""
    if dataset == "ucf101":
        lists, videos = root / "ucf101" / "ucfTrainTestlist", root / "ucf101" / "UCF-101"
        classes = ann.read_class_index(lists / "classInd.txt")
        paths = {r.path for split in (1, 2, 3) for subset in ("train", "test")
                 for r in ann.read_ucf101_list(lists / f"{subset}list0{split}.txt", classes, videos)}
        return {"ucf101": sorted(Path(p) for p in paths)}
    if dataset == "hmdb51":
        splits, videos = root / "hmdb51" / "splits", root / "hmdb51" / "videos"
        paths = {r.path for subset in ("train", "test") for split in (1, 2, 3)
                 for r in ann.read_hmdb51(splits, split, subset, videos)[0]}
        return {"hmdb51": sorted(Path(p) for p in paths)}
    if dataset == "kinetics400":
        base = root / "kinetics400"
        train, classes = ann.read_kinetics(base / "annotations" / "train.csv", base / "train")
        val, _ = ann.read_kinetics(base / "annotations" / "validate.csv", base / "val", classes)
        return {"kinetics400_train": [Path(r.path) for r in train],
                "kinetics400_val": [Path(r.path) for r in val]}
    base = root / "something_v1"
    labels = base / "something-something-v1-labels.csv"
    return {f"something_v1_{split}": [Path(r.path) for r in ann.read_something_v1(
        labels, base / f"something-something-v1-{split}.csv",
        base / "20bn-something-something-v1")[0]] for split in ("train", "validation")}


def _probe_chunk(job: tuple[str, list[str], str]) -> list[str]:
    """In a worker process: look up (probing where need be) each path in the index of
    ``root``; their statuses."""
    from vidssl_datasets.video_index import VideoIndex

    root, paths, decode = job
    index = VideoIndex(root)
    return [index.lookup(p, decode)["status"] for p in paths]


def verify_videos(paths: list[Path], root: Path, workers: int, decode: str,
                  label: str) -> list[str]:
    """The status of each video file (``ok``, ``missing``, ``unreadable``, ``empty``), probing
    only those the index of ``root`` does not hold valid entries for, in ``workers`` processes;
    progress (videos/s, ETA) on stderr. Entries are appended as they are made, so an interrupted
    verify continues where it stopped."""
    from vidssl_datasets.video_index import VideoIndex

    index = VideoIndex(root)
    print(f"{label}: index {index.file}", file=sys.stderr)
    texts = [str(p) for p in paths]
    rows, unusable = index.check_at_startup(texts, "startup")
    statuses = ["ok" if rows[i] >= 0 else unusable.get(i, "") for i in range(len(paths))]
    for i in unusable:   # a line saying so where the index has none (missing, empty: no probe)
        index.lookup(texts[i], decode)
    todo = [i for i, s in enumerate(statuses) if not s]
    if not todo:
        return statuses
    chunks = [todo[k:k + 8] for k in range(0, len(todo), 8)]
    started, done, shown = time.perf_counter(), 0, 0.0
    with ProcessPoolExecutor(max_workers=workers) as pool:
        jobs = pool.map(_probe_chunk, [(str(root), [texts[i] for i in c], decode) for c in chunks])
        for chunk, found in zip(chunks, jobs):
            for i, status in zip(chunk, found):
                statuses[i] = status
            done += len(chunk)
            elapsed = time.perf_counter() - started
            if elapsed - shown >= 10 or done == len(todo):
                shown = elapsed
                rate = done / max(elapsed, 1e-9)
                print(f"{label}: probed {done}/{len(todo)}, {rate:.1f} videos/s, ETA "
                      f"{(len(todo) - done) / max(rate, 1e-9):.0f} s", file=sys.stderr, flush=True)
    return statuses


def verify_command(args: argparse.Namespace) -> int:
    """Check every listed video, write the dataset's video index, print a summary."""
    from vidssl_datasets.fixtures import COUNTS
    from vidssl_datasets.video_reader import count_frames

    root = Path(args.data_root or os.environ.get("VIDSSL_DATA_ROOT") or "data")
    if not (root / args.dataset).is_dir():
        raise DatasetNotFound(f"{root / args.dataset} does not exist (download the dataset "
                              f"there, or try 'vidssl-prepare fixtures {args.dataset} --out "
                              f"{root}')")
    rows, bad = [], []
    for part, paths in _listed_videos(args.dataset, root).items():
        if args.dataset == "something_v1":   # frame folders: present and not empty
            statuses = ["missing" if not p.is_dir() else "ok" if count_frames(p, "{:05d}.jpg")
                        else "empty" for p in paths]
        else:
            statuses = verify_videos(paths, paths[0].parents[1] if paths else root,
                                     args.workers, args.decode, part)
        counts = {s: statuses.count(s) for s in ("ok", "missing", "unreadable", "empty")}
        rows.append([part, str(len(paths)), *map(str, counts.values()),
                     str(COUNTS.get(part, "")) or "-"])
        bad += [f"{status}\t{path}" for path, status in zip(paths, statuses) if status != "ok"]
    from vidssl.cli import table

    print(table(rows, ["part", "listed", "ok", "missing", "unreadable", "empty", "official"]))
    if bad:
        report = root / args.dataset / "vidssl-verify.txt"
        report.write_text("\n".join(bad) + "\n")
        print(f"{len(bad)} videos are not usable (datasets leave them out without opening them); "
              f"the first ones:\n  " + "\n  ".join(bad[:10]) + f"\nall of them: {report}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = command_parser("vidssl-prepare", __doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    frames = commands.add_parser("frames", help="extract JPEG frames from every video of a folder")
    frames.add_argument("--videos", required=True, help="the folder of videos (searched below)")
    frames.add_argument("--out", required=True, help="the folder to write frame folders to")
    frames.add_argument("--short-side", type=int, default=240,
                        help="shorter side of the frames in pixels")
    frames.add_argument("--workers", type=int, default=2, help="processes")
    frames.add_argument("--backend", choices=["opencv", "ffmpeg"], default="opencv",
                        help="decode with OpenCV (default) or the ffmpeg program")
    notes = commands.add_parser("annotations", help="3D-ResNets JSON for a UCF101/HMDB51 split")
    notes.add_argument("dataset", choices=["ucf101", "hmdb51"], help="which dataset")
    notes.add_argument("--annotation-dir", required=True,
                       help="the official split files (ucfTrainTestlist or testTrainMulti_7030_splits)")
    notes.add_argument("--split", type=int, choices=[1, 2, 3], default=1, help="default 1")
    notes.add_argument("--out", required=True, help="the JSON file to write")
    names = ["ucf101", "hmdb51", "kinetics400", "something_v1"]
    fixtures = commands.add_parser("fixtures", help="tiny copies of the datasets in their "
                                                    "official layouts, to try configs on")
    fixtures.add_argument("dataset", choices=[*names, "all"], help="which dataset, or all")
    fixtures.add_argument("--out", required=True, help="the data root to write them under")
    fixtures.add_argument("--workers", type=int, default=2, help="encoding processes")
    fixtures.add_argument("--full-size", action="store_true",
                          help="kinetics400 with every row of the official lists (train, "
                               "validate, test), its files hard links to a few dozen real videos")
    fixtures.add_argument("--rows", type=int,
                          help="with --full-size: this many listed videos in all instead")
    verify = commands.add_parser("verify", help="check a dataset's files against its annotation "
                                                "and write its video index")
    verify.add_argument("dataset", choices=names, help="which dataset")
    verify.add_argument("--data-root", help="default: $VIDSSL_DATA_ROOT, else data")
    verify.add_argument("--workers", type=int, default=len(os.sched_getaffinity(0)),
                        help="probing processes (default: the cores this process may use)")
    verify.add_argument("--decode", choices=["first", "last_gop", "all"], default="first",
                        help="how much of each video a probe decodes: its first frame (the "
                             "packets give the rest), its last group of pictures, or all of it")
    args = parser.parse_args(argv)
    command = {"frames": frames_command, "annotations": annotations_command,
               "fixtures": fixtures_command, "verify": verify_command}[args.command]
    return guarded("vidssl-prepare", lambda: command(args), args.debug)


if __name__ == "__main__":
    raise SystemExit(main())
