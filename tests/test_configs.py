"""The shipped configs: every one validates; the CPU demos run end to end, shortened through
--cfg-options (tiny synthetic_motion, one epoch); the real-data ones stop at once with the
preparation hint."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import REPO, run_cli
from vidssl import get_plugins
from vidssl.config import load_config, stage_configs, validate_config

CONFIGS = sorted(p for p in (REPO / "configs").glob("*.py") if not p.name.startswith("_"))
DEMOS = ["supervised_r3d_synthetic.py", "vtdl_r3d_synthetic.py", "la_idt_r3d_synthetic.py"]


@pytest.mark.parametrize("config", CONFIGS, ids=lambda p: p.name)
def test_config_validates(config):
    validate_config(load_config(config), get_plugins().registry)


@pytest.mark.parametrize("config", [c for c in CONFIGS if "synthetic" not in c.name],
                         ids=lambda p: p.name)
def test_real_data_configs_stop_with_the_preparation_hint(config, tmp_path):
    result = run_cli("vidssl-run", str(config), "--work-dir", str(tmp_path / "run"))
    assert result.returncode != 0
    assert "does not exist" in result.stderr and "README" in result.stderr, result.stderr
    assert "Traceback" not in result.stderr


def shortening(config: Path, data_root: Path) -> list[str]:
    """--cfg-options that make every stage of a synthetic_motion config tiny: 10 classes × 2
    videos of 16 frames at 16 px, one epoch, batch 4, no workers."""
    options = ["log.interval=1"]
    for i, stage in enumerate(stage_configs(load_config(config))):
        options += [f"stages.{i}.batch_size=4", f"stages.{i}.num_workers=0"]
        if stage["type"] in ("train", "probe"):
            options.append(f"stages.{i}.epochs=1")
        places = [f"stages.{i}.{key}" for key in ("dataset", "val_dataset") if stage.get(key)]
        if stage.get("evaluator", {}).get("train_dataset"):
            places.append(f"stages.{i}.evaluator.train_dataset")
        for place in places:
            options += [f"{place}.root={data_root}", f"{place}.size=16", f"{place}.frames=16",
                        f"{place}.train_per_class=2", f"{place}.test_per_class=1",
                        f"{place}.unlabeled_size=20"]
    return options


@pytest.mark.slow
@pytest.mark.parametrize("name", DEMOS)
def test_demo_config_runs_shortened(name, tmp_path, data_root):
    config = REPO / "configs" / name
    work = tmp_path / "run"
    options = shortening(config, data_root)
    if name == "la_idt_r3d_synthetic.py":  # 20 videos: fewer clusters and components
        options += ["stages.1.extractor.k=4", "stages.1.extractor.gmm_components=2",
                    "stages.1.extractor.sketch_dim=16", "stages.1.extractor.samples_per_video=20",
                    "stages.2.method.num_noise=8", "stages.4.method.background_k=8",
                    "stages.5.method.background_k=8", "stages.5.method.k=4"]
    result = run_cli("vidssl-run", str(config), "--work-dir", str(work), "--cfg-options",
                     *options, check=True)
    results = json.loads((work / "results.json").read_text())
    names = [s["name"] for s in stage_configs(load_config(config))]
    assert list(results) == names
    for stage in names:
        if stage.startswith("probe"):
            assert 0 <= results[stage]["top1"] <= 100
    assert "results:" in result.stdout
    if load_config(config).get("custom_hooks"):
        assert list(work.glob("*.png")), "the metrics_plot hook writes the loss curves"
