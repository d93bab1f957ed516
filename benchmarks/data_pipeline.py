"""Data pipeline throughput: clips/s of 16×112² clips through vidssl's datasets (video files and
frame folders; 0, 1 and 2 DataLoader workers) against raw decoding of the same frames with cv2
in the same run.

The test videos are synthetic_motion videos rendered at 160×120 (MJPG .avi, 48 frames) and their
extracted JPEG frames. The baseline decodes each video with cv2 (or reads its 16 JPEGs with
cv2.imread) and resizes the clip's frames to 112², single process; the ratio compares equal work.
The last line is ``ratio: X`` for 2 workers reading video files.

    python benchmarks/data_pipeline.py [--videos 96] [--repeats 5]
"""
from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
import torch

from vidssl_datasets import synthetic_motion as sm
from vidssl_datasets.prepare import extract_frames
from vidssl_datasets.video_dataset import VideoDataset
from vidssl_datasets.video_source import ReaderSpec, VideoRecord

VIEW = dict(clip_len=16, stride=1, size=112, resize=112, sampler="random", crop="center")


def make_videos(root: Path, n: int) -> list[Path]:
    cfg = sm.SyntheticMotionConfig(size=120, frames=48)
    paths = []
    for i in range(n):
        video = sm.render_video(i % 10, [i], cfg, *sm.split_families("train"))
        wide = np.stack([cv2.resize(f, (160, 120)) for f in video])
        path = root / f"v{i:03d}.avi"
        sm.write_video(path, wide)
        paths.append(path)
    return paths


def raw_cv2(paths: list[Path], frames: bool) -> float:
    start = time.perf_counter()
    for path in paths:
        if frames:
            images = [cv2.imread(str(path / f"image_{i:05d}.jpg")) for i in range(1, 17)]
        else:
            cap, images = cv2.VideoCapture(str(path)), []
            while True:
                ok, image = cap.read()
                if not ok:
                    break
                images.append(image)
            images = images[:16]
        [cv2.resize(cv2.cvtColor(im, cv2.COLOR_BGR2RGB), (112, 112)) for im in images]
    return len(paths) / (time.perf_counter() - start)


def pipeline(paths: list[Path], source: str, workers: int) -> float:
    dataset = VideoDataset([VideoRecord(str(p), 0) for p in paths], ["x"], {"clip": {}}, VIEW,
                           ReaderSpec(source=source))
    loader = torch.utils.data.DataLoader(dataset, batch_size=8, num_workers=workers)
    start = time.perf_counter()
    n = sum(len(batch["label"]) for batch in loader)
    return n / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--videos", type=int, default=96)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        videos = make_videos(root, args.videos)
        folders = []
        for path in videos:
            extract_frames(path, root / "frames" / path.stem, 120)
            folders.append(root / "frames" / path.stem)
        results = {}
        for source, paths in (("video", videos), ("frames", folders)):
            for workers in (0, 1, 2):
                rates, bases = [], []
                for _ in range(args.repeats):  # interleaved: baseline, pipeline, ...
                    bases.append(raw_cv2(paths, source == "frames"))
                    rates.append(pipeline(paths, source, workers))
                results[(source, workers)] = (statistics.median(rates), statistics.median(bases))
        print(f"{'source':<8} {'workers':>7} {'vidssl clips/s':>15} {'raw cv2 clips/s':>16} {'ratio':>6}")
        for (source, workers), (rate, base) in results.items():
            print(f"{source:<8} {workers:>7} {rate:15.1f} {base:16.1f} {rate / base:6.2f}")
        rate, base = results[("video", 2)]
        print(f"ratio: {rate / base:.2f}")


if __name__ == "__main__":
    main()
