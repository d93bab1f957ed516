"""Backbone training speed on this machine: forward + backward + SGD step, clips/s.

Our R3D-18 and R(2+1)D-18 (``torchvision`` variants) against torchvision's own models, median of
``--repeats`` interleaved rounds whose order rotates:

* each throughput switch of a vidssl stage (``memory_format='channels_last_3d'``,
  ``conv3d='lean'``, ``compile``, ``precision='bf16'``), applied the same way (:mod:`vidssl._speed.precision`,
  :mod:`vidssl._speed.lean_conv3d`) to ours and to torchvision's model, in one process, so every row
  compares like with like;
* the run's process switch ``keep_freed_memory`` (:mod:`vidssl._speed.host_memory`): torchvision's model
  in a fresh process with it against one without;
* vidssl's defaults (channels_last_3d, lean Conv3d, fp32 on CPU, freed memory kept) against
  torchvision's (contiguous fp32, glibc's malloc as it comes), each in fresh processes;
* the losses of ``--check-steps`` SGD steps with each switch against fp32 contiguous from the same
  weights and clips (relative difference, worst step; bf16 is stated, not held to 1e-3), and the
  floor of that check: the same against fp32 contiguous with every weight moved one ulp up.

The last line is ``ratio: X``: vidssl defaults / torchvision defaults, the worse of the two models.

    python benchmarks/backbones.py [--batch 4] [--frames 8] [--size 112] [--repeats 5]
"""

from __future__ import annotations

import argparse
import copy
import json
import statistics
import subprocess
import sys
import time

import torch
import torchvision

import vidssl
from vidssl._speed.host_memory import keep_freed_memory
from vidssl._speed.lean_conv3d import conv3d_mode
from vidssl._speed.precision import clips_in, use_memory_format, use_precision

CPU = torch.device("cpu")
#: switch name → (memory format, precision, compile, conv3d)
SWITCHES = {
    "defaults": ("contiguous", "fp32", False, "torch"),
    "channels_last_3d": ("channels_last_3d", "fp32", False, "torch"),
    "conv3d lean": ("contiguous", "fp32", False, "lean"),
    "compile": ("contiguous", "fp32", True, "torch"),
    "bf16": ("contiguous", "bf16", False, "torch"),
}
VIDSSL_DEFAULTS = ("channels_last_3d", "fp32", False, "lean")
#: the fresh-process rows: name → (implementation, model switches, keep_freed_memory)
PROCESSES = {
    "torchvision defaults": ("torchvision", SWITCHES["defaults"], False),
    "torchvision + keep_freed_memory": ("torchvision", SWITCHES["defaults"], True),
    "vidssl defaults": ("vidssl", VIDSSL_DEFAULTS, True),
}
MODELS = {"r3d": torchvision.models.video.r3d_18, "r2plus1d": torchvision.models.video.r2plus1d_18}


def built(impl: str, name: str) -> torch.nn.Module:
    """The R3D-18 or R(2+1)D-18 (``name``) of ``impl`` (vidssl or torchvision), classifier off,
    from the weights that seed 0 gives."""
    torch.manual_seed(0)
    if impl == "vidssl":
        return vidssl.build("backbone", {"type": name, "depth": 18, "variant": "torchvision"})
    model = MODELS[name]()
    model.fc = torch.nn.Identity()
    return model


def switched(
    model: torch.nn.Module, memory_format: str, precision: str, compiled: bool, conv3d: str
) -> torch.nn.Module:
    """A copy of ``model`` with the switches applied as a vidssl stage applies them (``conv3d``
    is no module change: :func:`train_steps` enters its mode around each forward pass)."""
    model = copy.deepcopy(model)
    use_precision(model, precision, CPU)
    use_memory_format(model, memory_format)
    if compiled:
        model.compile()
    return model


def train_steps(model: torch.nn.Module, clip: torch.Tensor, steps: int, conv3d: str = "torch") -> list[float]:
    """``steps`` SGD steps on ``clip``, each forward pass in ``conv3d``'s mode as a vidssl
    stage runs it; the loss of each."""
    optimizer = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9)
    model.train()
    losses = []
    for _ in range(steps):
        with conv3d_mode(conv3d):
            loss = model(clip).square().mean()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        losses.append(float(loss.detach()))
    return losses


def clips_per_second(model: torch.nn.Module, clip: torch.Tensor, steps: int, conv3d: str = "torch") -> float:
    start = time.perf_counter()
    train_steps(model, clip, steps, conv3d)
    return steps * clip.shape[0] / (time.perf_counter() - start)


def rotated(items: list, repeat: int) -> list:
    """``items`` rotated by ``repeat``, so that no row always runs first."""
    return items[repeat % len(items) :] + items[: repeat % len(items)]


def clip_of(args: argparse.Namespace) -> torch.Tensor:
    torch.manual_seed(1)
    return torch.randn(args.batch, 3, args.frames, args.size, args.size)


def one_process(args: argparse.Namespace) -> None:
    """``--process NAME ROW``: clips/s of one fresh-process row (after ``--warmup`` steps), as
    one JSON line."""
    name, row = args.process
    impl, switches, keep = PROCESSES[row]
    if keep:
        keep_freed_memory()
    model = switched(built(impl, name), *switches)
    clip = clips_in(clip_of(args), switches[0])
    train_steps(model, clip, args.warmup, switches[3])
    print(json.dumps(clips_per_second(model, clip, args.steps * 2, switches[3])))


def in_fresh_processes(args: argparse.Namespace, name: str) -> dict[str, float]:
    """The median clips/s of each :data:`PROCESSES` row, every repeat in a fresh process, the
    rows' order rotating."""
    rows = list(PROCESSES)
    rates: dict[str, list[float]] = {row: [] for row in rows}
    for repeat in range(args.repeats):
        for row in rotated(rows, repeat):
            out = subprocess.run(
                [
                    sys.executable,
                    __file__,
                    "--process",
                    name,
                    row,
                    "--batch",
                    str(args.batch),
                    "--frames",
                    str(args.frames),
                    "--size",
                    str(args.size),
                    "--steps",
                    str(args.steps),
                    "--warmup",
                    str(args.warmup),
                ],
                check=True,
                capture_output=True,
                text=True,
            ).stdout
            rates[row].append(json.loads(out.splitlines()[-1]))
    return {row: statistics.median(values) for row, values in rates.items()}


def in_one_process(
    args: argparse.Namespace, name: str, clip: torch.Tensor
) -> tuple[dict[tuple[str, str], float], dict[tuple[str, str], float]]:
    """Median clips/s and worst relative loss difference (against vidssl fp32 contiguous) of
    every (implementation, switch), plus ("vidssl", "vidssl defaults"), interleaved; the loss
    differences also of ("vidssl", "one ulp"), the check's floor."""
    configs = {(impl, switch): SWITCHES[switch] for impl in ("vidssl", "torchvision") for switch in SWITCHES}
    configs[("vidssl", "vidssl defaults")] = VIDSSL_DEFAULTS
    models = {key: switched(built(key[0], name), *switches) for key, switches in configs.items()}
    inputs = {key: clips_in(clip, configs[key][0]) for key in models}
    # the loss check, every model from the same weights; it is also the warm-up (compilation)
    losses = {key: train_steps(models[key], inputs[key], args.check_steps, configs[key][3]) for key in models}
    # the floor of the check: fp32 contiguous again, every weight moved one ulp up
    nudged = switched(built("vidssl", name), *SWITCHES["defaults"])
    with torch.no_grad():
        for parameter in nudged.parameters():
            parameter.copy_(torch.nextafter(parameter, torch.full_like(parameter, torch.inf)))
    losses[("vidssl", "one ulp")] = train_steps(nudged, inputs[("vidssl", "defaults")], args.check_steps)
    reference = losses[("vidssl", "defaults")]
    differences = {
        key: max(abs(a - b) / abs(b) for a, b in zip(values, reference, strict=True))
        for key, values in losses.items()
    }
    rates: dict[tuple[str, str], list[float]] = {key: [] for key in models}
    keys = list(models)
    for repeat in range(args.repeats):
        for key in rotated(keys, repeat):
            rates[key].append(clips_per_second(models[key], inputs[key], args.steps, configs[key][3]))
    return {key: statistics.median(values) for key, values in rates.items()}, differences


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--frames", type=int, default=8)
    parser.add_argument("--size", type=int, default=112)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--steps", type=int, default=2, help="timed steps per repeat")
    parser.add_argument("--warmup", type=int, default=2, help="steps before a fresh process times")
    parser.add_argument("--check-steps", type=int, default=20, help="steps of the loss check")
    parser.add_argument("--process", nargs=2, metavar=("MODEL", "ROW"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.process:
        one_process(args)
        return
    clip = clip_of(args)
    print(
        f"threads {torch.get_num_threads()}, input {args.batch}×3×{args.frames}×{args.size}², "
        f"median of {args.repeats} interleaved repeats × {args.steps} steps (fresh processes: "
        f"× {args.steps * 2} steps after {args.warmup})"
    )
    print(f"{'model':<12} {'switch':<34} {'vidssl':>8} {'torchvision':>11} {'ratio':>7} {'loss diff':>10}")
    ratios = []
    for name in MODELS:
        rate, differences = in_one_process(args, name, clip)
        for switch in SWITCHES:
            ours, theirs = rate[("vidssl", switch)], rate[("torchvision", switch)]
            print(
                f"{name + '_18':<12} {switch:<34} {ours:8.2f} {theirs:11.2f} "
                f"{ours / theirs:7.3f} {differences[('vidssl', switch)]:10.1e}"
            )
        print(
            f"{name + '_18':<12} {'vidssl defaults, one process':<34} "
            f"{rate[('vidssl', 'vidssl defaults')]:8.2f} {rate[('torchvision', 'defaults')]:11.2f} "
            f"{rate[('vidssl', 'vidssl defaults')] / rate[('torchvision', 'defaults')]:7.3f} "
            f"{differences[('vidssl', 'vidssl defaults')]:10.1e}"
        )
        print(
            f"{name + '_18':<12} {'rounding floor: weights 1 ulp up':<34} {'':8} {'':11} "
            f"{'':7} {differences[('vidssl', 'one ulp')]:10.1e}"
        )
        fresh = in_fresh_processes(args, name)
        base = fresh["torchvision defaults"]
        kept = fresh["torchvision + keep_freed_memory"]
        print(
            f"{name + '_18':<12} {'keep_freed_memory (torchvision)':<34} {'':8} {kept:11.2f} "
            f"{kept / base:7.3f}  (vs torchvision's defaults, fresh processes)"
        )
        ratio = fresh["vidssl defaults"] / base
        print(
            f"{name + '_18':<12} {'vidssl defaults':<34} {fresh['vidssl defaults']:8.2f} "
            f"{base:11.2f} {ratio:7.3f}  (vs torchvision's defaults, fresh processes)"
        )
        ratios.append(ratio)
    print(
        "clips/s; 'ratio' = vidssl / torchvision with that switch (keep_freed_memory: with / "
        "without it); 'loss diff' = worst relative loss difference over "
        f"{args.check_steps} steps against fp32 contiguous"
    )
    print(f"ratio: {min(ratios):.3f}")


if __name__ == "__main__":
    main()
