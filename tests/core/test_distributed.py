"""Real torch.distributed runs on CPU (gloo): a 2-process training through torchrun, and the
gather helpers in a 2-process group."""

from __future__ import annotations

import json

import pytest
import torch

from conftest import BIN, in_two_processes, run_cli
from vidssl import distributed

pytestmark = pytest.mark.slow


def test_two_process_training_with_torchrun(tiny_config, tmp_path):
    work = tmp_path / "ddp"
    result = run_cli(
        "torchrun",
        "--standalone",
        "--nproc_per_node=2",
        str(BIN / "vidssl-run"),
        str(tiny_config),
        "--work-dir",
        str(work),
        "--stages",
        "supervised",
        "--cfg-options",
        "stages.1.epochs=1",
        check=True,
    )
    env = json.loads((work / "env.json").read_text())
    assert env["world_size"] == 2
    records = [json.loads(line) for line in (work / "metrics.jsonl").read_text().splitlines()]
    iterations = [r for r in records if r["event"] == "iter" and r["stage"] == "supervised"]
    # 40 training videos, 4 per process and step, 2 processes: 5 steps, logged once (rank 0)
    assert [r["iter"] for r in iterations] == [1, 2, 3, 4, 5]
    results = json.loads((work / "results.json").read_text())
    assert 0 <= results["supervised"]["top1"] <= 100
    assert result.stdout.count("results:") == 1, "only rank 0 reports"


def _gather(rank: int) -> tuple:
    local = torch.full((2, 3), float(rank + 1), requires_grad=True)
    gathered = distributed.all_gather_with_grad(local)
    gathered.sum().backward()
    return (
        gathered.detach().tolist(),
        local.grad.tolist(),
        distributed.all_gather_objects({"rank": rank}),
        distributed.broadcast_object(f"from {rank}"),
    )


def test_gather_helpers_in_a_real_process_group():
    results = in_two_processes(_gather)
    for rank in (0, 1):
        gathered, grad, objects, broadcast = results[rank]
        assert gathered == [[1.0] * 3] * 2 + [[2.0] * 3] * 2  # rank order, same on both ranks
        assert grad == [[1.0] * 3] * 2, "only the local slice carries gradient"
        assert objects == [{"rank": 0}, {"rank": 1}]
        assert broadcast == "from 0"
