"""Runs that must not go silently wrong: a non-finite loss stops the run (or, by choice, skips
the step), results.json is strict JSON, an evaluation drops unreadable videos instead of counting
a neighbour twice, a class count that does not match the dataset stops the run before any work,
and a hook can stop a run cleanly."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import vidssl
from conftest import run_cli
from vidssl import (
    EvaluationContext,
    Method,
    PluginError,
    RunError,
    Runner,
    checkpoint,
    get_plugins,
    hookimpl,
    load_config,
)
from vidssl._plugin_system.registry import Component
from vidssl_datasets.synthetic_motion import write_video


class NanAfter(Method):
    """Cross-entropy on a linear head, whose loss turns NaN from global step ``step`` on; an extra
    logged value ``odd`` is always NaN."""

    def __init__(self, backbone, step: int = 3) -> None:
        super().__init__(backbone)
        self.head, self.step = torch.nn.Linear(backbone.feat_dim, 10), step
        self.register_buffer("seen", torch.zeros((), dtype=torch.long))

    def training_step(self, batch):
        loss = F.cross_entropy(self.head(self.backbone(batch["views"]["clip"])), batch["label"])
        self.seen += 1
        if int(self.seen) > self.step:
            loss = loss * float("nan")
        return {"loss": loss, "odd": torch.tensor(float("nan"))}


class ReadsAnUndeclaredView(NanAfter):
    def training_step(self, batch):
        return {"loss": self.head(self.backbone(batch["views"]["other"])).sum()}


class ReturnsNoLoss(NanAfter):
    def training_step(self, batch):
        return {"total": self.head(self.backbone(batch["views"]["clip"])).sum()}


class StopAtEpochEnd:
    @hookimpl
    def vidssl_epoch_end(self, stage):
        if stage.name == "supervised":
            raise vidssl.StopRun("enough for today")


class StopFirst:
    @hookimpl(tryfirst=True)
    def vidssl_epoch_end(self, stage):
        StopAtEpochEnd.vidssl_epoch_end(self, stage)


class StopLast:
    @hookimpl(trylast=True)
    def vidssl_epoch_end(self, stage):
        StopAtEpochEnd.vidssl_epoch_end(self, stage)


class StopAroundTheOthers:
    """A wrapper that stops before any other implementation runs."""

    @hookimpl(wrapper=True, tryfirst=True)
    def vidssl_epoch_end(self, stage):
        StopAtEpochEnd.vidssl_epoch_end(self, stage)
        return (yield)


@pytest.fixture(scope="module", autouse=True)
def components():
    registry = get_plugins().registry
    if "nan_after" not in registry.names("method"):
        for name, method in (
            ("nan_after", NanAfter),
            ("undeclared_view", ReadsAnUndeclaredView),
            ("no_loss", ReturnsNoLoss),
        ):
            registry.add(Component("method", name, method, {"type": "object"}, "tests", "0"))
        for name, hook in (
            ("stop_at_epoch_end", StopAtEpochEnd),
            ("stop_first", StopFirst),
            ("stop_last", StopLast),
            ("stop_around", StopAroundTheOthers),
        ):
            registry.add(Component("hook", name, hook, {"type": "object"}, "tests", "0"))


def nan_config(tiny_config, policy: str):
    cfg = load_config(tiny_config, [f"stages.1.nan_policy={policy}", "stages.1.epochs=1"])
    cfg["stages"][1]["method"] = {"type": "nan_after"}
    del cfg["stages"][1]["val_dataset"]
    return cfg


def test_a_non_finite_loss_stops_the_run_keeping_the_last_good_state(tiny_config, tmp_path):
    work = tmp_path / "run"
    with pytest.raises(RunError, match=r"stage 'supervised' epoch 1 iteration 4: the loss is nan"):
        Runner(nan_config(tiny_config, "stop"), work).run()
    saved = checkpoint.load(work / "checkpoints" / "last.pt")
    assert list(saved["results"]) == ["probe_random"] and "progress" not in saved
    result = run_cli(
        "vidssl-run",
        str(tiny_config),
        "--work-dir",
        str(tmp_path / "cli"),
        "--stages",
        "supervised",
        "--cfg-options",
        "stages.1.optimizer.lr=1e30",
        "stages.1.optimizer.momentum=0.0",
    )
    assert result.returncode == 1 and "the loss is" in result.stderr, result.stderr[-500:]
    assert "Traceback" not in result.stderr


def test_skip_step_skips_and_counts_and_results_json_is_strict(tiny_config, tmp_path):
    work = tmp_path / "run"
    results = Runner(nan_config(tiny_config, "skip_step"), work).run()
    metrics = results["supervised"]
    assert metrics["skipped_steps"] == 10 - 3, "10 steps of 4 clips, NaN from the 4th"
    assert metrics["odd"] is None, "a NaN metric is null"
    text = (work / "results.json").read_text()
    json.loads(text, parse_constant=lambda c: pytest.fail(f"non-standard JSON constant {c}"))
    weights = checkpoint.load(work / "checkpoints" / "stage_supervised.pt")["method"]
    assert all(torch.isfinite(v).all() for v in weights.values() if v.is_floating_point())


def test_an_evaluation_drops_unreadable_videos_instead_of_counting_a_neighbour(tmp_path):
    for name in ("a.avi", "c.avi"):
        write_video(tmp_path / name, np.zeros((8, 16, 16, 3), np.uint8))
    (tmp_path / "b.avi").write_bytes(b"broken")
    dataset = vidssl.build(
        "dataset",
        {
            "type": "video_files",
            "root": str(tmp_path),
            "paths": ["a.avi", "b.avi", "c.avi"],
            "reader": {"max_skipped": 0.5},
            "view": {"clip_len": 4, "size": 16},
        },
        views={"clip": {}},
    )
    context = EvaluationContext(None, None, None, dataset, batch_size=3, num_workers=0)
    context.run = type("Run", (), {"device": torch.device("cpu")})()
    rows = torch.cat([batch["index"] for batch in context.batches()])
    assert rows.tolist() == [0, 2] and context.skipped == 1


def test_a_class_count_mismatch_stops_the_run_before_any_work(tiny_config, tmp_path):
    result = run_cli(
        "vidssl-run",
        str(tiny_config),
        "--work-dir",
        str(tmp_path / "run"),
        "--cfg-options",
        "stages.2.method.num_classes=12",
    )
    assert result.returncode == 2
    assert (
        "stages[2] ('probe'): method.num_classes is 12 but its dataset (synthetic_motion) has 10 classes"
    ) in result.stderr
    assert not (tmp_path / "run" / "results.json").exists(), "nothing ran"


def test_a_hook_stops_the_run_cleanly(tiny_config, tmp_path):
    cfg = load_config(tiny_config)
    cfg["custom_hooks"] = [{"type": "stop_at_epoch_end"}]
    runner = Runner(cfg, tmp_path / "run")
    results = runner.run()
    assert str(runner.stopped) == "enough for today" and not runner.stopped.failed
    assert list(results) == ["probe_random"], "the finished stage keeps its result"
    assert math.isfinite(results["probe_random"]["top1"])
    # the epoch's checkpoint is written whatever order pluggy calls the stopping hook in
    for name in ("stop_at_epoch_end", "stop_first", "stop_last", "stop_around"):
        cfg["custom_hooks"] = [{"type": name}]
        work = tmp_path / name
        Runner(cfg, work, only=["supervised"]).run()
        progress = checkpoint.load(work / "checkpoints" / "last.pt")["progress"]
        assert (progress["stage"], progress["epoch"], progress["iteration"]) == ("supervised", 1, 0), name


def test_a_method_s_mistakes_at_the_boundary_are_one_line_errors(tiny_config, tmp_path):
    """A method reading a view it did not declare, or returning no ``loss``: one line naming the
    method and what to do, not a traceback from inside the loop."""
    for method, expected in (
        (
            "undeclared_view",
            r"^method ReadsAnUndeclaredView: reads the view 'other', which it "
            r"does not declare \(its views: clip\); add 'other' to the "
            r"method's views$",
        ),
        (
            "no_loss",
            r"^method ReturnsNoLoss: training_step returned \['total'\]; it must "
            r"return a dict of 0-d tensors with the optimised one under 'loss'$",
        ),
    ):
        cfg = nan_config(tiny_config, "stop")
        cfg["stages"][1]["method"] = {"type": method}
        with pytest.raises(PluginError, match=expected):
            Runner(cfg, tmp_path / method, only=["supervised"]).run()
