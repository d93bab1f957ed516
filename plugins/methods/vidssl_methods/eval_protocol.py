"""Evaluation protocols: a protocol config, a dataset and a backbone made into one run's config.

A protocol is a runnable config under ``configs/protocols/`` (``linear``, ``knn``,
``finetune_seed000`` ...) that declares itself with a top-level ``protocol = dict(name=...,
dataset=DEFAULT, datasets=[VALID...], overrides={DATASET: {dotted.key: value}})``.
:func:`compose` turns it into the config of one evaluation:

1. every dataset of the protocol that holds all the keys of its default dataset's ``train`` (or
   ``test``) source in ``configs/protocols/_datasets.py`` gets the asked dataset's source instead,
   keeping its view (over which the dataset's own ``view`` keys, if it has any, are laid);
   ``num_classes`` equal to the default's follows, and ``split`` is set where the dataset has
   official splits;
2. the protocol's ``overrides`` for that dataset are applied (dotted keys, values replaced);
3. ``backbone`` becomes the evaluated one and its weights the first stage's ``init_from`` (with
   their ``init_format``), ``seed`` the asked seed; with ``residual`` every view reads residual
   frames (one more frame per clip, differenced).

The result is written as a plain config file (``eval_config.py``) that ``vidssl-run`` runs alike.
"""

from __future__ import annotations

import copy
import os
import pprint
from pathlib import Path
from typing import Any

from vidssl import ConfigError, dataset_slots, read_config

PROTOCOLS_ENV = "VIDSSL_PROTOCOLS"
DATASETS_FILE = "_datasets.py"


def protocol_dir() -> Path:
    """Where protocols are looked up by name: ``$VIDSSL_PROTOCOLS``, else ``configs/protocols``
    under the current directory, else the ones this package ships."""
    if os.environ.get(PROTOCOLS_ENV):
        return Path(os.environ[PROTOCOLS_ENV])
    here = Path.cwd() / "configs" / "protocols"
    if here.is_dir():
        return here
    return Path(__file__).parent / "configs" / "protocols"


def protocol_names(directory: Path | None = None) -> list[str]:
    directory = directory or protocol_dir()
    return sorted(p.stem for p in directory.glob("*.py") if not p.name.startswith("_"))


def protocol_file(name: str) -> Path:
    """The config of protocol ``name`` (or ``name`` itself when it is a ``.py`` path)."""
    if name.endswith(".py"):
        path = Path(name)
    else:
        path = protocol_dir() / f"{name}.py"
    if not path.is_file():
        raise ConfigError(
            f"--protocol: no protocol '{name}' ({path} does not exist; protocols in "
            f"{protocol_dir()}: {', '.join(protocol_names()) or 'none'})"
        )
    return path


def dataset_table(directory: Path) -> dict[str, dict[str, Any]]:
    """``_datasets.py`` of the protocols' folder: dataset name → sources, classes, splits."""
    return read_config(directory / DATASETS_FILE)


def _matches(cfg: Any, source: dict[str, Any]) -> bool:
    return isinstance(cfg, dict) and all(cfg.get(k) == v for k, v in source.items())


def _swap(
    cfg: dict[str, Any], old: dict[str, Any], new: dict[str, Any], split: int | None
) -> tuple[dict[str, Any], str | None]:
    """``cfg`` with ``old``'s source replaced by ``new``'s, and which role (train/test) it was."""
    for role in ("train", "test"):
        if _matches(cfg, old[role]):
            out = {k: v for k, v in cfg.items() if k not in old[role]} | copy.deepcopy(new[role])
            if new.get("view"):
                out["view"] = {**(cfg.get("view") or {}), **new["view"]}
            if split is not None:
                out["split"] = split
            return out, role
    return cfg, None


def _replace_number(value: Any, key: str, old: int, new: int) -> Any:
    if isinstance(value, dict):
        return {
            k: new if k == key and v == old else _replace_number(v, key, old, new) for k, v in value.items()
        }
    if isinstance(value, list):
        return [_replace_number(v, key, old, new) for v in value]
    return value


def set_key(cfg: dict[str, Any], dotted: str, value: Any) -> None:
    """Set ``cfg[a][b][0]...`` for ``dotted`` = ``"a.b.0..."`` (list indices as numbers)."""
    *path, last = dotted.split(".")
    node: Any = cfg
    for part in path:
        node = node[int(part)] if isinstance(node, list) else node.setdefault(part, {})
    if isinstance(node, list):
        node[int(last)] = value
    else:
        node[last] = value


def compose(
    protocol_path: Path,
    dataset: str,
    backbone: dict[str, Any],
    weights: tuple[str, str],
    seed: int = 0,
    split: int | None = None,
    residual: bool = False,
) -> dict[str, Any]:
    """The config of ``protocol_path`` on ``dataset`` (its ``split``) with ``backbone`` and its
    ``weights`` (checkpoint file, weight format), as described in this module's docstring."""
    cfg = read_config(protocol_path)
    protocol = cfg.get("protocol")
    if not isinstance(protocol, dict) or "name" not in protocol or "dataset" not in protocol:
        raise ConfigError(
            f"{protocol_path} is not a protocol config: it needs a top-level "
            f"protocol = dict(name=..., dataset=DEFAULT, datasets=[...])"
        )
    valid = protocol.get("datasets", [protocol["dataset"]])
    if dataset not in valid:
        raise ConfigError(
            f"--dataset: protocol '{protocol['name']}' is defined on {', '.join(valid)}, not on '{dataset}'"
        )
    table = dataset_table(protocol_path.parent)
    old, new = table[protocol["dataset"]], table[dataset]
    if split is not None and split not in new.get("splits", []):
        raise ConfigError(
            f"--splits: {dataset} has "
            f"{'splits ' + ', '.join(map(str, new['splits'])) if new.get('splits') else 'no official splits'}"
            f", not {split}"
        )
    roles = set()
    for stage in cfg["stages"]:
        for holder, key, _ in dataset_slots(stage):
            holder[key], role = _swap(holder[key], old, new, split)
            roles.add(role)
    if not {"train", "test"} & roles:
        raise ConfigError(
            f"{protocol_path}: none of its datasets is its default "
            f"'{protocol['dataset']}' as {protocol_path.parent / DATASETS_FILE} "
            f"gives it, so it cannot be moved to another dataset"
        )
    cfg["stages"] = _replace_number(cfg["stages"], "num_classes", old["num_classes"], new["num_classes"])
    for key, value in (protocol.get("overrides") or {}).get(dataset, {}).items():
        set_key(cfg, key, copy.deepcopy(value))
    if residual:
        for stage in cfg["stages"]:
            for holder, key, _ in dataset_slots(stage):
                view = holder[key].setdefault("view", {})
                view["clip_len"] = int(view.get("clip_len", 16)) + 1
                view["residual"] = True
    cfg["protocol"] = {**protocol, "dataset": dataset}
    cfg["backbone"] = backbone
    first = cfg["stages"][0]
    if first.get("init_from"):
        raise ConfigError(
            f"{protocol_path}: its first stage has init_from "
            f"'{first['init_from']}'; the evaluated weights are loaded there"
        )
    first["init_from"], first["init_format"] = weights
    cfg["seed"] = seed
    return cfg


def write_config(cfg: dict[str, Any], path: Path, header: str) -> None:
    """``cfg`` as a plain config file (``key = value`` lines) that ``vidssl-run`` reads."""
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [f"# {line}" for line in header.splitlines()]
    lines += [f"{k} = {pprint.pformat(v, width=100, sort_dicts=False)}" for k, v in cfg.items()]
    path.write_text("\n".join(lines) + "\n")
