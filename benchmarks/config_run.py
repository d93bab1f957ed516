"""Shared by the benchmarks that measure whole configs: one ``vidssl-run`` in a scratch work dir."""

from __future__ import annotations

import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


@contextmanager
def config_run(config: str, *args: str) -> Iterator[Path]:
    """Run ``vidssl-run configs/<config> ARGS`` (output captured; a failure raises) and yield
    its temporary work dir (``results.json``, reports), removed afterwards."""
    with tempfile.TemporaryDirectory() as work:
        subprocess.run(
            [
                str(Path(sys.executable).parent / "vidssl-run"),
                str(REPO / "configs" / config),
                "--work-dir",
                work,
                *args,
            ],
            check=True,
            capture_output=True,
        )
        yield Path(work)
