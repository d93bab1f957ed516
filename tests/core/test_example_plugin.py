"""A real third-party plugin: installed with pip, discovered through its entry point only, used by a
config, uninstalled."""
from __future__ import annotations

import subprocess
import sys

import pytest

from conftest import REPO, run_cli

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


def pip(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "pip", "-q", *args], check=True, capture_output=True)


def test_install_list_run_uninstall(tiny_config, tmp_path):
    config = tmp_path / "arrow.py"
    config.write_text(CONFIG)
    pip("install", "--no-build-isolation", "--no-deps", str(EXAMPLE))
    try:
        listing = run_cli("vidssl-plugins", check=True).stdout
        assert "method     arrow_of_time" in listing and "hook       loss_curve" in listing
        assert "vidssl-example-plugin  0.1.0" in listing
        work = tmp_path / "run"
        run_cli("vidssl-run", str(config), "--work-dir", str(work), check=True)
        png = (work / "loss_curve.png").read_bytes()
        assert png.startswith(b"\x89PNG") and len(png) > 1000
        records = (work / "metrics.jsonl").read_text()
        assert '"arrow_acc"' in records, "the plugin's own loss terms reach the metrics log"
        # installed is not enabled: a config without custom_hooks gets no loss curve
        plain = tmp_path / "plain"
        run_cli("vidssl-run", str(tiny_config), "--work-dir", str(plain), "--stages",
                "probe_random", check=True)
        assert (plain / "results.json").is_file() and not (plain / "loss_curve.png").exists()
    finally:
        pip("uninstall", "-y", "vidssl-example-plugin")
    assert "arrow_of_time" not in run_cli("vidssl-plugins", check=True).stdout

