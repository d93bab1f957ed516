"""Shared test helpers: a tiny real config on a tiny synthetic_motion, and CLI runners."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

if "PYTEST_XDIST_WORKER" in os.environ:
    # pytest -n N: N test processes, and each command a test starts, share the cores; one
    # compute thread each instead of one per core (two runs side by side: 48 s instead of 63 s)
    os.environ.setdefault("OMP_NUM_THREADS", "1")

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
BIN = Path(sys.executable).parent

#: a complete, real run that takes seconds: 10 classes × 4 training videos of 12 frames, 16 px
TINY_CONFIG = """
_data = dict(root={root!r}, size=16, frames=12, train_per_class=4, test_per_class=2)
_view = dict(clip_len=8, size=16, crop='center')
_train = dict(type='synthetic_motion', split='train', view=_view, **_data)
_test = dict(type='synthetic_motion', split='test', view=_view, **_data)
seed = 0
backbone = dict(type='r3d', depth=10, width=0.125, stem_pool='1x3x3')
log = dict(interval=1, tensorboard=False)
stage_defaults = dict(batch_size=4, num_workers=0, evaluator=dict(type='classification'))
stages = [
    dict(name='probe_random', type='probe', dataset=_train, val_dataset=_test,
         method=dict(type='linear_probe', num_classes=10),
         optimizer=dict(type='Adam', lr=1e-2), epochs=1),
    dict(name='supervised', type='train', dataset=_train, val_dataset=_test,
         method=dict(type='supervised', num_classes=10, dropout=0.5),
         optimizer=dict(type='SGD', lr=0.05, momentum=0.9, paramwise=dict(no_decay=['bn'])),
         scheduler=dict(type='MultiStepLR', milestones=[1]), epochs=2),
    dict(name='probe', type='probe', dataset=_train, val_dataset=_test,
         method=dict(type='linear_probe', num_classes=10),
         optimizer=dict(type='Adam', lr=1e-2), epochs=1),
]
"""


@pytest.fixture(scope="session")
def data_root(tmp_path_factory) -> Path:
    """Where the tiny synthetic_motion is generated (once per session)."""
    return tmp_path_factory.mktemp("data") / "synthetic_motion_tiny"


@pytest.fixture(scope="session")
def eval_data(tmp_path_factory) -> Path:
    """The data_root where the evaluation protocols' synthetic_motion is generated (once per
    session)."""
    return tmp_path_factory.mktemp("eval_data")


def small_synthetic(*datasets: str, train: int = 2, test: int = 2) -> list[str]:
    """``--cfg-options`` giving the synthetic_motion ``datasets`` (config paths such as
    ``stages.0.dataset``) ``train``/``test`` videos per class: one small copy for all of them."""
    return [
        f"{dataset}.{key}={count}"
        for dataset in datasets
        for key, count in (("train_per_class", train), ("test_per_class", test))
    ]


@pytest.fixture
def tiny_config(tmp_path, data_root) -> Path:
    path = tmp_path / "tiny.py"
    path.write_text(TINY_CONFIG.format(root=str(data_root)))
    return path


def run_cli(
    *args: str, env: dict | None = None, check: bool = False, timeout: float = 600, cwd: Path | None = None
) -> subprocess.CompletedProcess:
    """Run a vidssl command from this environment's bin directory (in ``cwd``, if given)."""
    command = [str(BIN / args[0]), *args[1:]]
    full_env = {**os.environ, **(env or {})}
    result = subprocess.run(command, capture_output=True, text=True, env=full_env, timeout=timeout, cwd=cwd)
    if check and result.returncode != 0:
        raise AssertionError(f"{' '.join(command)} failed ({result.returncode}):\n{result.stderr}")
    return result


def requires_shared(path: str) -> Path:
    """A file under ../shared, or skip the test saying what is missing."""
    full = SHARED / path
    if not full.exists():
        pytest.skip(f"needs ../shared/{path} (the shared fixtures folder beside the repo)")
    return full


def make_distribution(where: Path, name: str, version: str, module: str, code: str) -> dict:
    """Write a distribution ``name`` whose entry point loads ``module`` with ``code``; return the
    environment that puts it on the path."""
    (where / f"{module}.py").write_text(textwrap.dedent(code))
    info = where / f"{name.replace('-', '_')}-{version}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
    (info / "entry_points.txt").write_text(f"[vidssl.plugins]\n{name} = {module}\n")
    return {"PYTHONPATH": str(where)}


def built_once(tmp_path_factory, name: str, build: Callable[[Path], Any]) -> Path:
    """The directory ``name`` that ``build(path)`` fills once per test session, shared by the
    session's pytest-xdist workers (the first to take the lock builds it, the others wait)."""
    from filelock import FileLock

    base = tmp_path_factory.getbasetemp()
    if "PYTEST_XDIST_WORKER" in os.environ:
        base = base.parent  # the workers' base temps lie side by side in the session's
    path = base / name
    with FileLock(str(path) + ".lock"):
        if not (path / ".built").is_file():
            shutil.rmtree(path, ignore_errors=True)
            path.mkdir(parents=True)
            build(path)
            (path / ".built").touch()
    return path


@pytest.fixture(scope="session")
def real_data_root(tmp_path_factory) -> Path:
    """Tiny copies of UCF101, HMDB51, Kinetics-400 and Something-Something V1 in their official
    layouts (``vidssl-prepare fixtures all``), written once per test session."""
    return built_once(
        tmp_path_factory,
        "real_data",
        lambda root: run_cli("vidssl-prepare", "fixtures", "all", "--out", str(root), check=True),
    )


def pip_install(package: Path, target: Path) -> dict[str, str]:
    """Install ``package`` (a directory) into ``target`` only, not into this environment (tests
    run side by side); return the environment that puts it on the path of a command."""
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "-q",
            "install",
            "--no-build-isolation",
            "--no-deps",
            "--target",
            str(target),
            str(package),
        ],
        check=True,
        capture_output=True,
    )
    return {"PYTHONPATH": str(target)}


def _in_process_group(rank: int, port: int, body: Callable, args: tuple, out: dict) -> None:
    import torch.distributed as dist

    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    dist.init_process_group("gloo", rank=rank, world_size=2)
    try:
        out[rank] = body(rank, *args)
    finally:
        dist.destroy_process_group()


def free_port() -> int:
    """A TCP port on loopback that nothing listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def in_two_processes(body: Callable, *args: Any) -> list[Any]:
    """``body(rank, *args)`` run in each of two processes of a real gloo process group on
    loopback; what each returned (picklable), in rank order. ``body`` is a module-level
    function."""
    import torch.multiprocessing as mp

    port = free_port()
    with mp.Manager() as manager:
        out = manager.dict()
        mp.spawn(_in_process_group, args=(port, body, args, out), nprocs=2)
        return [out[rank] for rank in (0, 1)]
