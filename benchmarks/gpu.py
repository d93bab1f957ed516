"""The GPU runbook: what a vidssl training step costs on one CUDA device (never run by the tests).

For R3D-18, R(2+1)D-18 and I3D-ResNet-50 train steps (forward, backward, SGD) at 16×112² and
16×224²: clips/s and peak GPU memory in fp32, bf16 and fp16 (with its gradient scaler), each with
vidssl's default memory format (channels_last_3d) and lean Conv3d, applied as a vidssl stage applies
them (:mod:`vidssl._speed.precision`, :mod:`vidssl._speed.lean_conv3d`); torch.compile on the
fastest (model, precision) pair; the data pipeline's feed rate (decoded, augmented 16×112² clips per
second from synthetic_motion videos with ``--workers`` DataLoader workers), to see whether the GPU
would wait for data; faiss k-means of 100,000 × 128 points into 6,000 clusters on the GPU against
the CPU. Medians of ``--repeats``. Exits with a clear message when no CUDA device is present.

    python benchmarks/gpu.py [--batch 16] [--repeats 5] [--workers 8]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time

import numpy as np
import torch

import vidssl
from vidssl import ConfigError, kmeans_labels
from vidssl._speed.lean_conv3d import conv3d_mode
from vidssl._speed.precision import clips_in, grad_scaler, use_memory_format, use_precision

MODELS = {
    "r3d_18": dict(type="r3d", depth=18, variant="torchvision"),
    "r2plus1d_18": dict(type="r2plus1d", depth=18, variant="torchvision"),
    "i3d_r50": dict(type="i3d_resnet", depth=50),
}


def step_rate(
    spec: dict, size: int, batch: int, precision: str, compiled: bool, repeats: int, device: torch.device
) -> tuple[float, float]:
    """Clips/s (median of ``repeats`` timings of 5 steps) and peak memory in GiB."""
    model = vidssl.build("backbone", spec).to(device)
    use_precision(model, precision, device)
    use_memory_format(model, "channels_last_3d")
    if compiled:
        model.compile()
    clip = clips_in(torch.randn(batch, 3, 16, size, size, device=device), "channels_last_3d")
    optimizer = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9)
    scaler = grad_scaler(precision, device)

    def steps(n: int) -> None:
        for _ in range(n):
            with conv3d_mode("torch" if compiled else "lean"):  # as a vidssl stage
                loss = model(clip).square().mean()
            optimizer.zero_grad(set_to_none=True)
            (scaler.scale(loss) if scaler else loss).backward()
            if scaler:
                scaler.step(optimizer)
                scaler.update()
            else:
                optimizer.step()
        torch.cuda.synchronize(device)

    steps(3)  # warm-up, cuDNN autotuning, compilation
    torch.cuda.reset_peak_memory_stats(device)
    rates = []
    for _ in range(repeats):
        start = time.perf_counter()
        steps(5)
        rates.append(5 * batch / (time.perf_counter() - start))
    return statistics.median(rates), torch.cuda.max_memory_allocated(device) / 2**30


def feed_rate(workers: int, repeats: int) -> float:
    """Clips/s of 16×112² clips out of a DataLoader over generated synthetic_motion videos."""
    with tempfile.TemporaryDirectory() as root:
        view = dict(clip_len=16, size=112, crop="random_resized")
        dataset = vidssl.build(
            "dataset",
            dict(
                type="synthetic_motion",
                split="train",
                root=root,
                size=128,
                frames=48,
                train_per_class=20,
                view=view,
            ),
            views={"clip": {}},
        )
        loader = torch.utils.data.DataLoader(
            dataset, batch_size=16, shuffle=True, num_workers=workers, persistent_workers=workers > 0
        )
        rates = []
        for _ in range(repeats):
            start, clips = time.perf_counter(), 0
            for batch in loader:
                clips += batch["views"]["clip"].shape[0]
            rates.append(clips / (time.perf_counter() - start))
        return statistics.median(rates)


def kmeans_seconds(gpu: bool) -> float:

    points = np.random.default_rng(0).standard_normal((100_000, 128)).astype(np.float32)
    start = time.perf_counter()
    kmeans_labels(points, 6000, num_c=1, iterations=20, gpu=gpu)
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--workers", type=int, default=8)
    args = parser.parse_args()
    if not torch.cuda.is_available():
        print(
            "benchmarks/gpu.py: no CUDA device here; this runbook needs one GPU (nothing was measured)",
            file=sys.stderr,
        )
        return 2
    device = torch.device("cuda")
    torch.backends.cudnn.benchmark = True
    print(f"{torch.cuda.get_device_name(device)}, torch {torch.__version__}, batch {args.batch}")
    print(f"{'model':<12} {'input':<9} {'precision':<9} {'compile':<7} {'clips/s':>8} {'peak GiB':>8}")
    best: dict[tuple[str, int], tuple[float, str]] = {}
    for name, spec in MODELS.items():
        for size in (112, 224):
            for precision in ("fp32", "bf16", "fp16"):
                try:
                    rate, peak = step_rate(spec, size, args.batch, precision, False, args.repeats, device)
                except torch.cuda.OutOfMemoryError:
                    print(f"{name:<12} 16×{size}² {precision:<9} {'no':<7} {'out of memory':>17}")
                    torch.cuda.empty_cache()
                    continue
                print(f"{name:<12} 16×{size}² {precision:<9} {'no':<7} {rate:8.1f} {peak:8.2f}")
                if rate > best.get((name, size), (0.0, ""))[0]:
                    best[(name, size)] = (rate, precision)
    (name, size), (_, precision) = max(best.items(), key=lambda item: item[1][0])
    rate, peak = step_rate(MODELS[name], size, args.batch, precision, True, args.repeats, device)
    print(f"{name:<12} 16×{size}² {precision:<9} {'yes':<7} {rate:8.1f} {peak:8.2f}")
    print(
        f"data pipeline feed ({args.workers} workers, 16×112²): "
        f"{feed_rate(args.workers, args.repeats):.1f} clips/s"
    )
    try:
        cpu, gpu = kmeans_seconds(False), kmeans_seconds(True)
        print(f"faiss k-means 100k×128 → 6000: CPU {cpu:.1f} s, GPU {gpu:.1f} s ({cpu / gpu:.1f}×)")
    except ConfigError as exc:  # faiss-cpu installed, or no faiss
        print(f"faiss k-means: not measured ({exc})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
