"""A work dir holds one run: a second run into it at once is refused naming the holder, a fresh run
does not overwrite a finished one without --overwrite, and --resume refuses a config that changed
where it must not; bad values and bad hooks are one-line errors that leave no partial files."""

from __future__ import annotations

import json
import os
import socket
import subprocess

import pytest

from conftest import run_cli
from vidssl import CheckpointError, ConfigError, PluginError, Runner, get_plugins, hookimpl, load_config
from vidssl._engine.work_dir import LOCK_NAME
from vidssl._plugin_system.registry import Component

QUICK = ["--stages", "probe_random"]


def test_a_second_run_into_a_busy_work_dir_is_refused_and_a_stale_lock_taken_over(tiny_config, tmp_path):
    work = tmp_path / "run"
    work.mkdir()
    sleeper = subprocess.Popen(["sleep", "60"])
    try:
        (work / LOCK_NAME).write_text(
            json.dumps({"host": socket.gethostname(), "pid": sleeper.pid, "started": "earlier"})
        )
        busy = run_cli("vidssl-run", str(tiny_config), "--work-dir", str(work))
        assert busy.returncode == 2
        assert (
            f"is in use by the run of pid {sleeper.pid} on {socket.gethostname()} (started "
            f"earlier)" in busy.stderr
        )
    finally:
        sleeper.kill()
        sleeper.wait()
    # its process is gone: the lock is stale, and the next run takes it over
    run_cli("vidssl-run", str(tiny_config), "--work-dir", str(work), *QUICK, check=True)
    assert not (work / LOCK_NAME).exists(), "a finished run gives the lock back"


def test_a_fresh_run_does_not_overwrite_a_finished_one(tiny_config, tmp_path):
    work = tmp_path / "run"
    cfg = load_config(tiny_config, ["stages.0.epochs=1"])
    Runner({**cfg, "stages": cfg["stages"][:1]}, work).run()
    before = (work / "results.json").read_text()
    again = run_cli("vidssl-run", str(tiny_config), "--work-dir", str(work))
    assert again.returncode == 2 and "already holds a run" in again.stderr
    assert "--overwrite replaces it" in again.stderr
    assert (work / "results.json").read_text() == before, "nothing was touched"
    Runner({**cfg, "stages": cfg["stages"][:1]}, work, overwrite=True).run()
    assert json.loads((work / "results.json").read_text()).keys() == {"probe_random"}


def test_resume_refuses_changed_finished_stages_and_allows_epochs(tiny_config, tmp_path):
    work = tmp_path / "run"
    cfg = load_config(tiny_config)
    Runner({**cfg, "stages": cfg["stages"][:2]}, work).run()
    changed = load_config(tiny_config, ["stages.0.optimizer.lr=0.5", "seed=3"])
    with pytest.raises(
        ConfigError,
        match=r"differs from the one this run was started with .* "
        r"in seed, stages\[0\]\.optimizer\.lr",
    ):
        Runner({**changed, "stages": changed["stages"][:2]}, work, resume=True).run()
    # the unfinished third stage may change its epochs
    longer = load_config(tiny_config, ["stages.2.epochs=2"])
    results = Runner(longer, work, resume=True).run()
    assert set(results) == {"probe_random", "supervised", "probe"}


def test_bad_values_are_one_line_errors(tiny_config, tmp_path):
    for option, expected in (
        ("stages.1.optimizer.lr=1e-3x", "stages[1].optimizer.lr: expected number"),
        ("stages.0.epochs=(1,2", "the value cannot be read"),
    ):
        result = run_cli(
            "vidssl-run", str(tiny_config), "--work-dir", str(tmp_path / "w"), "--cfg-options", option
        )
        assert result.returncode == 2 and expected in result.stderr, result.stderr[-300:]
        assert "Traceback" not in result.stderr


class Unloadable:
    @hookimpl
    def vidssl_checkpoint_save(self, checkpoint):
        checkpoint["mine"] = {"when": socket}  # a module: weights_only cannot load it


class Misspelled:
    @hookimpl
    def vidssl_epoch_ends(self, stage):
        pass


def test_hook_entries_that_would_break_resume_and_misspelled_hooks_are_named(tiny_config, tmp_path):
    registry = get_plugins().registry
    for name, cls in (("unloadable", Unloadable), ("misspelled", Misspelled)):
        if name not in registry.names("hook"):
            registry.add(Component("hook", name, cls, {"type": "object"}, "tests", "0"))
    cfg = load_config(tiny_config)
    work = tmp_path / "run"
    with pytest.raises(
        CheckpointError,
        match=r"hook 'custom_hooks\[0\] \(unloadable\)' added "
        r"the checkpoint entry 'mine', which would not load",
    ):
        Runner({**cfg, "custom_hooks": [{"type": "unloadable"}]}, work).run()
    assert (
        not list((work / "checkpoints").glob(".*tmp*")) and not (work / "checkpoints" / "last.pt").exists()
    ), "nothing half-written, nothing saved"
    with pytest.raises(
        PluginError,
        match=r"custom_hooks\[0\] \(misspelled\): unknown hook "
        r"'vidssl_epoch_ends'; did you mean 'vidssl_epoch_end'\?",
    ):
        Runner({**cfg, "custom_hooks": [{"type": "misspelled"}]}, tmp_path / "other").run()
    assert os.path.isdir(tmp_path / "other")


def test_list_of_dict_overrides_are_one_line_errors(tiny_config, tmp_path):
    result = run_cli(
        "vidssl-run",
        str(tiny_config),
        "--work-dir",
        str(tmp_path / "w"),
        "--cfg-options",
        "custom_hooks=[dict(type=metrics_plot)]",
    )
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr[-300:]
    assert (
        "custom_hooks=[dict(type=metrics_plot)]: dicts cannot be written on the command "
        "line; write them in the config file" in result.stderr
    )
    assert not (tmp_path / "w").exists()


@pytest.fixture
def small_filesystem(tmp_path):
    """A 4 MiB tmpfs mounted at ``tmp_path / 'fs'`` (needs root and permission to mount)."""
    where = tmp_path / "fs"
    where.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(where)], capture_output=True
    )
    if mounted.returncode != 0:
        pytest.skip("needs root and permission to mount a tmpfs, to make a disk fill up")
    yield where
    subprocess.run(["umount", "-l", str(where)], check=True)


def test_disk_full_and_read_only_work_dirs_fail_in_one_line_losing_nothing(tiny_config, small_filesystem):
    work = small_filesystem / "run"
    run_cli("vidssl-run", str(tiny_config), "--work-dir", str(work), *QUICK, check=True)
    results = (work / "results.json").read_text()
    checkpoints = {p.name: p.read_bytes() for p in (work / "checkpoints").iterdir()}
    # fill the disk, then go on with the next stage: its first checkpoint cannot be written
    with open(small_filesystem / "filler", "wb") as filler:
        try:
            while True:
                filler.write(b"\0" * 65536)
        except OSError:
            pass
    full = run_cli("vidssl-run", str(tiny_config), "--work-dir", str(work), "--resume")
    assert full.returncode == 1, full.stderr[-500:]
    assert "No space left on device" in full.stderr and "Traceback" not in full.stderr
    assert len(full.stderr.strip().splitlines()[-1]) < 300
    (small_filesystem / "filler").unlink()
    # read-only: refused at the start, one line
    subprocess.run(["mount", "-o", "remount,ro", str(small_filesystem)], check=True)
    read_only = run_cli("vidssl-run", str(tiny_config), "--work-dir", str(work), "--resume")
    assert read_only.returncode == 1 and "Read-only file system" in read_only.stderr
    assert "Traceback" not in read_only.stderr
    # nothing written before was lost, nothing half-written was left
    assert (work / "results.json").read_text() == results
    assert json.loads(results).keys() == {"probe_random"}
    left = {p.name: p.read_bytes() for p in (work / "checkpoints").iterdir()}
    assert {k: v for k, v in left.items() if k in checkpoints} == checkpoints
    assert not [p for p in work.rglob("*") if ".tmp" in p.name]
