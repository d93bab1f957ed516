"""Crash and resume: a run killed with SIGKILL mid-epoch and resumed ends with exactly the weights
of an uninterrupted run (CPU, deterministic settings)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time

import pytest
import torch

from conftest import BIN, run_cli
from vidssl import checkpoint

pytestmark = pytest.mark.slow

OPTIONS = [
    "deterministic=True",
    "checkpoint.interval_iters=2",
    # worker processes too: their augmentation must not depend on where the run restarted
    "stages.1.num_workers=1",
    "stages.1.epochs=3",
]


def state_of(work_dir, stage):
    return checkpoint.load(work_dir / "checkpoints" / f"stage_{stage}.pt")


def assert_same_tensors(a: dict, b: dict, where: str = "") -> None:
    assert a.keys() == b.keys(), where
    for key in a:
        if isinstance(a[key], torch.Tensor):
            assert torch.equal(a[key], b[key]), f"{where}{key} differs"
        elif isinstance(a[key], dict):
            assert_same_tensors(a[key], b[key], f"{where}{key}.")


def iteration_records(work_dir):
    path = work_dir / "metrics.jsonl"
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if '"event": "iter"' in line]


#: the tiny config with local aggregation (memory bank, k-means labels recomputed every epoch)
#: in place of the supervised stage
LOCAL_AGGREGATION = (
    "dict(name='supervised', type='train', dataset=_train,",
    "method=dict(type='local_aggregation', clusters='bank', k=4, num_c=2, background_k=16),",
)


#: gradient accumulation (checkpoints on its steps); bf16 is left out: oneDNN's bf16 kernels did
#: not give bit-identical weights after a resume in CI (differences ~1e-3)
SWITCHES = ["stages.1.accumulate=2"]


@pytest.mark.parametrize("method", ["supervised", "local_aggregation", "supervised_accumulate"])
def test_sigkill_mid_epoch_then_resume_equals_uninterrupted_run(tiny_config, tmp_path, method):
    options = OPTIONS + (SWITCHES if method.endswith("accumulate") else [])
    if method == "local_aggregation":
        text = tiny_config.read_text()
        text = text.replace(
            "dict(name='supervised', type='train', dataset=_train, val_dataset=_test,", LOCAL_AGGREGATION[0]
        )
        text = text.replace(
            "method=dict(type='supervised', num_classes=10, dropout=0.5),", LOCAL_AGGREGATION[1]
        )
        tiny_config.write_text(text)
    reference = tmp_path / "reference"
    run_cli(
        "vidssl-run", str(tiny_config), "--work-dir", str(reference), "--cfg-options", *options, check=True
    )

    crashed = tmp_path / "crashed"
    process = subprocess.Popen(
        [str(BIN / "vidssl-run"), str(tiny_config), "--work-dir", str(crashed), "--cfg-options", *options],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.time() + 300
    # kill once the supervised stage is in its second epoch, past a mid-epoch checkpoint
    while time.time() < deadline and process.poll() is None:
        if any(
            r["stage"] == "supervised" and r["epoch"] == 1 and r["iter"] >= 3
            for r in iteration_records(crashed)
        ):
            os.kill(process.pid, signal.SIGKILL)
            break
        time.sleep(0.02)
    process.wait()
    assert process.returncode == -signal.SIGKILL, f"run ended before the kill: {process.stderr.read()}"
    saved = checkpoint.load(crashed / "checkpoints" / "last.pt")
    assert saved["progress"]["stage"] == "supervised"
    assert saved["progress"]["epoch"] == 1 and saved["progress"]["iteration"] > 0, (
        "the kill must land mid-epoch, after a mid-epoch checkpoint"
    )
    assert "probe_random" in saved["results"]

    resumed = run_cli(
        "vidssl-run",
        str(tiny_config),
        "--work-dir",
        str(crashed),
        "--resume",
        "--cfg-options",
        *options,
        check=True,
    )
    assert "[probe_random]" not in resumed.stderr, "a finished stage must not run again"
    for stage in ("supervised", "probe"):
        assert_same_tensors(state_of(reference, stage), state_of(crashed, stage), f"{stage}: ")
    if method == "local_aggregation":  # the bank and the labels were compared above
        assert {"bank.memory", "cluster_labels"} <= set(state_of(crashed, "supervised")["method"])
    assert json.loads((reference / "results.json").read_text()) == json.loads(
        (crashed / "results.json").read_text()
    )


def test_resume_of_a_finished_run_runs_nothing_and_keeps_results(tiny_config, tmp_path):
    work = tmp_path / "run"
    run_cli("vidssl-run", str(tiny_config), "--work-dir", str(work), check=True)
    before = (work / "results.json").read_text()
    lines = len((work / "metrics.jsonl").read_text().splitlines())
    again = run_cli("vidssl-run", str(tiny_config), "--work-dir", str(work), "--resume", check=True)
    assert (work / "results.json").read_text() == before
    assert len((work / "metrics.jsonl").read_text().splitlines()) == lines
    assert "probe_random" in again.stdout  # the results table still lists every stage
