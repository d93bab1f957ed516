"""Stopping for requeue: a cluster ends a run with a signal, and the run answers with a checkpoint.

SLURM sends SIGTERM at preemption or time-out (and SIGUSR1 some seconds before with
``--signal=USR1@SECONDS``); torchrun's agent forwards SIGTERM to its workers. While a run trains,
the signals of the run key ``stop_signals`` (default SIGTERM and SIGUSR1) only set a flag. At the
next iteration boundary every rank agrees on it (one all-reduce, together with the
``checkpoint.interval_minutes`` clock), the loop writes a mid-epoch checkpoint exactly as
``checkpoint.interval_iters`` would, and the command exits with :data:`REQUEUE_EXIT` (75,
``EX_TEMPFAIL``: try again), so the same command with ``--resume`` continues. A second signal
exits at once (``128 + signal``); checkpoints are written atomically, so none is ever half there.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from types import FrameType
from typing import Any

import torch

from vidssl._common.errors import VidsslError
from vidssl._distributed import process_group as distributed
from vidssl._speed.host_memory import start_data_worker

#: the exit code of a run stopped by a signal after writing its checkpoint (sysexits' EX_TEMPFAIL)
REQUEUE_EXIT = 75


class StoppedForRequeue(VidsslError):
    """A stop signal arrived; the checkpoint is written and ``--resume`` continues."""

    exit_code = REQUEUE_EXIT


class StopSignals:
    """While entered, the signals named in ``names`` (e.g. ``"SIGTERM"``) set :attr:`received`;
    a second one ends the process at once. :meth:`checkpoint_due` is the per-iteration question
    every rank asks together."""

    def __init__(self, names: list[str], interval_minutes: float = 0.0) -> None:
        self.signals = [signal.Signals[name] for name in names]
        self.interval_s = 60.0 * interval_minutes
        self.received: signal.Signals | None = None
        self.last_save = time.monotonic()
        self._previous: dict[signal.Signals, Any] = {}
        #: set once the run ends (shared with the data workers forked while it runs)
        self.closing = torch.zeros(1, dtype=torch.int8).share_memory_()

    def __enter__(self) -> StopSignals:
        if threading.current_thread() is threading.main_thread():  # where Python handles them
            for sig in self.signals:
                self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        self.closing.fill_(1)  # from now on a data worker ends on a signal (its loader's shutdown)
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.received is not None:  # the second: at once (every file write is atomic)
            os.write(2, f"vidssl: second {signal.Signals(signum).name}: exiting now\n".encode())
            os._exit(128 + signum)
        self.received = signal.Signals(signum)
        os.write(
            2,
            f"vidssl: {self.received.name} received: stopping at the next iteration "
            f"with a checkpoint (a second signal exits at once)\n".encode(),
        )

    def checkpoint_due(self, device: torch.device) -> tuple[bool, bool]:
        """(a stop signal reached any rank, ``interval_minutes`` has passed on rank 0), the same
        on every rank: one all-reduce when several processes train."""
        timed = (
            self.interval_s > 0
            and distributed.is_main()
            and time.monotonic() - self.last_save >= self.interval_s
        )
        flags = torch.tensor([[self.received is not None, timed]], dtype=torch.int32)
        if distributed.world_size() > 1:
            flags = distributed.all_gather(flags.to(device)).amax(0, keepdim=True)
        return bool(flags[0, 0]), bool(flags[0, 1])

    def saved(self) -> None:
        """A checkpoint was written: the ``interval_minutes`` clock starts again."""
        self.last_save = time.monotonic()

    def stop(self, where: str) -> StoppedForRequeue:
        """The error that ends the run after the checkpoint at ``where`` was written."""
        name = self.received.name if self.received is not None else "a stop signal (another rank)"
        return StoppedForRequeue(
            f"stopped by {name} at {where} with a checkpoint; the same "
            f"command with --resume continues (exit {REQUEUE_EXIT})"
        )


def start_worker(signals: StopSignals, worker_id: int) -> None:
    """``worker_init_fn`` of the training loader: :func:`start_data_worker`, and the stop signals
    left to the main process while the run goes on (a cluster signals every process of the job;
    a data worker that died of it would end the run before its checkpoint); once the run ends,
    they end the worker (how its loader shuts it down)."""
    start_data_worker(worker_id)

    def leave_to_main(signum: int, frame: FrameType | None) -> None:
        if signals.closing.item():
            os._exit(0)

    for sig in signals.signals:
        signal.signal(sig, leave_to_main)
