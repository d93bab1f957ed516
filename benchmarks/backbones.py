"""Backbone training speed on this machine: forward + backward + SGD step, clips/s.

Our R3D-18 and R(2+1)D-18 (``torchvision`` variants) against torchvision's own models, interleaved
in one run (same inputs, same threads), median of ``--repeats`` rounds whose order rotates:

* each throughput switch of a vidssl stage (``memory_format='channels_last_3d'``, ``compile``,
  ``precision='bf16'``), applied the same way (:mod:`vidssl.precision`) to ours and to
  torchvision's model, so every row compares like with like;
* vidssl's defaults (channels_last_3d, fp32 on CPU) against torchvision's (contiguous fp32);
* the losses of ``--check-steps`` SGD steps with each switch against fp32 contiguous from the same
  weights and clips (relative difference, worst step; bf16 is stated, not held to 1e-3).

The last line is ``ratio: X``: vidssl defaults / torchvision defaults, the worse of the two models.

    python benchmarks/backbones.py [--batch 4] [--frames 8] [--size 112] [--repeats 5]
"""
from __future__ import annotations

import argparse
import copy
import statistics
import time
from collections.abc import Callable

import torch
import torchvision

import vidssl
from vidssl.precision import clips_in, use_memory_format, use_precision

CPU = torch.device("cpu")
#: switch name → (memory format, precision, compile)
SWITCHES = {"defaults": ("contiguous", "fp32", False),
            "channels_last_3d": ("channels_last_3d", "fp32", False),
            "compile": ("contiguous", "fp32", True),
            "bf16": ("contiguous", "bf16", False)}
VIDSSL_DEFAULTS = ("channels_last_3d", "fp32", False)


def ours(name: str) -> torch.nn.Module:
    return vidssl.build("backbone", {"type": name, "depth": 18, "variant": "torchvision"})


def theirs(builder: Callable[[], torch.nn.Module]) -> torch.nn.Module:
    model = builder()
    model.fc = torch.nn.Identity()
    return model


def switched(model: torch.nn.Module, memory_format: str, precision: str,
             compiled: bool) -> torch.nn.Module:
    """A copy of ``model`` with the switches applied as a vidssl stage applies them."""
    model = copy.deepcopy(model)
    use_precision(model, precision, CPU)
    use_memory_format(model, memory_format)
    if compiled:
        model.compile()
    return model


def train_steps(model: torch.nn.Module, clip: torch.Tensor, steps: int) -> list[float]:
    """``steps`` SGD steps on ``clip``; the loss of each."""
    optimizer = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9)
    model.train()
    losses = []
    for _ in range(steps):
        loss = model(clip).square().mean()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        losses.append(float(loss.detach()))
    return losses


def clips_per_second(model: torch.nn.Module, clip: torch.Tensor, steps: int) -> float:
    start = time.perf_counter()
    train_steps(model, clip, steps)
    return steps * clip.shape[0] / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--frames", type=int, default=8)
    parser.add_argument("--size", type=int, default=112)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--steps", type=int, default=2, help="timed steps per repeat")
    parser.add_argument("--check-steps", type=int, default=20, help="steps of the loss check")
    args = parser.parse_args()
    torch.manual_seed(0)
    clip = torch.randn(args.batch, 3, args.frames, args.size, args.size)
    print(f"threads {torch.get_num_threads()}, input {args.batch}×3×{args.frames}×{args.size}², "
          f"median of {args.repeats} interleaved repeats × {args.steps} steps")
    pairs = [("r3d", torchvision.models.video.r3d_18),
             ("r2plus1d", torchvision.models.video.r2plus1d_18)]
    ratios = []
    print(f"{'model':<12} {'switch':<18} {'vidssl':>8} {'torchvision':>11} {'same switch':>11} "
          f"{'loss diff':>10}")
    for name, builder in pairs:
        base = {"vidssl": ours(name), "torchvision": theirs(builder)}
        configs = {(impl, switch): (model, SWITCHES[switch])
                   for impl, model in base.items() for switch in SWITCHES}
        configs[("vidssl", "vidssl defaults")] = (base["vidssl"], VIDSSL_DEFAULTS)
        models = {key: switched(model, *switch) for key, (model, switch) in configs.items()}
        inputs = {key: clips_in(clip, configs[key][1][0]) for key in models}
        # the loss check, every model from the same weights; it is also the warm-up (compilation)
        losses = {key: train_steps(models[key], inputs[key], args.check_steps) for key in models}
        reference = losses[("vidssl", "defaults")]
        differences = {key: max(abs(a - b) / abs(b) for a, b in zip(values, reference))
                       for key, values in losses.items()}
        rates: dict[tuple, list[float]] = {key: [] for key in models}
        keys = list(models)
        for repeat in range(args.repeats):   # rotate the order so no model always runs first
            for key in keys[repeat % len(keys):] + keys[:repeat % len(keys)]:
                rates[key].append(clips_per_second(models[key], inputs[key], args.steps))
        rate = {key: statistics.median(values) for key, values in rates.items()}
        for switch in SWITCHES:
            ours_rate, their_rate = rate[("vidssl", switch)], rate[("torchvision", switch)]
            print(f"{name + '_18':<12} {switch:<18} {ours_rate:8.2f} {their_rate:11.2f} "
                  f"{ours_rate / their_rate:11.3f} {differences[('vidssl', switch)]:10.1e}")
        defaults = rate[("vidssl", "vidssl defaults")] / rate[("torchvision", "defaults")]
        print(f"{name + '_18':<12} {'vidssl defaults':<18} {rate[('vidssl', 'vidssl defaults')]:8.2f} "
              f"{rate[('torchvision', 'defaults')]:11.2f} {defaults:11.3f} "
              f"{differences[('vidssl', 'vidssl defaults')]:10.1e}  (vs torchvision's defaults)")
        ratios.append(defaults)
    print("clips/s; 'same switch' = vidssl / torchvision with that switch; 'loss diff' = worst "
          f"relative loss difference over {args.check_steps} steps against fp32 contiguous")
    print(f"ratio: {min(ratios):.3f}")


if __name__ == "__main__":
    main()
