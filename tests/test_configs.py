"""The shipped configs: every one validates; every one runs its ``--smoke --tiny`` preflight on
the generated real-format data (and the synthetic data), every stage reached; the headline
config's preflight runs at its real shapes; without data a config stops with the preparation
hint."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import REPO, run_cli
from vidssl import get_plugins, load_config, stage_configs, validate_config

CONFIGS = sorted(
    p
    for pattern in ("*.py", "protocols/*.py")
    for p in (REPO / "configs").glob(pattern)
    if not p.name.startswith("_")
)


@pytest.mark.parametrize("config", CONFIGS, ids=lambda p: str(p.relative_to(REPO / "configs")))
def test_config_validates(config):
    validate_config(load_config(config), get_plugins().registry)


def test_a_real_data_config_without_its_data_stops_with_the_preparation_hint(tmp_path):
    result = run_cli(
        "vidssl-run",
        str(REPO / "configs" / "vtdl_i3d_ucf.py"),
        "--work-dir",
        str(tmp_path / "run"),
        "--cfg-options",
        f"data_root={tmp_path / 'none'}",
    )
    assert result.returncode == 2
    assert "does not exist" in result.stderr and "docs/data.md" in result.stderr, result.stderr
    assert "Traceback" not in result.stderr


def smoke(config: Path, data_root: Path, work: Path, *options: str, tiny: bool = True):
    args = ["--smoke", "--tiny"] if tiny else ["--smoke"]
    return run_cli(
        "vidssl-run",
        str(config),
        *args,
        "--work-dir",
        str(work),
        "--cfg-options",
        f"data_root={data_root}",
        *options,
        check=True,
        timeout=900,
    )


@pytest.mark.slow
@pytest.mark.parametrize("config", CONFIGS, ids=lambda p: str(p.relative_to(REPO / "configs")))
def test_every_config_passes_its_tiny_preflight(config, real_data_root, tmp_path):
    work = tmp_path / "run"
    result = smoke(config, real_data_root, work)
    results = json.loads((work / "results.json").read_text())
    names = [s["name"] for s in stage_configs(load_config(config))]
    assert list(results) == names, "every stage reached, each with its metrics"
    assert "smoke run (preflight): every stage reached" in result.stderr
    for name in names:
        assert all(v is None or isinstance(v, float) for v in results[name].values())
        if "top1" in results[name]:
            assert 0 <= results[name]["top1"] <= 100
    if "ucf" in config.name:  # the corrupt and the empty fixture videos: skipped where they
        # were read, left out at start-up where the index already knew them
        assert "skipping unreadable video" in result.stderr or "videos left out" in result.stderr
    if load_config(config).get("custom_hooks"):
        assert (work / "metrics.png").is_file()


@pytest.mark.slow
def test_the_headline_config_preflight_at_its_real_shapes(real_data_root, tmp_path):
    work = tmp_path / "run"
    # clips at the config's shapes; batches of 2 (no larger batch timed: a fine-tuning step of
    # I3D on two 64×224² clips alone holds 11 GB on the CPU) and 2 of the test's 10 clips
    result = smoke(
        REPO / "configs" / "vtdl_i3d_ucf.py",
        real_data_root,
        work,
        "stages.0.batch_size=2",
        "stages.0.global_batch=2",
        "stages.1.batch_size=2",
        "stages.2.max_videos=1",
        "stages.2.val_dataset.view.num_clips=2",
        tiny=False,
    )
    table = result.stderr.split("smoke run (preflight): every stage reached")[1]
    assert "pretrain" in table and "finetune" in table and "test" in table
    assert "full epoch (projected)" in table
    results = json.loads((work / "results.json").read_text())
    assert set(results) == {"pretrain", "finetune", "test"}
