"""What a person watching a run sees off a terminal: a plain line with clips/s, the stage's ETA and
the run's ETA from the first iteration on (and for evaluations, videos/s and their ETA), the run's ETA estimated from a --smoke preflight of the
same config when there is one, else said to be unknown."""
from __future__ import annotations

import re

import pytest

from conftest import run_cli

LINE = re.compile(r"^\[(\w+)\] epoch 1/(\d+) iteration (\d+)/10: loss [\d.]+, [\d.]+ clips/s, "
                  r"stage ETA \d+m\d\ds, run ETA (unknown|\d+m\d\ds)$", re.M)


@pytest.mark.slow
def test_plain_progress_lines_with_run_eta_from_the_smoke_preflight(tiny_config, tmp_path):
    options = ["--cfg-options", "log.interval_seconds=0", "stages.1.epochs=1"]
    before = run_cli("vidssl-run", str(tiny_config), "--work-dir", str(tmp_path / "first"),
                     *options, check=True).stderr
    lines = LINE.findall(before)
    assert [(s, int(i)) for s, _, i, _ in lines][:2] == [("probe_random", 1), ("probe_random", 2)]
    assert {eta for s, _, _, eta in lines if s == "probe_random"} == {"unknown"}
    assert [eta for s, _, _, eta in lines if s == "probe"][0] != "unknown", \
        "the last training stage's run ETA is its own"
    assert re.search(r"^\[probe_random\] evaluation batch 1/5: first batch$", before, re.M)
    rates = re.findall(r"^\[probe_random\] evaluation batch [2-5]/5: ([\d.]+) videos/s, ETA "
                       r"\d+m\d\ds$", before, re.M)
    assert rates and all(0 < float(r) < 1e5 for r in rates), "evaluations show their progress too"

    run_cli("vidssl-run", str(tiny_config), "--smoke", "--work-dir", str(tmp_path / "tiny_smoke"),
            check=True)
    after = run_cli("vidssl-run", str(tiny_config), "--work-dir", str(tmp_path / "second"),
                    *options, check=True).stderr
    first = LINE.findall(after)[0]
    assert first[0] == "probe_random" and first[3] != "unknown", after[:500]
