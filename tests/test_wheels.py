"""vidssl as packages: the five distributions build as sdists and wheels (``python -m build``), each
with its LICENSE; the wheels install non-editable into a fresh virtual environment, and from a
directory outside the checkout the shipped configs run by name, the synthetic leaderboard works,
``vidssl-export`` writes a model folder that ``vidssl-eval`` evaluates under a named protocol, the
main demo's model card lists its results, and ``vidssl-plugins --configs`` lists where each config
comes from.

The fresh environment gets the third-party packages (torch first) by links to this environment's
instead of installing them again; pip then installs the wheels with ``--no-index``, so every
range the packages state must be met by the versions requirements.txt pins."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from conftest import REPO, small_synthetic

pytestmark = pytest.mark.slow

PROJECTS = [REPO, *(REPO / "plugins" / p for p in ("backbones", "datasets", "idt", "methods"))]


def fresh_environment(where: Path) -> Path:
    """A virtual environment holding this one's third-party packages (linked), none of vidssl's;
    returns its bin directory."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(where)], check=True)
    ours = Path(next(p for p in sys.path if p.endswith("site-packages")))
    theirs = where / "lib" / ours.parent.name / "site-packages"
    for entry in ours.iterdir():
        if "vidssl" not in entry.name.lower():  # vidssl's editable installs stay out
            (theirs / entry.name).symlink_to(entry)
    return where / "bin"


def test_wheels_install_into_a_fresh_environment_and_run_by_name(tmp_path):
    dist = tmp_path / "dist"
    for project in PROJECTS:  # an sdist, and the wheel built from it
        subprocess.run(
            [sys.executable, "-m", "build", "--no-isolation", "--outdir", str(dist), str(project)],
            check=True,
            capture_output=True,
        )
    wheels = sorted(dist.glob("*.whl"))
    assert len(wheels) == 5 and len(list(dist.glob("*.tar.gz"))) == 5
    for wheel in wheels:  # MIT, as each pyproject says, with its text
        names = zipfile.ZipFile(wheel).namelist()
        assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names), wheel.name
    bin_dir = fresh_environment(tmp_path / "venv")
    installed = subprocess.run(
        [
            str(bin_dir / "python"),
            "-m",
            "pip",
            "install",
            "--no-index",
            "--find-links",
            str(dist),
            "vidssl[faiss]",
            "vidssl-backbones",
            "vidssl-datasets",
            "vidssl-idt",
            "vidssl-methods",
        ],
        capture_output=True,
        text=True,
    )
    assert installed.returncode == 0, installed.stdout + installed.stderr
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    env = {
        **os.environ,
        "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
        "VIDSSL_DATA_ROOT": str(tmp_path / "data"),
        "OMP_NUM_THREADS": "1",
    }  # side by side

    def run(*command: str) -> subprocess.Popen:
        return subprocess.Popen(
            [str(bin_dir / command[0]), *command[1:]],
            cwd=outside,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def finished(process: subprocess.Popen) -> str:
        out, err = process.communicate(timeout=300)
        assert process.returncode == 0, f"{process.args}:\n{err[-3000:]}"
        return out + err

    smoke = run("vidssl-run", "vtdl_r3d_synthetic", "--smoke", "--tiny")  # beside the rest
    listing = finished(run("vidssl-plugins", "--configs"))
    site = str(tmp_path / "venv" / "lib")
    assert any(
        line.split()[:3] == ["vtdl_r3d_synthetic", "vidssl-methods", "0.1.0"]
        and line.split()[3].startswith(site)
        for line in listing.splitlines()
    ), listing
    bench = finished(run("vidssl-bench", "synthetic", "--tiny", "--methods", "vtdl", "--out", "bench"))
    assert "leaderboard: bench/leaderboard.md" in bench
    finished(run("vidssl-export", "bench/vtdl/seed0", "--out", "vtdl_model"))
    evaluated = finished(
        run(
            "vidssl-eval",
            "vtdl_model",
            "--protocol",
            "linear",
            "--dataset",
            "synthetic_motion",
            "--smoke",
            "2",
            "--tiny",
            "--cfg-options",
            *small_synthetic("stages.0.dataset", "stages.0.val_dataset"),
        )
    )
    assert f"backbone tensors from {outside / 'vtdl_model'} (format 'vidssl')" in evaluated
    assert "protocol cards: protocols.json" in evaluated
    assert "smoke run (preflight): every stage reached" in finished(smoke)
    assert not (outside / "configs").exists()
    # the main demo's model card: every result with what measured it
    finished(run("vidssl-export", "work_dirs/vtdl_r3d_synthetic_smoke", "--out", "demo_model"))
    card = (outside / "demo_model" / "README.md").read_text()
    for stage, evaluation in (
        ("probe", "stage: probe, type: classification"),
        ("retrieval", "stage: evaluate, type: retrieval"),
        ("supervised", "stage: train, type: classification"),
    ):
        assert f"| {stage} | the run’s own | {evaluation}" in card, card
