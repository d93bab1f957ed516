"""The plugin guide (docs/plugins.md) is code that runs: its titled code blocks are written into a
throw-away package, installed with pip (into a folder of its own) and used as the guide says
(describe, run, stop after a stage and resume with the hook's state carried over, evaluate the
trained backbone, which takes no weight arguments, under a named protocol); its table of hooks is
the hook specification's."""

from __future__ import annotations

import inspect
import json
import re

import pytest

from conftest import REPO, pip_install, run_cli, small_synthetic
from vidssl._plugin_system import hookspecs

pytestmark = pytest.mark.slow

GUIDE = REPO / "docs" / "plugins.md"
BLOCK = re.compile(r'^```\w+ title="([^"]+)"\n(.*?)^```$', re.M | re.S)


def guide_files() -> dict[str, str]:
    """file path → content of every titled code block of the guide."""
    return {path: code for path, code in BLOCK.findall(GUIDE.read_text())}


def test_the_hook_table_is_the_hook_specification():
    rows = re.findall(r"^\| `(vidssl_\w+)` \| ([^|]+) \|", GUIDE.read_text(), re.M)
    documented = {name: re.findall(r"`(\w+)`", arguments) for name, arguments in rows}
    lifecycle = {
        name: list(inspect.signature(spec).parameters)
        for name, spec in vars(hookspecs).items()
        if name.startswith("vidssl_") and callable(spec) and "run" in inspect.signature(spec).parameters
    }
    assert documented == lifecycle


def test_the_guide_plugin_installs_runs_resumes_and_evaluates(tmp_path):
    files = guide_files()
    assert {
        "pyproject.toml",
        "my_vidssl_plugin/plugin.py",
        "my_vidssl_plugin/two_view.py",
        "my_vidssl_plugin/backbone.py",
        "my_vidssl_plugin/epoch_log.py",
        "my_vidssl_plugin/configs/two_view_synthetic.py",
    } <= set(files)
    package = tmp_path / "my-vidssl-plugin"
    for path, code in files.items():
        (package / path).parent.mkdir(parents=True, exist_ok=True)
        (package / path).write_text(code)
    env = pip_install(package, tmp_path / "site")
    described = run_cli("vidssl-plugins", "--describe", "method", "two_view", env=env, check=True).stdout
    assert re.search(r"^dim\s+integer\s+32\s+size of the L2-normalised embedding", described, re.M), described
    work = tmp_path / "work"
    # the guide's config on a smaller copy of its data (4 + 2 videos per class, batches of 8)
    common = [
        "--work-dir",
        str(work),
        "--cfg-options",
        f"data_root={tmp_path / 'data'}",
        "stage_defaults.batch_size=8",
        *small_synthetic(
            "stages.0.dataset",
            "stages.0.val_dataset",
            "stages.1.dataset",
            "stages.2.dataset",
            "stages.2.val_dataset",
            train=4,
        ),
    ]
    run_cli(
        "vidssl-run",
        "two_view_synthetic",
        "--stages",
        "probe_random,pretrain",
        *common,
        env=env,
        check=True,
        cwd=tmp_path,
    )
    run_cli("vidssl-run", "two_view_synthetic", "--resume", *common, env=env, check=True, cwd=tmp_path)
    ran = json.loads((work / "env.json").read_text())["config"]
    assert ran.startswith(str(tmp_path / "site")), "the config ran by name from the installed package"
    log = [line.split("\t") for line in (work / "epoch_log.tsv").read_text().splitlines()]
    assert [(stage, int(epoch)) for stage, epoch, _, _ in log] == [
        ("probe_random", 1),
        ("probe_random", 2),
        ("pretrain", 1),
        ("pretrain", 2),
        ("pretrain", 3),
        ("probe", 1),
        ("probe", 2),
    ]
    assert [int(seen) for *_, seen in log] == list(range(1, 8)), "the hook's count went on across --resume"
    evaluated = run_cli(
        "vidssl-eval",
        str(work),
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
        f"data_root={tmp_path / 'data'}",
        *small_synthetic("stages.0.dataset", "stages.0.val_dataset"),
        env=env,
        cwd=tmp_path,
    )
    assert evaluated.returncode == 0, evaluated.stderr[-2000:]
    assert f"loaded 18 backbone tensors from {work / 'checkpoints' / 'stage_pretrain.pt'}" in evaluated.stderr
