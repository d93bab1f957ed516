"""vidssl-eval: a work dir or a checkpoint file (vidssl, a seed format, torchvision) evaluated
under the named protocols of configs/protocols, each stage's protocol card beside its numbers,
means and stds over splits."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import torch

from conftest import REPO, run_cli
from vidssl import build, checkpoint, load_weights
from vidssl._engine.protocol_card import backbone_sha256

PROTOCOLS = REPO / "configs" / "protocols"


@pytest.fixture(scope="module")
def source_run(tmp_path_factory, data_root):
    """A finished tiny run (probe_random, supervised, probe) to evaluate."""
    from conftest import TINY_CONFIG

    where = tmp_path_factory.mktemp("source")
    config = where / "tiny.py"
    config.write_text(TINY_CONFIG.format(root=str(data_root)))
    run_cli("vidssl-run", str(config), "--work-dir", str(where / "run"), check=True)
    return where / "run"


def weights_sha(backbone_cfg: dict, path: Path, fmt: str) -> str:
    backbone = build("backbone", backbone_cfg)
    load_weights(backbone, path, fmt)
    return backbone_sha256(backbone)


def evaluate(*args: str, check: bool = True, cwd: Path | None = None):
    return run_cli("vidssl-eval", *args, check=check, timeout=900, cwd=cwd)


def test_linear_probe_of_a_work_dir_on_synthetic_motion(source_run, eval_data, tmp_path):
    work = tmp_path / "linear"
    evaluate(
        str(source_run),
        "--protocol",
        "linear",
        "--dataset",
        "synthetic_motion",
        "--work-dir",
        str(work),
        "--cfg-options",
        f"data_root={eval_data}",
        "stages.0.epochs=1",
        "stages.0.num_workers=0",
    )
    results = json.loads((work / "results.json").read_text())
    card = json.loads((work / "protocols.json").read_text())["linear"]
    assert 0 <= results["linear"]["top1"] <= 100
    assert card["protocol"] == "linear" and card["stage_type"] == "probe"
    assert card["data"]["train"]["type"] == "synthetic_motion"
    assert card["data"]["train"]["view"]["flip"] == 0.0, "the dataset's own view keys laid over"
    assert card["test_views"] == {
        "clips": 5,
        "crops": 1,
        "per_video": 5,
        "sampler": "uniform",
        "crop": "center",
    }
    assert card["method"]["head"].startswith("L2-normalise → BatchNorm1d → linear")
    assert card["training"]["backbone"] == "frozen (eval mode)"
    assert card["training"]["optimizer"]["lr"] == 1e-2, "the protocol's synthetic_motion override"
    # the weights evaluated are the source's self-supervised-or-last training stage's
    stage_file = source_run / "checkpoints" / "stage_supervised.pt"
    assert card["checkpoint"]["init_from"] == str(stage_file)
    assert card["checkpoint"]["init_format"] == "vidssl"
    saved_cfg = json.loads((source_run / "config.json").read_text())["backbone"]
    backbone = build("backbone", saved_cfg)
    backbone.load_state_dict(checkpoint.load(stage_file)["backbone"])
    assert card["checkpoint"]["backbone_sha256"] == backbone_sha256(backbone)
    # what ran is a plain config vidssl-run reads
    assert "protocol = {'name': 'linear'" in (work / "eval_config.py").read_text()


def test_smoke_tiny_of_a_protocol_whose_view_has_no_resize(source_run, eval_data, tmp_path):
    """The linear protocol's synthetic_motion view sets resize=None: --tiny leaves it off (a raw
    TypeError, min(None, 64), before). A smoke run's default work dir is not the real
    evaluation's (``_smoke`` appended), so it does not block it."""
    result = evaluate(
        str(source_run),
        "--protocol",
        "linear",
        "--dataset",
        "synthetic_motion",
        "--smoke",
        "2",
        "--tiny",
        "--cfg-options",
        f"data_root={eval_data}",
        check=False,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    (work,) = (tmp_path / "work_dirs" / "eval").iterdir()
    assert work.name.endswith("-linear-synthetic_motion_smoke"), work.name
    assert "linear" in json.loads((work / "results.json").read_text())


def test_knn_of_a_torchvision_checkpoint(eval_data, tmp_path):
    from torchvision.models.video import r3d_18

    torch.manual_seed(0)
    path = tmp_path / "r3d_18.pth"
    torch.save(r3d_18(num_classes=400).state_dict(), path)
    work = tmp_path / "knn"
    evaluate(
        str(path),
        "--backbone",
        "r3d",
        "--set",
        "variant=torchvision",
        "--format",
        "torchvision",
        "--protocol",
        "knn",
        "--dataset",
        "synthetic_motion",
        "--work-dir",
        str(work),
        "--cfg-options",
        f"data_root={eval_data}",
        "stages.0.num_workers=0",
        "stages.0.batch_size=32",
        "stages.0.max_videos=40",
        "stages.0.val_dataset.view.num_clips=2",
        "stages.0.evaluator.train_dataset.view.num_clips=2",
    )
    recall = json.loads((work / "results.json").read_text())["knn"]
    values = [recall[f"R@{k}"] for k in (1, 5, 10, 20, 50)]
    assert values == sorted(values) and 0 < values[0] <= 100
    card = json.loads((work / "protocols.json").read_text())["knn"]
    assert card["evaluator"]["level"].startswith("video")
    assert card["test_views"]["per_video"] == 2 and card["data"]["gallery"]["split"] == "train"
    assert card["max_videos"] == 40, "a cut evaluation says so on its card"
    assert card["checkpoint"]["backbone_sha256"] == weights_sha(
        {"type": "r3d", "variant": "torchvision"}, path, "torchvision"
    )


@pytest.mark.slow
def test_seed_fine_tuning_of_a_seed_format_checkpoint_over_two_splits(real_data_root, tmp_path):
    sys.path.insert(0, str(REPO / "tests" / "backbones"))
    from seed_layouts import kenshohara_r3d18

    generator = torch.Generator().manual_seed(0)
    state = {
        f"module.{k}": torch.randn(shape, generator=generator) * 0.05
        if len(shape) > 1
        else torch.ones(shape)
        if k.endswith(("weight", "running_var"))
        else torch.zeros(shape, dtype=torch.long)
        if not shape
        else torch.zeros(shape)
        for k, shape in kenshohara_r3d18().items()
    }
    path = tmp_path / "seed000_la.pth"
    torch.save({"epoch": 225, "arch": "resnet-18", "state_dict": state}, path)
    work = tmp_path / "ft"
    evaluate(
        str(path),
        "--backbone",
        "r3d",
        "--set",
        "depth=18",
        "stem_pool=3x3x3",
        "--format",
        "kenshohara",
        "--protocol",
        "finetune_seed000",
        "--dataset",
        "ucf101",
        "--splits",
        "1,2",
        "--work-dir",
        str(work),
        "--smoke",
        "--tiny",
        "--cfg-options",
        f"data_root={real_data_root}",
    )
    results = json.loads((work / "results.json").read_text())
    cards = json.loads((work / "protocols.json").read_text())
    assert list(results) == ["finetune", "test"]
    runs = cards["test"]["runs"]
    assert [(r["split"], r["work_dir"]) for r in runs] == [(1, "split1_seed0"), (2, "split2_seed0")]
    for run in runs:  # each split ran on its own lists
        card = json.loads((work / run["work_dir"] / "protocols.json").read_text())["test"]
        assert card["data"]["test"]["split"] == run["split"]
        assert run["metrics"] == json.loads((work / run["work_dir"] / "results.json").read_text())["test"]
    top1 = [r["metrics"]["top1"] for r in runs]
    assert results["test"]["top1"] == pytest.approx(sum(top1) / 2)
    assert cards["test"]["std"]["top1"] == pytest.approx(abs(top1[0] - top1[1]) / 2**0.5)
    finetune = cards["finetune"]
    assert finetune["protocol"] == "finetune_seed000" and finetune["method"]["frozen_below"] == 2
    assert finetune["checkpoint"]["backbone_sha256"] == weights_sha(
        {"type": "r3d", "depth": 18, "stem_pool": "3x3x3"}, path, "kenshohara"
    ), "the seed checkpoint's weights, converted"


@pytest.mark.parametrize(
    "args, message",
    [
        (
            ["--protocol", "finetune_seed000", "--dataset", "kinetics400"],
            "protocol 'finetune_seed000' is defined on ucf101, hmdb51, not on 'kinetics400'",
        ),
        (
            ["--protocol", "linear", "--dataset", "kinetics400", "--splits", "2"],
            "kinetics400 has no official splits, not 2",
        ),
        (["--protocol", "lineer", "--dataset", "ucf101"], "no protocol 'lineer'"),
    ],
)
def test_a_protocol_outside_its_datasets_is_refused(source_run, tmp_path, args, message):
    result = evaluate(str(source_run), *args, "--work-dir", str(tmp_path / "w"), check=False)
    assert result.returncode == 2 and message in result.stderr, result.stderr
    assert not (tmp_path / "w" / "results.json").exists()


def test_every_protocol_names_its_datasets_and_moves_to_each():
    from vidssl import read_config
    from vidssl_methods.eval_protocol import compose, dataset_table, protocol_names

    table = dataset_table(PROTOCOLS)
    names = protocol_names(PROTOCOLS)
    assert names == [
        "finetune_seed000",
        "finetune_seed001",
        "finetune_seed002",
        "finetune_seed003",
        "knn",
        "linear",
    ]
    for name in names:
        protocol = read_config(PROTOCOLS / f"{name}.py")["protocol"]
        for dataset in protocol["datasets"]:
            cfg = compose(PROTOCOLS / f"{name}.py", dataset, {"type": "r3d"}, ("weights.pt", "vidssl"))
            assert cfg["stages"][0]["init_from"] == "weights.pt"
            text = json.dumps(cfg["stages"])
            assert json.dumps(table[dataset]["train"]["type"]) in text
            other = {d for d in table if d != dataset}
            assert not any(f'"type": "{d}"' in text for d in other), (name, dataset)
            classes = [
                m["num_classes"]
                for s in cfg["stages"]
                if "method" in s
                for m in [s["method"]]
                if "num_classes" in m
            ]
            assert set(classes) <= {table[dataset]["num_classes"]}, (name, dataset)


def test_protocol_configs_are_found_from_anywhere(tmp_path, monkeypatch):
    from vidssl_methods.eval_protocol import protocol_file

    monkeypatch.chdir(tmp_path)
    found = protocol_file("knn")
    assert found.parent.parent.parent.name == "vidssl_methods", "the package's own protocols"
    assert found.resolve() == (PROTOCOLS / "knn.py").resolve() and found.is_file()
