"""A real third-party plugin: installed with pip, discovered through its entry point only, used by a
config, gone when off the path; the examples of docs/plugins.md (an out-of-tree backbone and clip
transform, a method with an extra view, a method whose queue survives --resume, a hook keeping
state across a resume and a hook stopping a run) run as the guide says."""

from __future__ import annotations

import re

import pytest
import torch

from conftest import REPO, pip_install, run_cli, small_synthetic
from vidssl import checkpoint

pytestmark = pytest.mark.slow

EXAMPLE = REPO / "examples" / "vidssl-example-plugin"

CONFIG = """
_base_ = ['tiny.py']
custom_hooks = [dict(type='loss_curve')]
stages = [
    dict(name='pretrain', type='train', dataset={{_base_._train}},
         method=dict(type='arrow_of_time'), optimizer=dict(type='SGD', lr=0.05), epochs=1),
    dict(name='probe', type='probe', dataset={{_base_._train}}, val_dataset={{_base_._test}},
         method=dict(type='linear_probe', num_classes=10), optimizer=dict(type='Adam', lr=0.01)),
]
"""


GUIDE = """
backbone = dict(_delete_=True, type='tiny_c3d', width=8)
_view = dict(clip_len=8, size=16, crop='center', transforms=[dict(type='channel_swap', p=0.5)])
_data = dict(type='synthetic_motion', split='train', root={root!r}, size=16, frames=12,
             train_per_class=4, test_per_class=2, view=_view)
custom_hooks = [dict(type='step_counter'){stop}]
stages = [
    dict(name='queue', type='train', dataset=_data, method=dict(type='queue_contrast', queue_size=16),
         optimizer=dict(type='SGD', lr=0.05), epochs=2),
    dict(name='order', type='train', dataset=_data, method=dict(type='clip_order', min_gap=2),
         optimizer=dict(type='SGD', lr=0.05), epochs=1),
]
"""


def test_installed_listed_run_and_gone_when_off_the_path(tiny_config, tmp_path):
    config = tmp_path / "arrow.py"
    config.write_text(CONFIG)
    env = pip_install(EXAMPLE, tmp_path / "site")
    listing = run_cli("vidssl-plugins", env=env, check=True).stdout
    assert re.search(r"^method\s+arrow_of_time\s", listing, re.M)
    assert re.search(r"^hook\s+loss_curve\s", listing, re.M)
    assert "vidssl-example-plugin  0.1.0" in listing
    work = tmp_path / "run"
    run_cli("vidssl-run", str(config), "--work-dir", str(work), env=env, check=True)
    png = (work / "loss_curve.png").read_bytes()
    assert png.startswith(b"\x89PNG") and len(png) > 1000
    records = (work / "metrics.jsonl").read_text()
    assert '"arrow_acc"' in records, "the plugin's own loss terms reach the metrics log"
    # installed is not enabled: a config without custom_hooks gets no loss curve
    plain = tmp_path / "plain"
    run_cli(
        "vidssl-run",
        str(tiny_config),
        "--work-dir",
        str(plain),
        "--stages",
        "probe_random",
        env=env,
        check=True,
    )
    assert (plain / "results.json").is_file() and not (plain / "loss_curve.png").exists()
    # gone from the path, gone from vidssl
    assert "arrow_of_time" not in run_cli("vidssl-plugins", check=True).stdout


def test_the_guide_examples_run_stop_and_resume(tiny_config, data_root, tmp_path):
    """Stopped by ``stop_below`` after the queue stage's first epoch, resumed without it: the
    queue, the step count and the weights end as in a run never stopped. vidssl-eval then
    evaluates the run's ``tiny_c3d`` (a backbone without weight arguments) under a protocol."""

    def config(name: str, stop: str) -> str:
        path = tmp_path / f"{name}.py"
        path.write_text(
            "_base_ = ['tiny.py']\ndeterministic = True\n" + GUIDE.format(root=str(data_root), stop=stop)
        )
        (tmp_path / "tiny.py").write_text(tiny_config.read_text())
        return str(path)

    env = pip_install(EXAMPLE, tmp_path / "site")
    whole, stopped = tmp_path / "whole", tmp_path / "stopped"
    run_cli("vidssl-run", config("whole", ""), "--work-dir", str(whole), env=env, check=True)
    first = run_cli(
        "vidssl-run",
        config("stop", ", dict(type='stop_below', threshold=100.0)"),
        "--work-dir",
        str(stopped),
        env=env,
        check=True,
    )
    assert "loss" in first.stderr and "< 100.0" in first.stderr + first.stdout
    progress = checkpoint.load(stopped / "checkpoints" / "last.pt")["progress"]
    assert (progress["stage"], progress["epoch"]) == ("queue", 1), "stopped after epoch 1"
    assert progress["method"]["queue_ptr"] > 0 and "step_counter" in checkpoint.load(
        stopped / "checkpoints" / "last.pt"
    )
    run_cli("vidssl-run", config("resume", ""), "--work-dir", str(stopped), "--resume", env=env, check=True)
    steps = (whole / "steps.txt").read_text()
    assert steps == (stopped / "steps.txt").read_text() and int(steps) == 2 * 10 + 10
    for stage in ("queue", "order"):
        a = checkpoint.load(whole / "checkpoints" / f"stage_{stage}.pt")["method"]
        b = checkpoint.load(stopped / "checkpoints" / f"stage_{stage}.pt")["method"]
        assert a.keys() == b.keys()
        assert all(torch.equal(a[k], b[k]) for k in a), f"{stage}: the resumed run differs"
    evaluated = run_cli(
        "vidssl-eval",
        str(whole),
        "--protocol",
        "linear",
        "--dataset",
        "synthetic_motion",
        "--smoke",
        "2",
        "--tiny",
        "--work-dir",
        str(tmp_path / "eval"),
        "--cfg-options",
        f"data_root={tmp_path}",
        *small_synthetic("stages.0.dataset", "stages.0.val_dataset"),
        env=env,
    )
    assert evaluated.returncode == 0, evaluated.stderr[-2000:]
    assert "backbone tensors from" in evaluated.stderr and "stage_order.pt" in evaluated.stderr
