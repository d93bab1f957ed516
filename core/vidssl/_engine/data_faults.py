"""Videos that break decoders: a data worker that dies on one (a segfault in FFmpeg) or hangs on
it stops the run with one line naming the video, and the video is left out from then on.

The training loader reads through :class:`InFlight`, which keeps in shared memory the row each
data worker is reading and since when. When a worker dies, or the loader receives nothing for the
stage's ``data_timeout_s``, the rows in flight (the dead worker's; the one read longest) are
appended to ``unusable_videos/data_faults.tsv`` in the work dir and the run stops (exit 1)
naming them and the checkpoint to resume from. Every dataset a run builds leaves the listed
videos out through the optional contract method ``exclude(rows)`` of
:class:`~vidssl.ClipDataset` (an item that would read one passes over it as over an unreadable
video, counted as skipped), so ``--resume`` goes on past them.
"""

from __future__ import annotations

import os
import re
import time
import traceback
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import Dataset, get_worker_info

from vidssl._common.errors import RunError

#: the work dir's list of videos that killed or hung a data worker: video, what happened
FAULTS_FILE = Path("unusable_videos") / "data_faults.tsv"


class InFlight(Dataset):
    """``dataset`` (read by ``workers`` data workers) recording, per worker, the row it reads,
    since when and its pid, in shared memory the main process reads after a failure."""

    def __init__(self, dataset: Any, workers: int) -> None:
        self.dataset = dataset
        slots = max(1, workers)
        self.rows = torch.full((slots,), -1, dtype=torch.long).share_memory_()
        self.since = torch.zeros(slots, dtype=torch.float64).share_memory_()
        self.pids = torch.zeros(slots, dtype=torch.long).share_memory_()

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, index: int) -> Any:
        info = get_worker_info()
        slot = info.id if info is not None else 0
        self.pids[slot], self.since[slot], self.rows[slot] = os.getpid(), time.time(), index
        item = self.dataset[index]
        self.rows[slot] = -1
        return item

    def culprits(self, error: str) -> list[tuple[int, str]]:
        """The rows the failure ``error`` (a DataLoader's message) points at, each with what
        happened: the dead worker's row, or the row read longest when the loader timed out."""
        busy = [slot for slot in range(len(self.rows)) if self.rows[slot] >= 0]
        if "timed out" in error:
            oldest = min(busy, key=lambda slot: float(self.since[slot]), default=None)
            waited = time.time() - float(self.since[oldest]) if oldest is not None else 0.0
            return (
                []
                if oldest is None
                else [(int(self.rows[oldest]), f"data worker {oldest} produced nothing for {waited:.0f} s")]
            )
        pids = {int(p) for p in re.findall(r"\d+", error.split("exited", 1)[0])}
        died = [slot for slot in busy if int(self.pids[slot]) in pids] or busy
        signal_name = re.search(r"by signal: ([^.]+)", error)
        how = f"killed by {signal_name.group(1)}" if signal_name else "exited unexpectedly"
        return [(int(self.rows[slot]), f"data worker {slot} {how}") for slot in died]


def is_data_fault(exc: BaseException) -> bool:
    """Whether ``exc`` is a DataLoader's: a worker died, or nothing came within the timeout."""
    text = str(exc)
    return (
        isinstance(exc, RuntimeError)
        and "DataLoader" in text
        and ("exited unexpectedly" in text or "killed by signal" in text or "timed out" in text)
    )


def worker_fault(exc: BaseException, wait_s: float = 10.0) -> RuntimeError | None:
    """The DataLoader's error if ``exc`` means that a data worker died or hung, else None: its
    own ``RuntimeError``, or the ``EOFError``/``ConnectionError`` of receiving a batch's shared
    tensors from a worker that died meanwhile. torch names the dead worker from its SIGCHLD
    handler, which can run a moment after the connection closed: up to ``wait_s`` seconds are
    waited for its error (a generic one naming no worker if it does not come)."""
    if isinstance(exc, RuntimeError):
        return exc if is_data_fault(exc) else None
    if not isinstance(exc, (EOFError, ConnectionError)) or not any(
        frame.filename.replace("\\", "/").endswith(
            ("multiprocessing/resource_sharer.py", "multiprocessing/reductions.py")
        )
        for frame in traceback.extract_tb(exc.__traceback__)
    ):
        return None
    deadline = time.monotonic() + wait_s
    try:
        while time.monotonic() < deadline:
            time.sleep(0.01)
    except RuntimeError as error:
        if not is_data_fault(error):
            raise
        return error
    return RuntimeError(
        f"DataLoader worker exited unexpectedly ({type(exc).__name__} while receiving a batch from it)"
    )


def stop_for_fault(exc: RuntimeError, in_flight: InFlight, work_dir: Path, where: str) -> RunError:
    """List the videos ``exc`` points at in the work dir's :data:`FAULTS_FILE` (every rank
    appends its own) and return the one-line error that stops the run at ``where``."""
    names = [(in_flight.dataset.video_name(row), why) for row, why in in_flight.culprits(str(exc))]
    listing = work_dir / FAULTS_FILE
    listing.parent.mkdir(parents=True, exist_ok=True)
    with open(listing, "a") as f:
        f.writelines(f"{name}\t{why}\n" for name, why in names)
    videos = (
        "; ".join(f"{why} while reading {name}" for name, why in names)
        or f"a data worker failed with no video in flight ({str(exc).splitlines()[0]})"
    )
    last = work_dir / "checkpoints" / "last.pt"
    resume = f"continues from {last}" if last.is_file() else "starts the run again"
    return RunError(
        f"{where}: {videos}; listed in {listing} and left out from now on: the "
        f"same command with --resume {resume}"
    )


def exclude_known_faults(dataset: Any, work_dir: Path) -> int:
    """Leave the videos of the work dir's :data:`FAULTS_FILE` out of ``dataset`` (through its
    ``exclude(rows)``, where it has one); return how many of its rows that were."""
    listing = work_dir / FAULTS_FILE
    if not listing.is_file() or not hasattr(dataset, "exclude"):
        return 0
    faulty = {line.split("\t", 1)[0] for line in listing.read_text().splitlines() if line}
    rows = [row for row in range(len(dataset)) if dataset.video_name(row) in faulty]
    if rows:
        dataset.exclude(rows)
    return len(rows)
