"""vidssl-bench synthetic: every installed method with a demo config is ranked, a third-party
plugin's method included; finished runs are reused; the leaderboard is rewritten per run (the
preflight-sized --tiny run CI affords)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from conftest import REPO, run_cli

pytestmark = pytest.mark.slow

EXAMPLE = REPO / "examples" / "vidssl-example-plugin"


def pip(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "pip", "-q", *args], check=True, capture_output=True)


def test_the_leaderboard_ranks_every_method_with_a_demo_config(tmp_path):
    out, data = tmp_path / "bench", tmp_path / "data"
    pip("install", "--no-build-isolation", "--no-deps", str(EXAMPLE))
    try:
        result = run_cli(
            "vidssl-bench",
            "synthetic",
            "--tiny",
            "--out",
            str(out),
            "--data-root",
            str(data),
            check=True,
            timeout=600,
        )
        records = json.loads((out / "leaderboard.json").read_text())
        assert {(r["method"], r["distribution"]) for r in records} == {
            ("arrow_of_time", "vidssl-example-plugin"),
            ("local_aggregation", "vidssl-methods"),
            ("mlfo", "vidssl-methods"),
            ("supervised", "vidssl-methods"),
            ("vtdl", "vidssl-methods"),
        }
        for r in records:
            results = json.loads((out / r["method"] / "seed0" / "results.json").read_text())
            assert r["score"] == results[r["score_stage"]]["top1"]
            assert r["gain"] == pytest.approx(r["score"] - results["probe_random"]["top1"])
            assert "retrieval" not in results, "stages after the score stage are not run"
            # the pair metrics come from the stage's confusion matrix: its top-1 is the score
            assert r["pairs"]["score"]["top1"] == pytest.approx(r["score"])
            assert r["pairs"]["random_init"]["top1"] == pytest.approx(r["random_init"])
            pairs = r["pairs"]["score"]
            assert pairs["pair_accuracy"] >= pairs["top1"]
        state = json.loads((out / "calibration.json").read_text())
        assert state["methods"]["supervised"] == "RGB"
        assert state["methods"]["vtdl"] == "residual frames"
        for kind in ("RGB", "residual frames"):
            found = state["inputs"][kind]
            assert found["classes"] == 10 and found["reverse"]["0"] == 1
            assert set(found["probes"]) == {"mean frame", "first minus last frame"}
        table = (out / "leaderboard.md").read_text()
        assert table in result.stdout and "| arrow_of_time | vidssl-example-plugin 0.1.0 |" in table
        assert "| chance | | 10.0 | 20.0 | 50.0 | |" in table
        assert "| pixel probe on the mean frame | residual frames |" in table
        assert "| random-init probe, seeds 0 | RGB |" in table
        # a second call reuses the finished runs
        before = {p: p.stat().st_mtime for p in out.glob("*/seed0/results.json")}
        again = run_cli(
            "vidssl-bench",
            "synthetic",
            "--tiny",
            "--methods",
            "vtdl,arrow_of_time",
            "--out",
            str(out),
            "--data-root",
            str(data),
            check=True,
        )
        assert {p: p.stat().st_mtime for p in out.glob("*/seed0/results.json")} == before
        assert "| vtdl |" in again.stdout and "| mlfo |" not in again.stdout
        printed = run_cli("vidssl-bench", "synthetic", "--out", str(out), "--table", check=True)
        assert printed.stdout == (out / "leaderboard.md").read_text()
    finally:
        pip("uninstall", "-y", "vidssl-example-plugin")
    refused = run_cli("vidssl-bench", "synthetic", "--methods", "arrow_of_time", "--out", str(out))
    assert refused.returncode == 2 and "no demo config registered for arrow_of_time" in refused.stderr
