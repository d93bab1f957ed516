"""Keeping a work dir to one run at a time and its results to the config that made them.

* :class:`WorkDirLock`: ``<work_dir>/.vidssl-lock.json`` records host, pid, start time and the
  scheduler's job (:func:`job_identity`) of the run that holds the work dir; a second run is
  refused naming the holder. A lock is stale, and the next run takes it over saying so, where its
  host is this one and its process is gone, or where it is an earlier attempt of this run's job
  on another host (a requeued job, an elastic restart whose rank 0 moved).
* :func:`check_fresh_run`: a fresh run into a work dir that holds a run is refused unless
  ``--overwrite`` (which clears the old run's files); ``--resume`` and ``--stages`` go on as
  designed.
* :func:`check_resume`: ``--resume`` compares the config with the one the run was started with
  (``config.json``): changes to finished stages, the backbone, the seed or a dataset are refused
  naming the keys; ``epochs`` of an unfinished stage, ``log`` and ``num_workers`` are allowed and
  printed; a key vidssl added after the run started reads as the behaviour the run had then.
"""

from __future__ import annotations

import datetime
import json
import os
import shutil
import socket
import sys
from pathlib import Path
from typing import Any

from vidssl._common.errors import ConfigError
from vidssl._common.files import write_json
from vidssl._config.loading import KEYS_ADDED_LATER

LOCK_NAME = ".vidssl-lock.json"
#: what a run writes into its work dir (``--overwrite`` removes these)
RUN_FILES = (
    "checkpoints",
    "results.json",
    "protocols.json",
    "metrics.jsonl",
    "tb",
    "config.py",
    "config.json",
    "env.json",
    "unusable_videos",
)
ALLOWED_ON_RESUME = ("epochs", "num_workers")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


#: environment variables naming the scheduler's job, in order; one attempt of a job after another
#: (a requeue, an elastic restart) keeps it
JOB_VARIABLES = ("SLURM_JOB_ID", "TORCHELASTIC_RUN_ID", "VIDSSL_JOB_ID")


def job_identity() -> str | None:
    """``NAME=value`` of the first job variable set (torchrun's default run id ``none`` names no
    job), or ``None`` outside a scheduler."""
    for name in JOB_VARIABLES:
        value = os.environ.get(name)
        if value and value != "none":
            return f"{name}={value}"
    return None


class WorkDirLock:
    """The lock of one work dir, taken by :meth:`acquire` and given back by :meth:`release`."""

    def __init__(self, work_dir: Path) -> None:
        self.path = Path(work_dir) / LOCK_NAME
        self.mine = {
            "host": socket.gethostname(),
            "pid": os.getpid(),
            "started": datetime.datetime.now().isoformat(timespec="seconds"),
            "job": job_identity(),
        }

    def acquire(self) -> None:
        """Take the lock, or raise :class:`ConfigError` naming the run that holds it."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        while True:
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
            except FileExistsError:
                holder = self._holder()
                if holder is not None and not self._stale(holder):
                    job = f", job {holder['job']}" if holder.get("job") else ""
                    raise ConfigError(
                        f"work dir {self.path.parent} is in use by the run of pid "
                        f"{holder.get('pid')} on {holder.get('host')} (started "
                        f"{holder.get('started')}{job}); wait for it to end or use another "
                        f"--work-dir"
                    ) from None
                self.path.unlink(missing_ok=True)  # stale: its run is gone; take it over
                continue
            with os.fdopen(fd, "w") as f:
                json.dump(self.mine, f)
            return

    def _stale(self, holder: dict[str, Any]) -> bool:
        """Whether the run that left ``holder`` is gone: on this host, its process is; on
        another, it is an earlier attempt of this job (saying so)."""
        if holder.get("host") == self.mine["host"]:
            return not _alive(int(holder.get("pid", -1)))
        if self.mine["job"] is not None and holder.get("job") == self.mine["job"]:
            print(
                f"vidssl: taking over the work dir lock of an earlier attempt of job "
                f"{self.mine['job']} (pid {holder.get('pid')} on {holder.get('host')}, started "
                f"{holder.get('started')})",
                file=sys.stderr,
            )
            return True
        return False

    def _holder(self) -> dict[str, Any] | None:
        try:
            return json.loads(self.path.read_text())
        except (OSError, json.JSONDecodeError):
            return None  # half-written by a run that died: stale

    def release(self) -> None:
        if self._holder() == self.mine:
            self.path.unlink(missing_ok=True)


def check_fresh_run(work_dir: Path, overwrite: bool) -> None:
    """Refuse to start a fresh run where one already is, unless ``overwrite`` (then clear it)."""
    existing = [name for name in ("results.json", "checkpoints/last.pt") if (work_dir / name).exists()]
    if not existing:
        return
    if not overwrite:
        raise ConfigError(
            f"work dir {work_dir} already holds a run ({', '.join(existing)}): "
            f"--resume continues it, --overwrite replaces it, --work-dir DIR starts "
            f"elsewhere"
        )
    for name in RUN_FILES:
        path = work_dir / name
        if path.is_dir():
            shutil.rmtree(path)
        else:
            path.unlink(missing_ok=True)


def _differences(old: Any, new: Any, path: str) -> list[str]:
    if isinstance(old, dict) and isinstance(new, dict):
        return [
            d
            for key in sorted(set(old) | set(new), key=str)
            for d in _differences(old.get(key), new.get(key), f"{path}.{key}" if path else key)
        ]
    return [] if old == new else [path]


def check_resume(
    work_dir: Path, cfg: dict[str, Any], stages: list[dict[str, Any]], finished: set[str]
) -> dict[str, Any]:
    """Compare ``cfg`` with the config the run in ``work_dir`` was started with. A key added to
    vidssl after that run started (:data:`vidssl._config.loading.KEYS_ADDED_LATER`) reads as the
    behaviour the run had then; returns those keys (``key`` or ``stages[i].key``) → that value,
    which the resumed run adopts (:func:`adopt`)."""
    saved_file = work_dir / "config.json"
    if not saved_file.is_file():
        return {}
    saved = json.loads(saved_file.read_text())
    old_stages = {s["name"]: s for s in saved.pop("_stages", [])}
    adopted = {key: value for key, value in KEYS_ADDED_LATER["run"].items() if key not in saved}
    saved |= adopted
    refused, allowed = [], []
    for key in ("backbone", "seed", "data_root"):
        if saved.get(key) != _plain(cfg.get(key)):
            refused.append(key)
    allowed += [d for d in _differences(saved.get("log"), _plain(cfg.get("log")), "log")]
    for i, stage in enumerate(_plain(stages)):
        old = old_stages.get(stage["name"])
        if old is None:
            continue
        for key, value in KEYS_ADDED_LATER["stage"].items():
            if key not in old:
                old[key] = stage[key] = adopted[f"stages[{i}].{key}"] = value
        for diff in _differences(old, stage, f"stages[{i}]"):
            key = diff.split(".")[1]
            unfinished = stage["name"] not in finished
            (allowed if unfinished and key in ALLOWED_ON_RESUME else refused).append(diff)
    if refused:
        raise ConfigError(
            f"--resume: the config differs from the one this run was started with "
            f"({saved_file}) in {', '.join(refused)}; a run resumes only with "
            f"the same finished stages, backbone, seed and datasets (start a new "
            f"run with --work-dir, or --overwrite)"
        )
    for diff in allowed:
        print(f"vidssl: --resume with a changed {diff} (allowed)", file=sys.stderr)
    if adopted:
        print(
            f"vidssl: --resume: this run started before vidssl had "
            f"{', '.join(f'{k} (continues as {v!r})' for k, v in adopted.items())}",
            file=sys.stderr,
        )
    return adopted


def adopt(cfg: dict[str, Any], stages: list[dict[str, Any]], adopted: dict[str, Any]) -> None:
    """Set what :func:`check_resume` returned in the run's config and stage configs."""
    for path, value in adopted.items():
        if path.startswith("stages["):
            index, key = path[len("stages[") :].split("].")
            stages[int(index)][key] = value
        else:
            cfg[path] = value


def _plain(value: Any) -> Any:
    """``value`` as JSON would give it back (tuples become lists)."""
    return json.loads(json.dumps(value, default=str))


def save_config(work_dir: Path, cfg: dict[str, Any], stages: list[dict[str, Any]]) -> None:
    """``config.json``: the run's config and its stages (defaults filled in), for ``--resume``."""
    body = {k: v for k, v in cfg.items() if k not in ("_source", "stages")}
    write_json(work_dir / "config.json", {**_plain(body), "_stages": _plain(stages)}, indent=1)
