"""keep_freed_memory: freed blocks of tens of megabytes are reused without new page faults."""
from __future__ import annotations

import subprocess
import sys

import pytest

PROGRAM = """
import resource, sys, torch
from vidssl.host_memory import keep_freed_memory
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
    out = subprocess.run([sys.executable, "-c", PROGRAM, mode], check=True, capture_output=True,
                         text=True)
    return int(out.stdout.split()[-1])


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc only")
def test_kept_memory_is_reused_without_page_faults():
    plain, kept = _faults("plain"), _faults("keep")
    assert plain > 5 * 8000, "without it every 64 MB block is mapped and faulted in afresh"
    assert kept < 1000, "with it the freed block is reused"
