"""Several runs at once on one machine: three configs into three work dirs and a fourth run into a
work dir already in use, all generating the same synthetic dataset at the same moment. The busy
work dir is refused, the dataset is generated once, and every result is what the run gives alone."""

from __future__ import annotations

import json
import subprocess

import pytest
import torch

from conftest import BIN, TINY_CONFIG


@pytest.mark.slow
def test_concurrent_runs_keep_their_results_and_a_shared_work_dir_is_refused(tmp_path):
    data = tmp_path / "data"  # not generated yet: all four runs start by generating it
    configs = []
    for seed in (0, 1, 2):
        config = tmp_path / f"seed{seed}.py"
        config.write_text(TINY_CONFIG.format(root=str(data)).replace("seed = 0", f"seed = {seed}"))
        configs.append(config)

    def start(config, work):
        return subprocess.Popen(
            [str(BIN / "vidssl-run"), str(config), "--work-dir", str(work)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )

    works = [tmp_path / f"run{seed}" for seed in (0, 1, 2)]
    runs = [start(config, work) for config, work in zip(configs, works, strict=True)]
    runs.append(start(configs[1], works[0]))  # another config into the first run's work dir
    errors = [run.communicate(timeout=300)[1] for run in runs]
    codes = [run.returncode for run in runs]

    # of the two runs into run0, exactly one held the work dir and the other was refused
    shared = sorted(zip(codes[0:4:3], errors[0:4:3], strict=True))
    assert shared[0][0] == 0 and shared[1][0] == 2, errors
    assert "is in use by the run of pid" in shared[1][1]
    assert codes[1:3] == [0, 0], errors
    assert len([d for d in data.iterdir() if d.is_dir()]) == 1, "one dataset, generated once"

    seed_of_run0 = json.loads((works[0] / "config.json").read_text())["seed"]
    assert [json.loads((w / "config.json").read_text())["seed"] for w in works[1:]] == [1, 2]
    for work in works:
        results = json.loads((work / "results.json").read_text())
        assert set(results) == {"probe_random", "supervised", "probe"}
        assert all(isinstance(v, float) for metrics in results.values() for v in metrics.values())
        torch.load(work / "checkpoints" / "last.pt", weights_only=True)
        assert not [p for p in work.rglob("*") if ".tmp" in p.name]

    # the run that held run0, repeated alone, gives the same results: nothing was mixed
    alone = tmp_path / "alone"
    subprocess.run(
        [str(BIN / "vidssl-run"), str(configs[seed_of_run0]), "--work-dir", str(alone)],
        check=True,
        capture_output=True,
    )
    assert json.loads((alone / "results.json").read_text()) == json.loads(
        (works[0] / "results.json").read_text()
    )
