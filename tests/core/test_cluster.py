"""Long runs on a cluster: a stop signal (SLURM's SIGTERM/SIGUSR1 at preemption) ends a run with a
mid-epoch checkpoint and the requeue exit code, and the same command with ``--resume`` ends as an
uninterrupted run, metrics log included; a second signal exits at once and corrupts nothing;
``checkpoint.interval_minutes`` checkpoints mid-epoch; a requeued job takes over its own lock on
another host; torchrun's elastic restart resumes by itself."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest
import torch

from conftest import BIN, free_port, run_cli
from vidssl import ConfigError, Runner, checkpoint, hookimpl, load_config, validate_config
from vidssl._engine.stop_signals import REQUEUE_EXIT
from vidssl._engine.work_dir import LOCK_NAME, WorkDirLock

pytestmark = pytest.mark.slow

OPTIONS = ["deterministic=True", "stages.1.num_workers=1", "stages.1.epochs=2", "log.tensorboard=True"]
#: the stage the tests run (the tiny config's probes add nothing here)
STAGES = ["--stages", "supervised"]


@pytest.fixture(scope="module")
def config(tmp_path_factory, data_root) -> Path:
    from conftest import TINY_CONFIG

    path = tmp_path_factory.mktemp("cluster") / "tiny.py"
    path.write_text(TINY_CONFIG.format(root=str(data_root)))
    return path


def same_threads() -> dict[str, str]:
    """The environment that gives a command as many compute threads as this process has: a run
    is bit-exact only with the same number (CPU reductions split by thread)."""
    return {"OMP_NUM_THREADS": str(torch.get_num_threads())}


def run_here(config: Path, work: Path, resume: bool = False) -> None:
    """Run the tests' stage in this process as ``vidssl-run`` would (no interpreter start-up),
    leaving torch's global deterministic switch as it was."""
    was = torch.are_deterministic_algorithms_enabled()
    try:
        Runner(load_config(config, OPTIONS), work, resume=resume, only=["supervised"]).run()
    finally:
        torch.use_deterministic_algorithms(was)


@pytest.fixture(scope="module")
def reference(config, tmp_path_factory) -> Path:
    """The uninterrupted run every interrupted one is compared with."""
    work = tmp_path_factory.mktemp("reference") / "run"
    run_here(config, work)
    return work


def records(work: Path, event: str = "iter") -> list[tuple]:
    """The metrics log's records of ``event`` without their wall-clock time."""
    lines = [json.loads(line) for line in (work / "metrics.jsonl").read_text().splitlines()]
    return [
        tuple((k, v) for k, v in r.items() if k not in ("time", "seconds"))
        for r in lines
        if r["event"] == event
    ]


def scalars(work: Path, tag: str) -> list[tuple[int, float]]:
    """(step, value) of a TensorBoard tag as TensorBoard reads it (purged steps hidden)."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(work / "tb" / tag.split("/")[0]))
    events.Reload()
    return [(e.step, e.value) for e in events.Scalars(tag)]


def assert_same_run(a: Path, b: Path) -> None:
    x = checkpoint.load(a / "checkpoints" / "stage_supervised.pt")["method"]
    y = checkpoint.load(b / "checkpoints" / "stage_supervised.pt")["method"]
    assert x.keys() == y.keys() and all(torch.equal(x[k], y[k]) for k in x)
    assert json.loads((a / "results.json").read_text()) == json.loads((b / "results.json").read_text())


def signal_mid_epoch(config: Path, work: Path, signals: int) -> subprocess.Popen:
    """Start the run in its own process group and, in the supervised stage's second epoch, send
    SIGTERM ``signals`` times to the whole group (as SLURM does: data workers too)."""
    process = subprocess.Popen(
        [str(BIN / "vidssl-run"), str(config), "--work-dir", str(work), *STAGES, "--cfg-options", *OPTIONS],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **same_threads()},
        start_new_session=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    deadline = time.time() + 300
    while time.time() < deadline and process.poll() is None:
        log = work / "metrics.jsonl"
        if log.is_file() and '"stage": "supervised", "epoch": 1, "iter": 2' in log.read_text():
            for _ in range(signals):
                os.killpg(process.pid, signal.SIGTERM)
                time.sleep(0.01)
            break
        time.sleep(0.02)
    process.wait(timeout=120)
    return process


def test_sigterm_checkpoints_mid_epoch_and_resume_ends_as_an_uninterrupted_run(config, reference, tmp_path):
    work = tmp_path / "preempted"
    process = signal_mid_epoch(config, work, signals=1)
    stderr = process.stderr.read()
    assert process.returncode == REQUEUE_EXIT, stderr
    assert "stopped by SIGTERM at stage 'supervised' epoch 2 iteration" in stderr
    progress = checkpoint.load(work / "checkpoints" / "last.pt")["progress"]
    assert progress["stage"] == "supervised" and progress["epoch"] == 1
    assert 0 < progress["iteration"] < progress["iters_per_epoch"], "a mid-epoch checkpoint"
    # the same checkpoint as 2 processes would have written it: a 1-process resume is refused
    other = tmp_path / "two_processes"
    shutil.copytree(work, other)
    saved = checkpoint.load(other / "checkpoints" / "last.pt")
    saved["progress"]["world_size"] = 2
    checkpoint.save_atomic(saved, other / "checkpoints" / "last.pt")
    with pytest.raises(ConfigError, match="was written mid-stage by 2 processes, this run has 1"):
        run_here(config, other, resume=True)
    run_cli(
        "vidssl-run",
        str(config),
        "--work-dir",
        str(work),
        "--resume",
        *STAGES,
        "--cfg-options",
        *OPTIONS,
        env=same_threads(),
        check=True,
    )
    assert_same_run(reference, work)
    # the metrics log goes on where the checkpoint was: no iteration twice, none missing
    assert records(work) == records(reference)
    assert records(work, "epoch") == records(reference, "epoch")
    assert records(work, "stage") == records(reference, "stage")
    assert scalars(work, "supervised/iter/loss") == scalars(reference, "supervised/iter/loss"), (
        "TensorBoard's curve has each step once, the steps after the checkpoint purged"
    )


def test_a_second_signal_exits_at_once_and_corrupts_nothing(config, reference, tmp_path):
    work = tmp_path / "twice"
    process = signal_mid_epoch(config, work, signals=2)
    stderr = process.stderr.read()
    assert process.returncode in (128 + signal.SIGTERM, REQUEUE_EXIT), stderr
    for saved in (work / "checkpoints").glob("*.pt"):
        checkpoint.load(saved)  # every file there is whole
    run_here(config, work, resume=True)
    assert_same_run(reference, work)


class CheckpointPositions:
    """Records where the loop stood at every checkpoint."""

    def __init__(self) -> None:
        self.positions: list[tuple] = []

    @hookimpl
    def vidssl_checkpoint_save(self, checkpoint):
        progress = checkpoint.get("progress")
        if progress:
            self.positions.append((progress["stage"], progress["epoch"], progress["iteration"]))


def test_interval_minutes_checkpoints_mid_epoch(config, tmp_path):
    cfg = load_config(
        config, ["stages.1.epochs=1", "checkpoint.interval_minutes=1e-6", "log.progress_bar=False"]
    )
    recorder = CheckpointPositions()
    Runner(cfg, tmp_path / "run", only=["supervised"], hooks=[recorder]).run()
    assert [p[2] for p in recorder.positions] == [1, 2, 3, 4, 5, 6, 7, 8, 9, 0], (
        "a checkpoint after every step (the clock is overdue each time), the epoch's last"
    )


def test_a_lock_left_by_an_earlier_attempt_of_the_job_is_taken_over(tmp_path, monkeypatch, capsys):
    lock = tmp_path / LOCK_NAME
    monkeypatch.setenv("SLURM_JOB_ID", "4242")
    lock.write_text(
        json.dumps(
            {"host": "node-017", "pid": 12345, "started": "2026-12-01T03:00:00", "job": "SLURM_JOB_ID=4242"}
        )
    )
    taker = WorkDirLock(tmp_path)
    taker.acquire()
    assert (
        "taking over the work dir lock of an earlier attempt of job SLURM_JOB_ID=4242 "
        "(pid 12345 on node-017" in capsys.readouterr().err
    )
    assert json.loads(lock.read_text())["host"] == socket.gethostname()
    taker.release()
    lock.write_text(
        json.dumps(
            {"host": "node-017", "pid": 12345, "started": "2026-12-01T03:00:00", "job": "SLURM_JOB_ID=999"}
        )
    )
    with pytest.raises(
        ConfigError, match="in use by the run of pid 12345 on node-017 .*job SLURM_JOB_ID=999"
    ):
        WorkDirLock(tmp_path).acquire()


def test_stop_signals_and_interval_minutes_are_checked_config_keys(config):
    from vidssl import get_plugins

    cfg = load_config(config, ["stop_signals=[SIGTERM,SIGKILL]"])
    with pytest.raises(ConfigError, match="stop_signals"):
        validate_config(cfg, get_plugins().registry)


KILLER = """
import os
import shutil
import signal

from vidssl import hookimpl


class KillOnce:
    '''SIGKILLs the rank-1 worker in the first attempt of a torchrun group at one step.'''

    def __init__(self, epoch: int = 1, iteration: int = 2) -> None:
        self.at = (epoch, iteration)

    @hookimpl
    def vidssl_iteration_end(self, stage, epoch, iteration):
        first = os.environ.get("TORCHELASTIC_RESTART_COUNT") == "0"
        if first and os.environ.get("RANK") == "1" and stage.name == "supervised" and \\
                (epoch, iteration) == self.at:
            os.kill(os.getpid(), signal.SIGKILL)


@hookimpl
def vidssl_register_hooks(register):
    register("kill_once", KillOnce)
"""


def two_agents(config: Path, work: Path, env: dict) -> list[subprocess.Popen]:
    """Two torchrun agents ("nodes") of one process each on loopback, c10d rendezvous, one
    restart allowed; both run ``vidssl-run config`` into ``work``."""
    port = free_port()
    command = [
        str(BIN / "python"),
        "-m",
        "torch.distributed.run",
        "--nnodes",
        "2",
        "--nproc-per-node",
        "1",
        "--rdzv-backend",
        "c10d",
        "--rdzv-endpoint",
        f"127.0.0.1:{port}",
        "--rdzv-id",
        "elastic-test",
        "--rdzv-conf",
        "read_timeout=300",  # the agents' store reads: 60 s by default, too short on a loaded CI machine
        "--max-restarts",
        "1",
        "--monitor-interval",
        "0.5",
        str(BIN / "vidssl-run"),
        str(config),
        "--work-dir",
        str(work),
        *STAGES,
        "--cfg-options",
        *OPTIONS,
        "checkpoint.interval_iters=2",
    ]
    return [
        subprocess.Popen(
            command,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, **env, "OMP_NUM_THREADS": "1"},
        )
        for _ in range(2)
    ]


def test_torchrun_restarts_a_killed_worker_group_which_resumes_by_itself(config, tmp_path):
    from conftest import make_distribution

    env = make_distribution(tmp_path, "killer-plugin", "0.1", "killer_plugin", KILLER)
    killing = tmp_path / "killing.py"
    killing.write_text(config.read_text() + "custom_hooks = [dict(type='kill_once')]\n")
    reference, restarted = tmp_path / "reference", tmp_path / "restarted"
    for work, run_config in ((reference, config), (restarted, killing)):
        agents = two_agents(run_config, work, env)
        errors = [agent.communicate(timeout=300)[1] for agent in agents]
        assert [agent.returncode for agent in agents] == [0, 0], errors
    assert any(
        "was written by an earlier attempt of job TORCHELASTIC_RUN_ID=elastic-test: resuming from it" in e
        for e in errors
    ), errors
    assert_same_run(reference, restarted)
    assert records(restarted) == records(reference)
