"""Backbone training speed on this machine: forward + backward + SGD step, clips/s.

Our R3D-18 and R(2+1)D-18 in their ``torchvision`` variants against torchvision's own models,
interleaved in one run (same inputs, same threads), with the fraction of this machine's fp32
matmul peak each reaches (FLOPs counted by torch.utils.flop_counter) and the effect of
``channels_last_3d`` on ours.

    python benchmarks/backbones.py [--batch 4] [--frames 8] [--size 112] [--repeats 3]
"""
from __future__ import annotations

import argparse
import statistics
import time

import torch
import torchvision
from torch.utils.flop_counter import FlopCounterMode

import vidssl


def matmul_peak(seconds: float = 2.0) -> float:
    """fp32 GFLOP/s of a large square matmul (the reference "peak"; oneDNN's conv3d kernels can
    run faster than this sgemm, so a fraction above 100 % is possible and was seen here)."""
    a, b = torch.randn(4096, 4096), torch.randn(4096, 4096)
    a @ b
    n, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        a @ b
        n += 1
    return 2 * 4096 ** 3 * n / (time.perf_counter() - start) / 1e9


def ours(name: str) -> torch.nn.Module:
    return vidssl.build("backbone", {"type": name, "depth": 18, "variant": "torchvision"})


def theirs(builder) -> torch.nn.Module:
    model = builder()
    model.fc = torch.nn.Identity()
    return model


def train_step_flops(model: torch.nn.Module, clip: torch.Tensor) -> float:
    with FlopCounterMode(display=False) as counter:
        model(clip).sum().backward()
    model.zero_grad(set_to_none=True)
    return counter.get_total_flops()


def clips_per_second(model: torch.nn.Module, clip: torch.Tensor, steps: int) -> float:
    optimizer = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9)
    model.train()
    start = time.perf_counter()
    for _ in range(steps):
        loss = model(clip).square().mean()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    return steps * clip.shape[0] / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--frames", type=int, default=8)
    parser.add_argument("--size", type=int, default=112)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--steps", type=int, default=2)
    args = parser.parse_args()
    torch.manual_seed(0)
    clip = torch.randn(args.batch, 3, args.frames, args.size, args.size)
    peak = matmul_peak()
    print(f"threads {torch.get_num_threads()}, fp32 matmul peak {peak:.0f} GFLOP/s, "
          f"input {args.batch}×3×{args.frames}×{args.size}²")
    pairs = [("r3d", torchvision.models.video.r3d_18), ("r2plus1d", torchvision.models.video.r2plus1d_18)]
    rows = []
    for name, builder in pairs:
        models = {"vidssl": ours(name), "torchvision": theirs(builder),
                  "vidssl channels_last_3d": ours(name).to(memory_format=torch.channels_last_3d)}
        inputs = {k: clip.contiguous(memory_format=torch.channels_last_3d) if "channels" in k else clip
                  for k in models}
        flops = train_step_flops(models["vidssl"], clip) / args.batch
        for key, model in models.items():  # warm-up
            clips_per_second(model, inputs[key], 1)
        rates: dict[str, list[float]] = {k: [] for k in models}
        keys = list(models)
        for repeat in range(args.repeats):  # rotate the order so no model always runs first
            for key in keys[repeat % len(keys):] + keys[:repeat % len(keys)]:
                rates[key].append(clips_per_second(models[key], inputs[key], args.steps))
        base = statistics.median(rates["torchvision"])
        for key in models:
            rate = statistics.median(rates[key])
            rows.append((f"{name}_18", key, rate, rate / base, rate * flops / 1e9 / peak))
    print(f"{'model':<12} {'implementation':<24} {'clips/s':>8} {'vs tv':>6} {'of matmul':>9}")
    for model, impl, rate, ratio, fraction in rows:
        print(f"{model:<12} {impl:<24} {rate:8.2f} {ratio:6.3f} {100 * fraction:8.1f}%")
    worst = min(r[3] for r in rows if r[1] == "vidssl")
    print(f"ratio: {worst:.3f}")


if __name__ == "__main__":
    main()
