"""Weights out and back in: ``vidssl-export`` writes a model folder (``model.safetensors``,
``config.json``, ``README.md``), which ``vidssl.load_backbone``, a stage's ``init_from`` and
``vidssl-eval`` read back bit for bit; the ``torchvision`` layout loads strictly into
torchvision's own model."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
import torch

import vidssl
from vidssl import CheckpointError, ConfigError, Runner, checkpoint, load_config, stage_file
from vidssl._engine.model_folder import export_model_folder, write_weights
from vidssl._engine.protocol_card import backbone_sha256

pytestmark = pytest.mark.slow


def trained(config: Path, work: Path, *options: str, stages: tuple = ("supervised",)) -> Path:
    """``work`` after the tiny config's ``stages`` (2 steps each) ran in this process."""
    cfg = load_config(
        config,
        [
            "stages.1.max_iters=2",
            "stages.1.epochs=1",
            "stages.2.max_iters=2",
            "log.progress_bar=False",
            *options,
        ],
    )
    Runner(cfg, work, only=list(stages)).run()
    return work


def stage_backbone(work: Path, stage: str) -> torch.nn.Module:
    cfg = json.loads((work / "config.json").read_text())
    backbone = vidssl.build("backbone", cfg["backbone"])
    vidssl.load_weights(backbone, stage_file(work, stage))
    return backbone.eval()


def test_a_model_folder_round_trips_bit_for_bit(tiny_config, tmp_path):
    work = trained(tiny_config, tmp_path / "run", stages=("supervised", "probe"))
    folder = tmp_path / "model"
    export_model_folder(work, folder, "supervised")  # vidssl-export (tests/test_wheels.py runs it)
    config = json.loads((folder / "config.json").read_text())
    assert config["format"] == "vidssl" and config["stage"] == "supervised"
    assert config["backbone"] == json.loads((work / "config.json").read_text())["backbone"]
    assert config["input"] == {
        "frames": "rgb",
        "clip_len": 8,
        "size": 16,
        "mean": [0.485, 0.456, 0.406],
        "std": [0.229, 0.224, 0.225],
    }
    digest = hashlib.sha256((folder / "model.safetensors").read_bytes()).hexdigest()
    card = (folder / "README.md").read_text()
    assert digest == config["weights_sha256"] and f"SHA-256 `{digest}`" in card
    assert card.startswith("---\nlicense: ")
    assert "| supervised | the run’s own | stage: train, type: classification" in card
    clip = torch.randn(2, 3, 8, 16, 16)
    loaded = vidssl.load_backbone(folder)
    with torch.no_grad():
        assert torch.equal(loaded(clip), stage_backbone(work, "supervised")(clip))
    # a folder is an init_from like a checkpoint file; its layout is checked against init_format
    again = tmp_path / "again"
    Runner(
        load_config(
            tiny_config, [f"stages.2.init_from={folder}", "stages.2.max_iters=1", "log.progress_bar=False"]
        ),
        again,
        only=["probe"],
    ).run()
    started = json.loads((again / "protocols.json").read_text())["probe"]["checkpoint"]
    assert started["init_from"] == str(folder)
    assert started["backbone_sha256"] == backbone_sha256(stage_backbone(work, "supervised"))
    wrong = load_config(tiny_config, [f"stages.2.init_from={folder}", "stages.2.init_format=torchvision"])
    with pytest.raises(ConfigError, match="holds weights in the 'vidssl' layout"):
        Runner(wrong, tmp_path / "wrong", only=["probe"]).run()
    (folder / "model.safetensors").write_bytes((folder / "model.safetensors").read_bytes()[:500])
    with pytest.raises(CheckpointError, match="model.safetensors is truncated or corrupt"):
        vidssl.load_backbone(folder)
    # a foreign layout takes a plain linear head only (the probe's is BatchNorm + linear)
    with pytest.raises(ConfigError, match="plain linear 'fc' head"):
        export_model_folder(work, tmp_path / "probe", "probe", head=True, fmt="torchvision")


def test_channels_last_weights_are_written_dense(tmp_path):
    from safetensors.torch import load_file

    backbone = vidssl.build("backbone", {"type": "r3d", "depth": 10, "width": 0.125})
    state = backbone.to(memory_format=torch.channels_last_3d).state_dict()
    assert not state["stem.0.weight"].is_contiguous()
    write_weights(state, tmp_path / "model.safetensors", "vidssl")
    back = load_file(tmp_path / "model.safetensors")
    assert back.keys() == state.keys() and all(torch.equal(back[k], v) for k, v in state.items())


def test_the_torchvision_layout_loads_strictly_into_torchvision(tiny_config, tmp_path):
    from safetensors.torch import load_file
    from torchvision.models.video import r3d_18

    work = trained(
        tiny_config,
        tmp_path / "run",
        "backbone.depth=18",
        "backbone.width=1.0",
        "backbone.variant=torchvision",
        "backbone.stem_pool=none",
    )
    folder = tmp_path / "tv"
    export_model_folder(work, folder, "supervised", head=True, fmt="torchvision")
    reference = r3d_18(num_classes=10).eval()
    reference.load_state_dict(load_file(folder / "model.safetensors"), strict=True)
    head = checkpoint.load(stage_file(work, "supervised"))["method"]
    assert torch.equal(reference.fc.weight, head["fc.weight"])
    reference.fc = torch.nn.Identity()
    clip = torch.randn(2, 3, 8, 32, 32)
    with torch.no_grad():
        assert torch.equal(reference(clip), stage_backbone(work, "supervised")(clip))
        assert torch.equal(vidssl.load_backbone(folder)(clip), reference(clip))
