"""Checkpoint files: atomic writes, weights_only loading, and clear errors for bad files."""

from __future__ import annotations

import pytest
import torch

from conftest import run_cli
from vidssl import CheckpointError, checkpoint


class NotATensor:
    pass


def test_save_is_atomic_and_loads_with_weights_only(tmp_path):
    path = tmp_path / "c.pt"
    checkpoint.save_atomic({"w": torch.arange(3), "meta": {"epoch": 2, "name": "x"}}, path)
    assert [p.name for p in tmp_path.iterdir()] == ["c.pt"], "no temporary file may remain"
    loaded = checkpoint.load(path)
    assert torch.equal(loaded["w"], torch.arange(3)) and loaded["meta"] == {"epoch": 2, "name": "x"}


def test_rng_state_round_trips_through_a_checkpoint(tmp_path):
    import random

    import numpy as np

    checkpoint.save_atomic({"rng": checkpoint.rng_state()}, tmp_path / "r.pt")
    expected = (random.random(), np.random.rand(), torch.rand(1))
    checkpoint.set_rng_state(checkpoint.load(tmp_path / "r.pt")["rng"])
    assert (random.random(), np.random.rand(), torch.rand(1)) == expected


def test_truncated_checkpoint_names_file_and_problem(tmp_path):
    path = tmp_path / "t.pt"
    checkpoint.save_atomic({"w": torch.randn(1000)}, path)
    path.write_bytes(path.read_bytes()[:2000])
    with pytest.raises(CheckpointError, match=rf"checkpoint {path} is truncated or corrupt \(2000 bytes"):
        checkpoint.load(path)


def test_empty_and_missing_checkpoints(tmp_path):
    (tmp_path / "e.pt").write_bytes(b"")
    with pytest.raises(CheckpointError, match="is empty"):
        checkpoint.load(tmp_path / "e.pt")
    with pytest.raises(CheckpointError, match="checkpoint not found"):
        checkpoint.load(tmp_path / "missing.pt")


def test_pickled_object_is_refused_and_named(tmp_path):
    path = tmp_path / "p.pt"
    torch.save({"model": NotATensor()}, path)
    with pytest.raises(
        CheckpointError,
        match=r"contains a pickled Python object.*"
        r"it references test_checkpoint\.NotATensor",
    ):
        checkpoint.load(path)


def test_cli_reports_truncated_resume_checkpoint(tiny_config, tmp_path):
    work = tmp_path / "run"
    run_cli("vidssl-run", str(tiny_config), "--work-dir", str(work), "--stages", "probe_random", check=True)
    last = work / "checkpoints" / "last.pt"
    last.write_bytes(last.read_bytes()[:100])
    result = run_cli("vidssl-run", str(tiny_config), "--work-dir", str(work), "--resume")
    assert result.returncode == 1  # a run failure (exit-code table in vidssl._cli)
    assert f"vidssl-run: error: checkpoint {last} is truncated or corrupt" in result.stderr
    assert "Traceback" not in result.stderr


def test_cli_reports_pickled_init_checkpoint(tiny_config, tmp_path):
    bad = tmp_path / "foreign.pt"
    torch.save({"backbone": NotATensor()}, bad)
    result = run_cli(
        "vidssl-run",
        str(tiny_config),
        "--work-dir",
        str(tmp_path / "w"),
        "--stages",
        "probe",
        "--cfg-options",
        f"stages.2.init_from={bad}",
    )
    assert result.returncode == 1
    assert f"checkpoint {bad} contains a pickled Python object" in result.stderr
