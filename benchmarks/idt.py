"""Trajectory extraction speed (frames/s, decoding excluded) in ``--mode dt`` and ``--mode idt``
on the KTH fixture (160×120) and on synthetic_motion videos rendered at 320×240 and 640×480, plus
the Fisher-vector + clustering time, in one run.

The anchor is the original C++ program (DenseTrack, plain DT) on this kind of machine: about
60 frames/s on the KTH clip, 13.6 at 320×240 and 3.2 at 640×480 (figures given with the IDT
issue; the binary cannot be built here, so these are quoted, not re-measured). The ratio printed
per row is ours / anchor for dt; the target is ≥ 1.5.

    python benchmarks/idt.py [--frames 60] [--repeats 2]
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import cv2
import numpy as np
from sklearn.metrics import normalized_mutual_info_score

from vidssl.kmeans import kmeans_labels
from vidssl_datasets import synthetic_motion as sm
from vidssl_datasets.video_reader import read_video
from vidssl_idt.count_sketch import CountSketch
from vidssl_idt.fisher import fisher_vector, fit_fisher_model, sample_descriptors
from vidssl_idt.trajectories import extract_trajectories

ANCHOR_FPS = {"KTH 160×120": 60.0, "synthetic 320×240": 13.6, "synthetic 640×480": 3.2}
KTH = Path(__file__).resolve().parents[2] / "shared" / "fixtures" / "idt" / \
    "person01_boxing_d1_uncomp.avi"


def synthetic(width: int, height: int, frames: int, label: int = 0) -> np.ndarray:
    cfg = sm.SyntheticMotionConfig(size=height, frames=frames)
    video = sm.render_video(label, [label], cfg, *sm.split_families("train"))
    return np.stack([cv2.resize(f, (width, height)) for f in video])


def frames_per_second(video: np.ndarray, mode: str, repeats: int) -> tuple[float, int]:
    best, rows = 0.0, 0
    for _ in range(repeats):
        started = time.perf_counter()
        rows = len(extract_trajectories(video, mode))
        best = max(best, len(video) / (time.perf_counter() - started))
    return best, rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--frames", type=int, default=60, help="frames of each synthetic video")
    parser.add_argument("--repeats", type=int, default=2, help="best of this many runs")
    args = parser.parse_args()
    videos = {}
    if KTH.is_file():
        videos["KTH 160×120"] = read_video(KTH)
    else:
        print(f"(KTH fixture not found at {KTH}; skipping that row)")
    videos["synthetic 320×240"] = synthetic(320, 240, args.frames)
    videos["synthetic 640×480"] = synthetic(640, 480, args.frames)
    print(f"{'video':<20}{'frames':>7}{'dt fps':>9}{'idt fps':>9}{'anchor':>8}{'dt/anchor':>11}"
          f"{'rows dt':>9}")
    ratios = []
    for name, video in videos.items():
        dt, rows = frames_per_second(video, "dt", args.repeats)
        idt, _ = frames_per_second(video, "idt", args.repeats)
        ratios.append(dt / ANCHOR_FPS[name])
        print(f"{name:<20}{len(video):>7}{dt:>9.1f}{idt:>9.1f}{ANCHOR_FPS[name]:>8.1f}"
              f"{ratios[-1]:>11.2f}{rows:>9}")

    # Fisher vectors + clustering on synthetic_motion at 64×64 (200 videos)
    cfg = sm.SyntheticMotionConfig(size=64, frames=32)
    clips = [sm.render_video(i % 10, [i], cfg, *sm.split_families("train")) for i in range(200)]
    started = time.perf_counter()
    tracks = [extract_trajectories(c, "dt") for c in clips]
    extracted = time.perf_counter()
    model = fit_fisher_model(sample_descriptors(tracks, 200), k=32, pca=0.9, n_init=1)
    vectors = np.stack([fisher_vector(t, model) for t in tracks])
    features = CountSketch(vectors.shape[1], 2000)(vectors)
    encoded = time.perf_counter()
    labels = kmeans_labels(features, k=10, num_c=3)
    clustered = time.perf_counter()
    classes = np.arange(200) % 10
    nmi = np.mean([normalized_mutual_info_score(classes, run) for run in labels])
    print(f"200 synthetic videos 64×64×32: trajectories {extracted - started:.1f} s, "
          f"FV fit+encode+sketch ({vectors.shape[1]}-d → 2000) {encoded - extracted:.1f} s, "
          f"k-means 3×10 {clustered - encoded:.2f} s; NMI with the 10 motion classes {nmi:.3f}")
    print(f"ratio: {min(ratios):.2f}  (slowest dt row, ours / original program)")


if __name__ == "__main__":
    main()
