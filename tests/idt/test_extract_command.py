"""``vidssl-idt extract VIDEO``: one video, read through the registered ``video_files`` dataset, in a
process that never imports torch."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np

import vidssl
from tests.conftest import requires_shared
from vidssl_idt.trajectories import extract_trajectories
from vidssl_idt.trajectory_io import read_trajectories

#: the command's own entry point, then which of torch's packages the process imported (and, on
#: stderr, where an import of torch came from)
ONE_VIDEO = """
import sys, traceback

class ReportTorch:
    def find_spec(self, name, path=None, target=None):
        if name == "torch":
            traceback.print_stack(file=sys.stderr)
        return None

sys.meta_path.insert(0, ReportTorch())
from vidssl_idt.cli import main
code = main(["extract", sys.argv[1], "-o", sys.argv[2]])
print(code, sorted({name.split(".")[0] for name in sys.modules} & {"torch", "torchvision"}))
"""


def test_one_video_is_extracted_without_importing_torch(tmp_path):
    video = requires_shared("fixtures/idt/person01_boxing_d1_uncomp.avi")
    out = tmp_path / "kth.npz"
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(ONE_VIDEO), str(video), str(out)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == "0 []", result.stderr
    # the trajectories are those of the same dataset read in this process (torch imported)
    frames = vidssl.build("dataset", {"type": "video_files", "paths": [str(video)]}, views={}).frames(0)
    np.testing.assert_array_equal(read_trajectories(out), extract_trajectories(frames, "idt"))
