"""Host memory reuse: the run's ``keep_freed_memory`` switch (on by default).

A training step on CPU allocates and frees activations and gradients of tens of megabytes
(layer1 of an R(2+1)D-18 on 4 clips of 8×112²: 58 MB each, dozens per step). glibc's ``malloc``
hands every block above 32 MB back to the kernel on ``free`` and maps it afresh on the next
``malloc``, so each one costs page faults and zeroing again (R(2+1)D-18 trains 1.19× as fast
on this machine when that stops). :func:`keep_freed_memory` sets three ``mallopt`` parameters:

* ``M_MMAP_THRESHOLD`` 1 GiB: blocks up to 1 GiB come from malloc's heap, not their own mapping;
* ``M_TRIM_THRESHOLD`` 2³¹−1: freed heap memory is kept for reuse, not returned to the kernel;
* ``M_ARENA_MAX`` 1: one heap for every thread. glibc otherwise gives threads heaps of their own
  and each keeps what its thread freed (eight threads freeing a 50 MB block in turn held 400 MB);
  with one heap the process holds its peak of live blocks plus fragmentation, no more.

So a process holds on to about the most memory it had in use at once, as a GPU caching
allocator does. ``mallopt`` has no getter and these settings switch off glibc's own adaptive
thresholds, so they cannot be undone: vidssl applies them only in a process that one of its
commands started (``vidssl-run``, ``vidssl-eval``, ``vidssl-bench``, ...: :func:`claim_process`),
never in a user's Python program that calls vidssl, where the key is ignored.

Data workers are another matter: they hold decoded frames, not activations, and there the reuse
costs memory in every worker. :func:`start_data_worker`, the ``worker_init_fn`` of vidssl's data
loaders, gives each forked worker settings of its own. Measured on the full-size Kinetics-400
fixture (2 persistent workers, 500 items each at 8×64², 3 interleaved repeats): private memory
growth per worker of 71–135 MB with the parent's settings inherited, ≤ 7 MB with these, at
1.08× the time per item (11.6 against 10.8 ms: memory given back is faulted in again; on items of
real sizes the share is smaller). At 8 GPUs × 10 workers a node, memory is the scarcer.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import gc
import os
import sys
from pathlib import Path
from typing import Any

#: glibc mallopt parameters (malloc.h)
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD, _M_ARENA_MAX = -1, -3, -8
#: blocks up to this size come from the heap instead of their own mapping
HEAP_BLOCK_LIMIT = 1 << 30
#: in a data worker: blocks from this size (a decoded 720p frame and up) get their own mapping,
#: and free heap memory above this much at the heap's top goes back to the kernel
WORKER_BLOCK_LIMIT = 1 << 20
WORKER_TRIM = 8 << 20

_claimed = False
_trims_before_fork = False


def claim_process(command: str) -> bool:
    """Mark this process as started by the vidssl command ``command`` (its ``sys.argv[0]`` is
    that command), so that :func:`process_claimed` allows process-wide settings; returns whether
    it was."""
    global _claimed
    _claimed = _claimed or Path(sys.argv[0]).name == command
    return _claimed


def process_claimed() -> bool:
    """Whether a vidssl command started this process (see :func:`claim_process`)."""
    return _claimed


@functools.cache
def _glibc(name: str) -> Any:
    """The C library's function ``name`` (looked up once), or None where the C library is not
    glibc on Linux."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        return getattr(ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6"), name)
    except (OSError, AttributeError):
        return None


def _mallopt(settings: dict[int, int]) -> bool:
    """Set glibc ``mallopt`` parameters; False, changing nothing, where the C library is not
    glibc."""
    mallopt = _glibc("mallopt")
    if mallopt is None:
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    return all([bool(mallopt(param, value)) for param, value in settings.items()])


def keep_freed_memory() -> bool:
    """Make this process's ``malloc`` keep freed memory for reuse, in one heap (glibc on Linux;
    data workers forked from it set their own: :func:`start_data_worker`), and give it back
    before each fork (:func:`give_back_freed_memory`). Returns False, changing nothing, where the
    C library is not glibc."""
    global _trims_before_fork
    kept = _mallopt({_M_ARENA_MAX: 1, _M_MMAP_THRESHOLD: HEAP_BLOCK_LIMIT, _M_TRIM_THRESHOLD: 2**31 - 1})
    if kept and not _trims_before_fork:
        os.register_at_fork(before=give_back_freed_memory)
        _trims_before_fork = True
    return kept


def give_back_freed_memory() -> None:
    """Hand the free pages of this process's heap back to the kernel (glibc's ``malloc_trim``).

    Runs before every fork of a process that keeps freed memory: the data workers of a stage
    are forked from the trainer, and every kept page the trainer writes again after the fork
    is copied for it while the workers still hold the original. Measured on the headline
    config's preflight at its real shapes: a trainer holding 11 GB after its fine-tuning step
    forked two evaluation workers, 5.3 GB resident each, and the run was killed for memory.
    The trainer faults the pages in again once per fork (a stage's loader), not per step."""
    malloc_trim = _glibc("malloc_trim")
    if malloc_trim is not None:
        malloc_trim(0)


def start_data_worker(worker_id: int) -> None:
    """``worker_init_fn`` of vidssl's data loaders; in the worker process:

    * ``gc.freeze()``: the objects inherited from the parent move to the garbage collector's
      permanent generation, so a collection in the worker does not write to their headers
      (each write copies a page the worker shared with its parent: about 30 MB per worker);
    * ``malloc`` maps every block of :data:`WORKER_BLOCK_LIMIT` and more on its own and gives it
      back on ``free``, and trims its heap: decoded frames come and go with every clip, and
      glibc's adaptive threshold (or the parent's :func:`keep_freed_memory`) would otherwise
      keep each worker at the high-water mark of the largest video it ever decoded."""
    gc.freeze()
    _mallopt({_M_MMAP_THRESHOLD: WORKER_BLOCK_LIMIT, _M_TRIM_THRESHOLD: WORKER_TRIM})
