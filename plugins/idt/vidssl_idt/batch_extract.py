"""Trajectories of many videos: resumable (a video whose output file exists is skipped), a failing
video logged without stopping the others, and spread over worker processes, each streaming its
video's frames (memory per worker: one video's frames in flight, not the video)."""

from __future__ import annotations

import itertools
import os
import sys
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from vidssl import RunError
from vidssl_idt.camera_motion import read_boxes
from vidssl_idt.trajectories import Mode, TrajectoryParams, extract_trajectories
from vidssl_idt.trajectory_io import write_trajectories

if TYPE_CHECKING:
    from vidssl import ClipDataset

#: ``(name for messages, output file, row)`` of one video
Job = tuple[str, Path, int]
#: a video's dataset row → its ``n×436`` trajectory rows (picklable when workers > 1)
Extract = Callable[[int], np.ndarray]
Result = tuple[str, str | None]  # (name, error or None)
Progress = Callable[[Iterable[Result], int], Iterable[Result]]

_extract: Extract | None = None  # set in each worker process by _start_worker


def extract_row(
    dataset: ClipDataset,
    mode: Mode,
    params: TrajectoryParams,
    row: int,
    *,
    max_frames: int | None = None,
    boxes_dir: str | None = None,
) -> np.ndarray:
    """Trajectories of a dataset's video ``row``, its frames streamed (the first ``max_frames``),
    with the person boxes of ``<boxes_dir>/<video stem>.bb`` if there is one. Bound with
    ``functools.partial`` to everything but ``row``, it is an :data:`Extract`."""
    boxes = None
    if boxes_dir:
        path = Path(boxes_dir) / f"{Path(dataset.video_name(row)).stem}.bb"
        boxes = read_boxes(str(path)) if path.is_file() else None
    return extract_trajectories(itertools.islice(dataset.frames(row), max_frames), mode, params, boxes)


def available_cores() -> int:
    """CPU cores this process may use, shared among the processes torchrun started on this
    machine (``LOCAL_WORLD_SIZE``); at least 1."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return max(1, (cores or 1) // int(os.environ.get("LOCAL_WORLD_SIZE", 1)))


def extract_missing(
    extract: Extract,
    jobs: Iterable[Job],
    failure_log: Path | None = None,
    workers: int = 1,
    progress: Progress | None = None,
) -> int:
    """Write ``extract(row)`` to the output file of every job whose file does not exist yet,
    in ``workers`` processes (1: in this one). A video whose extraction raises is reported on
    stderr (and appended to ``failure_log``, tab-separated name and error) and gets no file.
    ``progress(results, total)`` may wrap the results as they come (e.g. tqdm). Returns the
    number of failures.

    The workers are forked, also from a process that trained or computed with OpenCV before:
    the thread pools a fork does not copy are left alone in them (see :func:`_in_workers`)."""
    todo = [job for job in jobs if not job[1].is_file()]
    results = _in_process(extract, todo) if workers <= 1 else _in_workers(extract, todo, workers)
    failed = 0
    for name, error in progress(results, len(todo)) if progress else results:
        if error is None:
            continue
        failed += 1
        print(f"vidssl-idt: failed: {name}\t{error}", file=sys.stderr)
        if failure_log is not None:
            with open(failure_log, "a") as f:
                f.write(f"{name}\t{error}\n")
    return failed


def _run(extract: Extract, job: Job) -> Result:
    name, target, row = job
    try:
        rows = extract(row)
    except Exception as exc:  # noqa: BLE001 (one bad video must not stop the others)
        return name, f"{type(exc).__name__}: {exc}"
    write_trajectories(target, rows)
    return name, None


def _in_process(extract: Extract, jobs: Iterable[Job]) -> Iterator[Result]:
    for job in jobs:
        yield _run(extract, job)


def _start_worker(extract: Extract, threads: int) -> None:
    import cv2  # noqa: PLC0415 -- lazy: start-up

    global _extract
    _extract = extract
    cv2.setNumThreads(threads)  # a forked worker has it already (see _in_workers); a spawned one not
    if "torch" in sys.modules:  # torch's OpenMP pool is not the fork's: a second thread would hang
        sys.modules["torch"].set_num_threads(1)


def _run_in_worker(job: Job) -> Result:
    assert _extract is not None
    return _run(_extract, job)


def _in_workers(extract: Extract, jobs: Iterable[Job], workers: int) -> Iterator[Result]:
    """Results as videos finish, at most 2 × ``workers`` submitted ahead (a list of any length
    costs no memory up front). The workers start as the platform's default (fork on Linux, as
    DataLoader workers: they inherit ``extract`` and its dataset; elsewhere it is pickled once
    per worker, not per video).

    The workers share the cores: each gets ``cores // workers`` OpenCV threads, set in this
    process while the workers are forked and restored after, because changing the number in a
    forked child hangs once the parent's OpenCV thread pool has run (the child waits for the
    pool's threads, which the fork did not copy; measured with opencv-python-headless 5.1 after a
    training run or after one video extracted in the parent). For the same reason the workers
    compute with one torch thread, as DataLoader workers do (a forked child's parallel torch op
    waits on the parent's OpenMP threads)."""
    import cv2  # noqa: PLC0415 -- lazy: start-up

    threads = max(1, available_cores() // workers)
    pending: dict[Future, Job] = {}
    jobs = iter(jobs)
    parent_threads = cv2.getNumThreads()
    with ProcessPoolExecutor(workers, initializer=_start_worker, initargs=(extract, threads)) as pool:
        cv2.setNumThreads(threads)
        try:
            pool.submit(int)  # with fork, the first submit starts every worker
        finally:
            cv2.setNumThreads(parent_threads)
        while True:
            while len(pending) < 2 * workers and (job := next(jobs, None)) is not None:
                pending[pool.submit(_run_in_worker, job)] = job
            if not pending:
                return
            finished, _ = wait(pending, return_when=FIRST_COMPLETED)
            for future in finished:
                job = pending.pop(future)
                try:
                    yield future.result()
                except BrokenProcessPool:
                    raise RunError(
                        f"a worker process died while extracting {job[0]} (killed for memory?); "
                        f"the videos written so far stand and a rerun resumes after them"
                    ) from None
