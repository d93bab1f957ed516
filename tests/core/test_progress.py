"""What a person watching a run sees off a terminal: a plain line with clips/s, the stage's ETA and
the run's ETA from the first iteration on (and for evaluations, videos/s and their ETA), the run's
ETA estimated from a --smoke preflight of the same config when there is one, else said to be
unknown."""

from __future__ import annotations

import re

import pytest

from conftest import run_cli

LINE = re.compile(
    r"^\[(\w+)\] epoch 1/(\d+) iteration (\d+)/10: loss [\d.]+, [\d.]+ clips/s, "
    r"stage ETA \d+m\d\ds, run ETA (unknown|\d+m\d\ds)$",
    re.M,
)


@pytest.mark.slow
def test_plain_progress_lines_with_run_eta_from_the_smoke_preflight(tiny_config, tmp_path):
    options = ["--cfg-options", "log.interval_seconds=0", "stages.1.epochs=1"]
    before = run_cli(
        "vidssl-run", str(tiny_config), "--work-dir", str(tmp_path / "first"), *options, check=True
    ).stderr
    lines = LINE.findall(before)
    assert [(s, int(i)) for s, _, i, _ in lines][:2] == [("probe_random", 1), ("probe_random", 2)]
    assert {eta for s, _, _, eta in lines if s == "probe_random"} == {"unknown"}
    assert [eta for s, _, _, eta in lines if s == "probe"][0] != "unknown", (
        "the last training stage's run ETA is its own"
    )
    assert re.search(r"^\[probe_random\] evaluation batch 1/5: first batch$", before, re.M)
    rates = re.findall(
        r"^\[probe_random\] evaluation batch [2-5]/5: ([\d.]+) videos/s, ETA "
        r"\d+m\d\ds$",
        before,
        re.M,
    )
    assert rates and all(0 < float(r) < 1e5 for r in rates), "evaluations show their progress too"

    run_cli("vidssl-run", str(tiny_config), "--smoke", "--work-dir", str(tmp_path / "tiny_smoke"), check=True)
    after = run_cli(
        "vidssl-run", str(tiny_config), "--work-dir", str(tmp_path / "second"), *options, check=True
    ).stderr
    first = LINE.findall(after)[0]
    assert first[0] == "probe_random" and first[3] != "unknown", after[:500]


SLOW_STEP = """
import time

from vidssl import Method, hookimpl


class FixedCostStep(Method):
    '''A linear probe whose every step also costs 0.15 s whatever its batch (as an optimizer
    step, hooks and per-layer overheads do).'''

    def __init__(self, backbone, num_classes: int = 10):
        super().__init__(backbone)
        import torch

        self.head = torch.nn.Linear(backbone.feat_dim, num_classes)

    def training_step(self, batch):
        import torch.nn.functional as F

        time.sleep(0.15)
        logits = self.head(self.backbone(batch["views"]["clip"]).detach())
        return {"loss": F.cross_entropy(logits, batch["label"])}


@hookimpl
def vidssl_register_methods(register):
    register("fixed_cost_step", FixedCostStep)
"""


@pytest.mark.slow
def test_the_smoke_estimate_of_an_epoch_is_within_two_times_of_the_epoch(tiny_config, tmp_path):
    """A step whose cost is mostly fixed: the smoke preflight (batch 2) projects the epoch at the
    config's batch of 8 within 2× of the epoch measured (it was 4× over: per clip, linearly)."""
    import json

    from conftest import make_distribution

    env = make_distribution(tmp_path, "slow-step-plugin", "0.1", "slow_step_plugin", SLOW_STEP)
    config = tmp_path / "fixed.py"
    config.write_text(
        tiny_config.read_text()
        + """
stages = [dict(name='fixed', type='train', dataset=_train, batch_size=8, epochs=1,
               method=dict(type='fixed_cost_step', num_classes=10),
               optimizer=dict(type='SGD', lr=0.01))]
"""
    )
    run_cli("vidssl-run", str(config), "--smoke", "--work-dir", str(tmp_path / "smoke"), env=env, check=True)
    projected = json.loads((tmp_path / "smoke" / "smoke.json").read_text())["stages"]["fixed"]
    run_cli("vidssl-run", str(config), "--work-dir", str(tmp_path / "full"), env=env, check=True)
    epoch = [
        json.loads(line)
        for line in (tmp_path / "full" / "metrics.jsonl").read_text().splitlines()
        if '"event": "iter"' in line
    ]
    measured = epoch[-1]["time"] - epoch[0]["time"]  # steps 2..5 of the 5
    per_step = measured / (len(epoch) - 1)
    assert 0.5 < projected / 5 / per_step < 2, (projected, per_step)
