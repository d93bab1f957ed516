"""Data pipeline throughput: clips/s of 16×112² clips through vidssl's datasets (video files with
0, 1 and 2 DataLoader workers, and frame folders) against the floor of reading the same clips,
measured in the same run.

The floor, single process: PyAV seeks to the keyframe before each clip, decodes to the clip's
last frame, converts only its 16 frames to RGB and resizes them to 112² (for frame folders:
``cv2.imread`` of the 16 JPEGs and the resize). Videos: synthetic_motion rendered at 160×120
(MJPG ``.avi``, 48 frames, and their extracted JPEG frames) and, at real resolution,
Kinetics-like 340×256 H.264 with B-frames (10 s at 30 fps, a keyframe every 2 s). The ratio is
vidssl / floor; the last line is ``ratio: X`` for 2 workers on the 340×256 videos.

    python benchmarks/data_pipeline.py [--videos 48] [--repeats 5]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).parent))
from decode import KINDS, encode  # noqa: E402  (the decode benchmark's video generator)

from vidssl_datasets import synthetic_motion as sm  # noqa: E402
from vidssl_datasets.prepare import extract_frames  # noqa: E402
from vidssl_datasets.video_dataset import VideoDataset  # noqa: E402
from vidssl_datasets.video_index import VideoIndex  # noqa: E402
from vidssl_datasets.video_reader import probe  # noqa: E402
from vidssl_datasets.video_source import ReaderSpec, VideoRecord  # noqa: E402

VIEW = dict(clip_len=16, stride=1, size=112, resize=112, sampler="random", crop="center")


def small_videos(root: Path, n: int) -> list[Path]:
    cfg = sm.SyntheticMotionConfig(size=120, frames=48)
    paths = []
    for i in range(n):
        video = sm.render_video(i % 10, [i], cfg, *sm.split_families("train"))
        path = root / f"v{i:03d}.avi"
        sm.write_video(path, np.stack([cv2.resize(f, (160, 120)) for f in video]))
        paths.append(path)
    return paths


def real_videos(root: Path, n: int) -> list[Path]:
    spec = KINDS["Kinetics-like 340×256 H.264"]
    paths = [root / f"k{i:03d}.mp4" for i in range(n)]
    for path in paths:
        encode(path, **spec)
    return paths


def floor(paths: list[Path], frames: bool, infos: dict, rng: np.random.Generator) -> float:
    """Clips/s of the least work that reads each video's clip."""
    import av  # noqa: PLC0415 -- lazy: start-up

    start_time = time.perf_counter()
    for path in paths:
        if frames:
            n = int((path / "n_frames").read_text())
            start = int(rng.integers(0, n - 15))
            images = [
                cv2.cvtColor(cv2.imread(str(path / f"image_{i + 1:05d}.jpg")), cv2.COLOR_BGR2RGB)
                for i in range(start, start + 16)
            ]
        else:
            info = infos[path]
            start = int(rng.integers(0, info.n_frames - 15))
            key_index, key_pts, key_dts = info.keyframe_before(start)
            images = []
            with av.open(str(path)) as container:
                stream = container.streams.video[0]
                container.seek(key_dts, stream=stream, backward=True, any_frame=False)
                index = None
                for frame in container.decode(stream):
                    if index is None:
                        if frame.pts < key_pts:
                            continue
                        index = key_index
                    if index >= start:
                        images.append(frame.to_ndarray(format="rgb24"))
                    if index == start + 15:
                        break
                    index += 1
        h, w = images[0].shape[:2]
        side = min(h, w)
        [
            cv2.resize(im[(h - side) // 2 : (h + side) // 2, (w - side) // 2 : (w + side) // 2], (112, 112))
            for im in images
        ]
    return len(paths) / (time.perf_counter() - start_time)


def pipeline(paths: list[Path], source: str, workers: int, root: Path) -> float:
    dataset = VideoDataset(
        [VideoRecord(str(p), 0) for p in paths],
        ["x"],
        {"clip": {}},
        VIEW,
        ReaderSpec(source=source),
        index=VideoIndex(root),
    )
    loader = torch.utils.data.DataLoader(dataset, batch_size=8, num_workers=workers)
    start = time.perf_counter()
    n = sum(len(batch["label"]) for batch in loader)
    return n / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--videos", type=int, default=48)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        small, real = small_videos(root, args.videos), real_videos(root, args.videos)
        folders = []
        for path in small:
            extract_frames(path, root / "frames" / path.stem, 120)
            folders.append(root / "frames" / path.stem)
        index = VideoIndex(root)
        index.build(small + real)  # as a dataset's first epoch or vidssl-prepare verify does
        infos = {p: probe(p) for p in small + real}
        rows = [
            ("160×120 MJPG video", "video", small, (0, 1, 2)),
            ("160×120 JPEG frames", "frames", folders, (0, 2)),
            ("340×256 H.264 video", "video", real, (0, 1, 2)),
        ]
        results = {}
        rng = np.random.default_rng(0)
        for name, source, paths, worker_counts in rows:
            for workers in worker_counts:
                rates, bases = [], []
                for _ in range(args.repeats):  # interleaved: floor, pipeline, ...
                    bases.append(floor(paths, source == "frames", infos, rng))
                    rates.append(pipeline(paths, source, workers, root))
                results[(name, workers)] = (statistics.median(rates), statistics.median(bases))
        print(f"{'videos':<22}{'workers':>8}{'vidssl clips/s':>16}{'floor clips/s':>15}{'ratio':>7}")
        for (name, workers), (rate, base) in results.items():
            print(f"{name:<22}{workers:>8}{rate:16.1f}{base:15.1f}{rate / base:7.2f}")
        rate, base = results[("340×256 H.264 video", 2)]
        print(f"ratio: {rate / base:.2f}")


if __name__ == "__main__":
    main()
