"""Lifecycle hooks of a real run: a ``custom_hooks`` component keeps state across ``--resume``
through the checkpoint hooks (every ``last.pt`` write passes through ``vidssl_checkpoint_save``,
and ``vidssl_checkpoint_load`` reaches it), and a validated last epoch is not evaluated twice."""

from __future__ import annotations

import pytest
import torch

from vidssl import Runner, checkpoint, get_plugins, hookimpl, load_config
from vidssl._plugin_system.registry import Component


class Recorder:
    """Counts its checkpoint saves in the checkpoint itself; records evaluations and loads."""

    events: list[tuple[str, object]] = []

    def __init__(self) -> None:
        self.saves = 0

    @hookimpl
    def vidssl_evaluation_end(self, stage):
        Recorder.events.append(("eval", stage.name))

    @hookimpl(wrapper=True)
    def vidssl_checkpoint_save(self, checkpoint):
        """A wrapper (around the other implementations): every hook is called through pluggy."""
        result = yield
        self.saves += 1
        checkpoint["recorder"] = {"saves": torch.tensor(self.saves)}
        return result

    @hookimpl
    def vidssl_checkpoint_load(self, checkpoint):
        self.saves = int(checkpoint["recorder"]["saves"])
        Recorder.events.append(("load", self.saves))


@pytest.fixture(scope="module", autouse=True)
def recorder_component():
    registry = get_plugins().registry
    if "recorder" not in registry.names("hook"):
        registry.add(Component("hook", "recorder", Recorder, {"type": "object"}, "tests", "0"))


def test_checkpoint_hooks_are_symmetric_and_the_last_epoch_is_evaluated_once(tiny_config, tmp_path):
    cfg = load_config(tiny_config, ["stages.1.val_interval=1"])
    cfg["custom_hooks"] = [{"type": "recorder"}]
    work = tmp_path / "run"
    Recorder.events.clear()
    Runner(cfg, work).run()
    evaluations = [name for kind, name in Recorder.events if kind == "eval"]
    # probe_random 1 epoch (final only), supervised 2 epochs validated each (the second is the
    # final), probe 1 epoch (final only)
    assert evaluations == ["probe_random", "supervised", "supervised", "probe"]
    saved = checkpoint.load(work / "checkpoints" / "last.pt")
    # one save per epoch and one per stage end: 3 stages, 4 epochs
    assert int(saved["recorder"]["saves"]) == 7, "every last.pt write fires the save hook"
    Recorder.events.clear()
    Runner(cfg, work, resume=True).run()
    assert Recorder.events == [("load", 7)], "the resumed run's custom hook gets its state back"
