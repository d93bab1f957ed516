"""Runner overhead: clips/s of a vidssl ``train`` stage against a hand-written PyTorch loop.

Both train the same model (small R3D + linear classifier, SGD) on the same in-memory clips with
the same batch size and DataLoader settings; the runner's time runs from its stage start to its
stage end, so it includes its hooks, metric logging and per-epoch checkpoints. Runs are
interleaved (hand, runner, hand, runner, ...) and the median of the per-pair ratios is printed.

    python benchmarks/runner_overhead.py [--repeats 5] [--epochs 2]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time

import torch
from torch.utils.data import DataLoader, Dataset

import vidssl
from vidssl import Runner, get_plugins, load_config
from vidssl._plugin_system.registry import Component

CLIPS, BATCH, SHAPE = 256, 16, (3, 16, 64, 64)
BACKBONE = {"type": "r3d", "depth": 10, "width": 0.25, "stem_pool": "1x3x3"}


class InMemoryClips(Dataset):
    """Fixed random clips and labels held in memory (no decoding, no augmentation); a
    :class:`vidssl.ClipDataset`."""

    classes = [str(c) for c in range(10)]

    def __init__(self, views=None) -> None:
        generator = torch.Generator().manual_seed(0)
        self.clips = torch.randn(CLIPS, *SHAPE, generator=generator)
        self.labels = torch.randint(0, 10, (CLIPS,), generator=generator)

    def __len__(self) -> int:
        return CLIPS

    def __getitem__(self, i: int) -> dict:
        return {"views": {"clip": self.clips[i]}, "label": self.labels[i], "index": i, "skipped": 0}

    def set_epoch(self, epoch: int) -> None:
        pass

    def video_name(self, row: int) -> str:
        return f"clip{row}"

    def label(self, row: int) -> int:
        return int(self.labels[row])

    def frames(self, row: int):
        return iter((self.clips[row].permute(1, 2, 3, 0).clamp(-2, 2) * 60 + 128).byte().numpy())


class StageTimer:
    @vidssl.hookimpl
    def vidssl_stage_start(self):
        self.start = time.perf_counter()

    @vidssl.hookimpl
    def vidssl_stage_end(self):
        self.seconds = time.perf_counter() - self.start


def hand_written(epochs: int) -> float:
    torch.manual_seed(0)
    backbone = vidssl.build("backbone", BACKBONE)
    head = torch.nn.Linear(backbone.feat_dim, 10)
    model = torch.nn.Sequential(backbone, head)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    data = InMemoryClips()
    start = time.perf_counter()
    for _epoch in range(epochs):
        model.train()
        for batch in DataLoader(data, batch_size=BATCH, shuffle=True, drop_last=True):
            loss = torch.nn.functional.cross_entropy(model(batch["views"]["clip"]), batch["label"])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
    return epochs * (CLIPS // BATCH) * BATCH / (time.perf_counter() - start)


def with_runner(config_path: str, epochs: int, timer: StageTimer) -> float:
    cfg = load_config(config_path, [f"stages.0.epochs={epochs}"])
    with tempfile.TemporaryDirectory() as work:
        Runner(cfg, work).run()
    return epochs * (CLIPS // BATCH) * BATCH / timer.seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=2)
    args = parser.parse_args()
    plugins = get_plugins()
    plugins.registry.add(
        Component(
            "dataset",
            "in_memory_clips",
            InMemoryClips,
            {"type": "object", "additionalProperties": False},
            "benchmark",
            "0",
        )
    )
    timer = StageTimer()
    plugins.manager.register(timer)
    with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as f:
        f.write(f"""
backbone = {BACKBONE!r}
log = dict(interval=50, progress_bar=False, tensorboard=False)
stages = [dict(name='train', type='train', dataset=dict(type='in_memory_clips'),
               method=dict(type='supervised', num_classes=10, dropout=0.0),
               optimizer=dict(type='SGD', lr=0.01, momentum=0.9), batch_size={BATCH})]
""")
    hand_written(1)  # warm-up (thread pools, allocator)
    ratios, hand, runner = [], [], []
    for _ in range(args.repeats):
        hand.append(hand_written(args.epochs))
        runner.append(with_runner(f.name, args.epochs, timer))
        ratios.append(runner[-1] / hand[-1])
        print(
            f"hand-written {hand[-1]:7.1f} clips/s   runner {runner[-1]:7.1f} clips/s   "
            f"ratio {ratios[-1]:.3f}",
            flush=True,
        )
    print(
        f"median hand-written: {statistics.median(hand):.1f} clips/s; "
        f"median runner: {statistics.median(runner):.1f} clips/s"
    )
    print(f"ratio: {statistics.median(ratios):.3f}")


if __name__ == "__main__":
    main()
