"""The runner on a tiny real config: stages, results, work-dir contents, frozen probes,
stage selection and init_from."""

from __future__ import annotations

import json

import pytest
import torch

from conftest import run_cli
from vidssl import Runner, build, checkpoint, load_config
from vidssl._engine.protocol_card import backbone_sha256


@pytest.fixture
def finished_run(tiny_config, tmp_path):
    work = tmp_path / "run"
    result = run_cli("vidssl-run", str(tiny_config), "--work-dir", str(work), check=True)
    return work, result


def test_results_and_work_dir_contents(finished_run):
    work, result = finished_run
    results = json.loads((work / "results.json").read_text())
    assert list(results) == ["probe_random", "supervised", "probe"]
    for metrics in results.values():
        assert 0 <= metrics["top1"] <= 100 and 0 <= metrics["top5"] <= 100
        assert {"mean_class_acc", "loss"} <= metrics.keys()
    env = json.loads((work / "env.json").read_text())
    assert env["seed"] == 0 and env["world_size"] == 1
    assert {"vidssl", "torch", "vidssl-backbones", "vidssl-methods"} <= env["versions"].keys()
    assert "git_commit" in env
    assert "stages = [" in (work / "config.py").read_text()
    records = [json.loads(line) for line in (work / "metrics.jsonl").read_text().splitlines()]
    assert {r["event"] for r in records} == {"iter", "epoch", "eval", "stage"}
    assert (work / "checkpoints" / "last.pt").is_file()
    assert "probe_random" in result.stdout and "top1" in result.stdout


def test_every_stage_has_its_protocol_card(finished_run, tiny_config):
    work, _ = finished_run
    cards = json.loads((work / "protocols.json").read_text())
    assert list(cards) == list(json.loads((work / "results.json").read_text()))
    probe = cards["probe"]
    assert probe["stage_type"] == "probe" and probe["training"]["backbone"] == "frozen (eval mode)"
    assert probe["method"]["head"].startswith("L2-normalise → BatchNorm1d → linear")
    assert probe["input"] == {
        "frames": "rgb",
        "clip_len": 8,
        "size": 16,
        "mean": [0.485, 0.456, 0.406],
        "std": [0.229, 0.224, 0.225],
    }
    assert probe["test_views"]["per_video"] == 1
    assert probe["evaluator"]["aggregation"].startswith("logits averaged")
    assert probe["data"]["test"]["split"] == "test" and "root" not in probe["data"]["test"]
    assert cards["supervised"]["method"]["head"] == "dropout 0.5 → linear"
    # the card names the weights the probe started from: what the supervised stage left
    backbone = build("backbone", load_config(tiny_config)["backbone"])
    backbone.load_state_dict(checkpoint.load(work / "checkpoints" / "stage_supervised.pt")["backbone"])
    assert probe["checkpoint"]["backbone_sha256"] == backbone_sha256(backbone)
    assert cards["probe_random"]["checkpoint"]["backbone_sha256"] != backbone_sha256(backbone)


def test_probe_keeps_the_backbone_frozen_and_in_eval_mode(finished_run):
    work, _ = finished_run
    after_supervised = checkpoint.load(work / "checkpoints" / "stage_supervised.pt")["backbone"]
    after_probe = checkpoint.load(work / "checkpoints" / "stage_probe.pt")["backbone"]
    for key, value in after_supervised.items():  # weights and BN running statistics alike
        assert torch.equal(value, after_probe[key]), key
    before = checkpoint.load(work / "checkpoints" / "stage_probe_random.pt")["backbone"]
    assert any(not torch.equal(before[k], after_supervised[k]) for k in before), (
        "the supervised stage must have changed the backbone"
    )


def test_stage_selection_starts_from_the_saved_backbone(finished_run, tiny_config):
    work, _ = finished_run
    reference = json.loads((work / "results.json").read_text())["probe"]
    (work / "checkpoints" / "stage_probe.pt").unlink()
    cfg = load_config(tiny_config)
    results = Runner(cfg, work, only=["probe"]).run()
    assert results["probe"] == pytest.approx(reference)


def test_unknown_stage_selection_is_an_error(tiny_config, tmp_path):
    result = run_cli("vidssl-run", str(tiny_config), "--work-dir", str(tmp_path / "w"), "--stages", "prob")
    assert result.returncode == 2 and "--stages: no stage named prob" in result.stderr


def test_init_from_loads_a_named_stage(finished_run, tiny_config):
    work, _ = finished_run
    cfg = load_config(tiny_config, ["stages.2.init_from=probe_random", "stages.2.name=probe_again"])
    results = Runner(cfg, work, only=["probe_again"]).run()
    assert set(results) == {"probe_random", "supervised", "probe", "probe_again"}, (
        "a partial run keeps the other stages' results"
    )
    loaded = checkpoint.load(work / "checkpoints" / "stage_probe_again.pt")["backbone"]
    initial = checkpoint.load(work / "checkpoints" / "stage_probe_random.pt")["backbone"]
    assert all(torch.equal(loaded[k], initial[k]) for k in initial)


def test_evaluate_stage_without_method_uses_backbone_features(tiny_config, tmp_path):
    config = tmp_path / "retrieval.py"
    config.write_text("""
_base_ = ['tiny.py']
stages = [dict(name='retrieval', type='evaluate', val_dataset={{_base_._test}},
               evaluator=dict(type='retrieval', train_dataset={{_base_._train}}, ks=[1, 5]))]
""")
    work = tmp_path / "run"
    result = run_cli("vidssl-run", str(config), "--work-dir", str(work), check=True)
    metrics = json.loads((work / "results.json").read_text())["retrieval"]
    assert set(metrics) == {"R@1", "R@5"} and 0 <= metrics["R@1"] <= metrics["R@5"] <= 100
    assert "R@5" in result.stdout


def test_evaluate_stages_start_from_init_from(finished_run, tiny_config):
    work, _ = finished_run
    cfg = load_config(tiny_config)
    supervised = cfg["stages"][1]
    cfg["stages"] += [
        dict(
            name="test",
            type="evaluate",
            init_from="supervised",
            val_dataset=supervised["val_dataset"],
            method=dict(type="supervised", num_classes=10),
        ),
        dict(
            name="retrieval",
            type="evaluate",
            init_from="supervised",
            val_dataset=supervised["val_dataset"],
            evaluator=dict(type="retrieval", train_dataset=supervised["dataset"], ks=[1]),
        ),
    ]
    results = Runner(cfg, work, only=["test", "retrieval"]).run()
    # the test stage evaluates the trained classifier of init_from, not a freshly drawn head
    assert results["test"] == pytest.approx(results["supervised"])
    assert 0 <= results["retrieval"]["R@1"] <= 100, "init_from without a method: the backbone"
