"""keep_freed_memory: freed blocks of tens of megabytes are reused without new page faults, the
memory kept is bounded by the peak and given back before a fork, and only a process a vidssl
command started takes it; a data worker gives freed frames back."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

PROGRAM = """
import resource, sys, torch
torch.set_num_threads(1)   # no pool thread allocating beside the block in the one heap
from vidssl._speed.host_memory import keep_freed_memory
if sys.argv[1] == "keep":
    assert keep_freed_memory()
def step():
    t = torch.empty(16 * 1024 * 1024)      # 64 MB, above glibc's largest mmap threshold
    t.fill_(1.0)
for _ in range(5):   # glibc settles on reusing the block after a few rounds
    step()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(5):
    step()
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


def _faults(mode: str) -> int:
    out = subprocess.run([sys.executable, "-c", PROGRAM, mode], check=True, capture_output=True, text=True)
    return int(out.stdout.split()[-1])


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc only")
def test_kept_memory_is_reused_without_page_faults():
    plain, kept = _faults("plain"), _faults("keep")
    assert plain > 5 * 8000, "without it every 64 MB block is mapped and faulted in afresh"
    # reused: most rounds fault nothing in again (seen: 0 in most runs, a block now and then)
    assert kept < plain / 4, "with it the freed block is reused"


THREADS = """
import sys, threading
import numpy as np
from vidssl._speed.host_memory import keep_freed_memory
if sys.argv[1] == "keep":
    assert keep_freed_memory()
def resident():
    return int(open("/proc/self/statm").read().split()[1]) * 4096 / 2 ** 20
before = resident()
turns = [threading.Event() for _ in range(9)]
turns[0].set()
def work(i):   # eight live threads (a pool), each allocating and freeing 50 MB in its turn
    turns[i].wait()
    block = np.ones(50 * 2 ** 20 // 8)
    del block
    turns[i + 1].set()
    turns[8].wait()
pool = [threading.Thread(target=work, args=(i,)) for i in range(8)]
for thread in pool:
    thread.start()
turns[8].wait()
print(resident() - before)
for thread in pool:
    thread.join()
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc only")
def test_kept_memory_is_bounded_by_the_peak_not_by_the_threads():
    """Eight live threads each freeing a 50 MB block in turn: glibc's per-thread heaps kept
    them all (about 400 MB); with one heap the process holds one block."""
    out = subprocess.run([sys.executable, "-c", THREADS, "keep"], check=True, capture_output=True, text=True)
    assert float(out.stdout.split()[-1]) < 80


FORK = """
import os, sys, torch
torch.set_num_threads(1)
from vidssl._speed.host_memory import keep_freed_memory
assert keep_freed_memory()
def resident():
    return int(open("/proc/self/statm").read().split()[1]) * 4096 / 2 ** 20
base = resident()
block = torch.ones(128 * 2 ** 20)   # 512 MB from the heap, then freed
del block
kept = resident() - base
pid = os.fork()   # as a data loader forks its workers
if pid == 0:
    os._exit(0)
os.waitpid(pid, 0)
print(kept, resident() - base)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc only")
def test_kept_memory_goes_back_before_a_fork():
    """A worker forked from a process holding freed memory would hold a copy of each page the
    process writes again; the process gives it back first."""
    out = subprocess.run([sys.executable, "-c", FORK], check=True, capture_output=True, text=True)
    kept, after_fork = map(float, out.stdout.split())
    assert kept > 400, "the freed 512 MB block was kept"
    assert after_fork < 50, "and given back before the fork"


LIBRARY_USE = """
import resource, sys, torch
from vidssl._cli.run import main
assert main(sys.argv[1:]) == 0
def step():
    t = torch.empty(16 * 1024 * 1024)
    t.fill_(1.0)
for _ in range(5):
    step()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(5):
    step()
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc only")
def test_a_program_that_calls_vidssl_keeps_its_own_malloc_settings(tiny_config, tmp_path):
    """A user's program running a config (keep_freed_memory on, the default) through vidssl's
    Python API: its malloc still maps and faults in every 64 MB block afterwards."""
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            LIBRARY_USE,
            str(tiny_config),
            "--work-dir",
            str(tmp_path / "run"),
            "--smoke",
            "1",
            "--stages",
            "probe_random",
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    assert int(out.stdout.split()[-1]) > 5 * 8000


def test_only_a_process_a_vidssl_command_started_claims_it(monkeypatch):
    from vidssl._speed import host_memory

    monkeypatch.setattr(host_memory, "_claimed", False)
    monkeypatch.setattr(sys, "argv", ["/usr/bin/python", "-c"])
    assert not host_memory.claim_process("vidssl-run")
    monkeypatch.setattr(sys, "argv", ["/venv/bin/vidssl-run", "config.py"])
    assert host_memory.claim_process("vidssl-run") and host_memory.process_claimed()


WORKER = """
import gc, json, sys
import numpy as np, torch
from vidssl._speed.host_memory import keep_freed_memory, start_data_worker
assert keep_freed_memory()   # as in a vidssl command's process, whose data workers fork from it
def resident():
    return int(open("/proc/self/statm").read().split()[1]) * 4096 / 2 ** 20
class Clips(torch.utils.data.Dataset):
    def __len__(self):
        return 3
    def __getitem__(self, i):   # a clip's decoding: thirty 720p YUV frames (1.4 MB each), freed
        before = resident()
        frames = [np.ones(1280 * 720 * 3 // 2, np.uint8) for _ in range(30)]
        del frames
        return {"held_mb": resident() - before, "frozen": gc.get_freeze_count()}
init = start_data_worker if sys.argv[1] == "vidssl" else None
loader = torch.utils.data.DataLoader(Clips(), batch_size=None, num_workers=1, worker_init_fn=init)
print(json.dumps([{k: float(v) for k, v in item.items()} for item in loader]))
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc only")
def test_a_data_worker_gives_decoded_frames_back_and_leaves_inherited_objects_alone():
    """The parent keeps freed memory (keep_freed_memory); its data workers must not: with
    start_data_worker each clip's 41 MB of frames goes back to the kernel when freed, and the
    objects inherited from the parent are frozen out of the worker's garbage collections."""

    def items(init: str) -> list[dict]:
        out = subprocess.run([sys.executable, "-c", WORKER, init], check=True, capture_output=True, text=True)
        return json.loads(out.stdout.splitlines()[-1])

    inherited, vidssl_worker = items("none"), items("vidssl")
    assert inherited[0]["held_mb"] > 30, "the parent's setting kept the frames in the worker"
    assert all(item["held_mb"] < 5 for item in vidssl_worker)
    assert all(item["frozen"] > 10000 for item in vidssl_worker)
    assert inherited[0]["frozen"] == 0
