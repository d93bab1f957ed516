"""Loading and validating run configs.

Configs are Python files read with mmengine's ``Config`` (``_base_`` inheritance, ``--cfg-options
a.b=c`` overrides). A config is given by its path, or by the name an installed package registers
it under (``vidssl-run vtdl_r3d_synthetic``); a ``_base_`` entry may be such a name too.
Top-level names starting with ``_`` are local helper variables and are ignored (an override
naming one is refused: helpers are substituted when the file is read). Every string
holding ``{data_root}`` gets the run's data root, resolved after the overrides: ``--cfg-options
data_root=...`` > the config's ``data_root`` > ``$VIDSSL_DATA_ROOT`` > ``data``.
After merging, the whole config is checked before anything runs: core keys against
:data:`CORE_SCHEMA`, every component config against that component's schema, optimizers and
schedulers against the torch signatures. Errors name the dotted key path, the file and line where
the key is written, and the nearest valid key.
"""

from __future__ import annotations

import ast
import copy
import os
import re
import tempfile
from pathlib import Path
from typing import Any, NamedTuple

from vidssl._common.checkpoint import is_weights_source
from vidssl._common.errors import ConfigError
from vidssl._common.schema import validate
from vidssl._config.location import locate, split_key_path
from vidssl._config.optim import validate_optimizer, validate_scheduler
from vidssl._config.values import parse_value
from vidssl._plugin_system.manager import get_plugins
from vidssl._plugin_system.registry import Registry


def _component(kind: str) -> dict:
    return {"x-component": kind, "type": "object"}


#: keys every stage may set; ``stage_defaults`` supplies values shared by all stages
STAGE_PROPERTIES: dict[str, dict] = {
    "name": {"type": "string", "pattern": r"^[A-Za-z0-9_.-]+$"},
    "type": {"type": "string"},  # a registered stage kind (checked by _check_stage)
    "method": _component("method"),
    "dataset": _component("dataset"),
    "val_dataset": _component("dataset"),
    "evaluator": _component("evaluator"),
    "extractor": _component("extractor"),
    "optimizer": _component("optimizer"),
    "scheduler": {"anyOf": [_component("scheduler"), {"type": "null"}]},
    "epochs": {"type": "integer", "minimum": 0},
    "batch_size": {"type": "integer", "minimum": 1},
    "num_workers": {"type": "integer", "minimum": 0},
    "data_timeout_s": {"type": "number", "minimum": 0},
    "init_from": {"type": ["string", "null"]},
    "init_format": {"type": "string"},
    "init_method": {"type": "boolean"},
    "val_interval": {"type": "integer", "minimum": 0},
    "clip_grad_norm": {"type": ["number", "null"], "exclusiveMinimum": 0},
    "nan_policy": {"enum": ["stop", "skip_step"]},
    "max_iters": {"type": ["integer", "null"], "minimum": 1},
    "max_videos": {"type": ["integer", "null"], "minimum": 1},
    "rows_from": {"type": ["string", "null"]},
    "precision": {"enum": ["auto", "fp32", "bf16", "fp16"]},
    "memory_format": {"enum": ["channels_last_3d", "contiguous"]},
    "conv3d": {"enum": ["lean", "torch"]},
    "compile": {"type": "boolean"},
    "accumulate": {"type": "integer", "minimum": 1},
    "sync_bn": {"type": "boolean"},
    "global_batch": {"type": ["integer", "null"], "minimum": 1},
}

STAGE_SCHEMA = {
    "type": "object",
    "properties": STAGE_PROPERTIES,
    "required": ["name", "type"],
    "additionalProperties": False,
}

CORE_SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "required": ["stages"],
    "properties": {
        "seed": {"type": "integer"},
        "deterministic": {"type": "boolean"},
        "device": {"enum": ["auto", "cpu", "cuda"]},
        "keep_freed_memory": {"type": "boolean"},
        "stop_signals": {
            "type": "array",
            "items": {"enum": ["SIGTERM", "SIGUSR1", "SIGUSR2", "SIGINT", "SIGHUP"]},
        },
        "work_dir": {"type": ["string", "null"]},
        "data_root": {"type": "string"},
        "backbone": _component("backbone"),
        # a protocol config (configs/protocols, vidssl-eval) names itself, its default dataset
        # and the datasets it is valid on, with per-dataset key overrides
        "protocol": {
            "type": "object",
            "additionalProperties": False,
            "required": ["name"],
            "properties": {
                "name": {"type": "string"},
                "dataset": {"type": "string"},
                "datasets": {"type": "array", "items": {"type": "string"}},
                "overrides": {"type": "object"},
            },
        },
        "stage_defaults": {
            "type": "object",
            "properties": {k: v for k, v in STAGE_PROPERTIES.items() if k not in ("name", "type")},
            "additionalProperties": False,
        },
        "stages": {"type": "array", "minItems": 1, "items": {"type": "object"}},
        "custom_hooks": {"type": "array", "items": _component("hook")},
        "checkpoint": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "interval_iters": {"type": "integer", "minimum": 0},
                "interval_minutes": {"type": "number", "minimum": 0},
                "best_metric": {"type": ["string", "null"]},
            },
        },
        "log": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "interval": {"type": "integer", "minimum": 1},
                "interval_seconds": {"type": "number", "minimum": 0},
                "progress_bar": {"type": "boolean"},
                "tensorboard": {"type": "boolean"},
            },
        },
        "dist": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "backend": {"type": ["string", "null"]},
                "broadcast_buffers": {"type": "boolean"},
                "find_unused_parameters": {"type": "boolean"},
            },
        },
    },
}

DEFAULTS: dict[str, Any] = {
    "seed": 0,
    "deterministic": False,
    "device": "auto",
    "keep_freed_memory": True,
    "stop_signals": ["SIGTERM", "SIGUSR1"],
    "work_dir": None,
    "custom_hooks": [],
    "stage_defaults": {},
    "checkpoint": {"interval_iters": 0, "interval_minutes": 0, "best_metric": "top1"},
    "log": {"interval": 10, "interval_seconds": 30, "progress_bar": True, "tensorboard": True},
    "dist": {"backend": None, "broadcast_buffers": True, "find_unused_parameters": False},
}
STAGE_DEFAULTS: dict[str, Any] = {
    "epochs": 1,
    "batch_size": 8,
    "num_workers": 0,
    "data_timeout_s": 300,
    "init_from": None,
    "init_format": "vidssl",
    "init_method": False,
    "val_interval": 0,
    "scheduler": None,
    "clip_grad_norm": None,
    "nan_policy": "stop",
    "max_iters": None,
    "max_videos": None,
    "rows_from": None,
    "precision": "auto",
    "memory_format": "channels_last_3d",
    "conv3d": "lean",
    "compile": False,
    "accumulate": 1,
    "sync_bn": False,
    "global_batch": None,
}

#: keys added after runs could already exist, with the behaviour a run started before each had
#: (which is not always today's default): a resumed run whose config.json lacks one continues
#: with that value (:func:`vidssl._engine.work_dir.check_resume`). Add every new run or stage key
#: that changes what a run computes here (``stop_signals`` and ``checkpoint`` do not).
KEYS_ADDED_LATER: dict[str, dict[str, Any]] = {
    "run": {"keep_freed_memory": False},
    "stage": {
        "init_method": False,
        "init_format": "vidssl",
        "nan_policy": "stop",
        "max_iters": None,
        "max_videos": None,
        "rows_from": None,
        "precision": "fp32",
        "memory_format": "contiguous",
        "compile": False,
        "accumulate": 1,
        "sync_bn": False,
        "global_batch": None,
        "conv3d": "torch",
    },
}


def load_config(path: str | Path, options: list[str] | None = None) -> dict[str, Any]:
    """Read ``path`` (a file, or an installed config's name; with ``_base_`` files) and apply
    ``key=value`` overrides.

    Returns a plain dict with defaults filled in; it is not validated yet (see
    :func:`validate_config`). The source file is kept under ``_source`` for error messages.
    """
    path = config_path(path)
    cfg = _config_file(path)
    overrides = {}
    for option in options or []:
        if "=" not in option:
            raise ConfigError(f"--cfg-options expects KEY=VALUE, got '{option}'")
        key, value = option.split("=", 1)
        if key.startswith("_"):
            raise ConfigError(
                f"--cfg-options {option}: '{key.split('.')[0]}' is a helper of the config file "
                f"(a name starting with '_'), substituted when the file is read, so overriding it "
                f"would change nothing; set the key that uses it instead (e.g. "
                f"data_root=/datasets, or stages.0.dataset.root=...)"
            )
        try:
            overrides[key] = parse_value(value)
        except (ValueError, RecursionError) as exc:
            reason = str(exc) or "bad syntax"
            raise ConfigError(
                f"--cfg-options {option}: the value cannot be read: {reason}; it "
                f"takes numbers, strings, lists [a,b] and tuples (a,b); write dicts "
                f"in the config file"
            ) from None
        if _holds_dict_text(overrides[key]):
            raise ConfigError(
                f"--cfg-options {option}: dicts cannot be written on the command "
                f"line; write them in the config file, or set their keys one at a "
                f"time where the config already has the dict (e.g. "
                f"stages.0.optimizer.lr=0.1)"
            )
    try:
        cfg.merge_from_dict(overrides)
    except Exception as exc:
        raise ConfigError(f"--cfg-options {' '.join(options or [])}: {exc}") from exc
    plain = {k: v for k, v in cfg.to_dict().items() if not k.startswith("_")}
    if plain.get("data_root"):
        _check_data_root_used(plain, path, "data_root" in overrides)
    plain["data_root"] = str(plain.get("data_root") or os.environ.get(DATA_ROOT_ENV) or "data")
    plain = _substitute(plain, DATA_ROOT_TOKEN, plain["data_root"])
    merged = _with_defaults(plain)
    merged["_source"] = {
        "file": str(path),
        "overrides": sorted(re.sub(r"\.(\d+)(?=\.|$)", r"[\1]", k) for k in overrides),
    }
    return merged


def read_config(path: str | Path) -> dict[str, Any]:
    """A config file's keys as plain data (helpers ``_x`` left out), before defaults: a piece of
    a config (a protocol, a dataset table) rather than a run's."""
    cfg = _config_file(Path(path)).to_dict()
    return {k: v for k, v in cfg.items() if not k.startswith("_")}


def config_path(config: str | Path) -> Path:
    """The file of ``config``: a path as given, or the file an installed package registered
    under that name (a name has no ``.py`` and no folder)."""
    path = Path(config)
    if path.suffix == ".py" or path.exists() or len(path.parts) > 1:
        return path
    return installed_config(str(config))


def installed_config(name: str) -> Path:
    """The file of the config an installed package registered as ``name``."""
    return Path(get_plugins().registry.get("config", name).builder)


def _config_file(path: Path) -> Any:
    """mmengine's ``Config`` of ``path`` (``_base_`` inheritance applied)."""
    from mmengine.config import Config  # noqa: PLC0415 -- lazy: start-up

    if not path.is_file():
        raise ConfigError(f"config file not found: {path}")
    with tempfile.TemporaryDirectory(prefix="vidssl-config-") as scratch:
        readable = _with_named_bases(path, Path(scratch))
        try:
            return Config.fromfile(str(readable))
        except Exception as exc:
            raise ConfigError(f"cannot read config {path}: {type(exc).__name__}: {exc}") from exc


def _with_named_bases(path: Path, scratch: Path) -> Path:
    """``path``, or where its ``_base_`` names installed configs, a copy in ``scratch`` whose
    ``_base_`` lists every file by absolute path (mmengine reads only paths)."""
    source = path.read_bytes()  # ast's column offsets count bytes
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return path  # mmengine reports it with its line
    for node in tree.body:
        if not (
            isinstance(node, ast.Assign)
            and any(isinstance(t, ast.Name) and t.id == "_base_" for t in node.targets)
        ):
            continue
        try:
            listed = ast.literal_eval(node.value)
        except ValueError:
            return path
        listed = [listed] if isinstance(listed, str) else list(listed)
        if all(Path(base).suffix == ".py" for base in listed):
            return path
        try:
            files = [
                str(path.parent / base if Path(base).suffix == ".py" else installed_config(base))
                for base in listed
            ]
        except ConfigError as exc:
            raise ConfigError(f"{path}:{node.lineno}: _base_: {exc}") from None
        lines = source.splitlines(keepends=True)
        assert node.value.end_lineno is not None and node.value.end_col_offset is not None
        start = sum(map(len, lines[: node.value.lineno - 1])) + node.value.col_offset
        end = sum(map(len, lines[: node.value.end_lineno - 1])) + node.value.end_col_offset
        copy_path = scratch / path.name
        copy_path.write_bytes(source[:start] + repr(files).encode() + source[end:])
        return copy_path
    return path


def _holds_dict_text(value: Any) -> bool:
    """Whether an override value parsed from the command line holds ``dict(...)`` or ``{...}``
    text (which mmengine reads as a string)."""
    if isinstance(value, str):
        return re.match(r"\s*(dict\(|\{)", value) is not None
    return isinstance(value, (list, tuple)) and any(_holds_dict_text(v) for v in value)


DATA_ROOT_TOKEN = "{data_root}"
DATA_ROOT_ENV = "VIDSSL_DATA_ROOT"


def _check_data_root_used(plain: dict[str, Any], path: Path, from_options: bool) -> None:
    """A ``data_root`` that no path of the config uses would change nothing (and a dataset with
    its own default root would write where the user did not ask): refuse it."""
    marker = "\0"
    rest = {k: v for k, v in plain.items() if k != "data_root"}
    if _substitute(rest, DATA_ROOT_TOKEN, marker) == rest:
        where = "--cfg-options" if from_options else str(path)
        raise ConfigError(
            f"data_root={plain['data_root']} ({where}): no path of {path} uses "
            f"{DATA_ROOT_TOKEN}, so it would change nothing (its datasets name "
            f"their roots themselves, or use their own default); set the dataset's "
            f"root instead (e.g. stages.0.dataset.root=...), or write "
            f"'{DATA_ROOT_TOKEN}/...' in the config"
        )


def _substitute(value: Any, token: str, replacement: str) -> Any:
    """``value`` with ``token`` replaced in every string it holds (dicts, lists, tuples)."""
    if isinstance(value, str):
        return value.replace(token, replacement)
    if isinstance(value, dict):
        return {k: _substitute(v, token, replacement) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_substitute(v, token, replacement) for v in value)
    return value


def _with_defaults(cfg: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(DEFAULTS)
    for key, value in cfg.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = {**out[key], **value}
        else:
            out[key] = value
    return out


def stage_configs(cfg: dict[str, Any]) -> list[dict[str, Any]]:
    """Each stage with ``stage_defaults`` and the built-in defaults filled in."""
    return [{**STAGE_DEFAULTS, **cfg.get("stage_defaults", {}), **stage} for stage in cfg["stages"]]


class DatasetSlot(NamedTuple):
    """Where one of a stage's dataset configs is: ``holder[key]``; ``role`` names it on the
    stage's protocol card."""

    holder: dict[str, Any]
    key: str
    role: str


def dataset_slots(stage: dict[str, Any]) -> list[DatasetSlot]:
    """A stage's dataset configs that are set: ``dataset`` (role ``train``), ``val_dataset``
    (``test``) and every dataset argument of its method, evaluator and extractor (a property
    with ``x-component: dataset`` in the component's schema; role: the property's ``x-role``,
    else its name)."""
    slots = [
        DatasetSlot(stage, key, role)
        for key, role in (("dataset", "train"), ("val_dataset", "test"))
        if isinstance(stage.get(key), dict)
    ]
    registry = get_plugins().registry
    for kind in ("method", "evaluator", "extractor"):
        component = stage.get(kind)
        if not isinstance(component, dict) or component.get("type") not in registry.names(kind):
            continue
        properties = registry.get(kind, component["type"]).schema.get("properties", {})
        for key, schema in properties.items():
            if schema.get("x-component") == "dataset" and isinstance(component.get(key), dict):
                slots.append(DatasetSlot(component, key, schema.get("x-role", key)))
    return slots


def validate_config(cfg: dict[str, Any], registry: Registry) -> None:
    """Validate the merged config, components included; raise :class:`ConfigError` with the key
    path, where it is written, and what was expected."""
    source = cfg.get("_source", {})
    body = {k: v for k, v in cfg.items() if k != "_source"}

    def resolve(kind: str, value: Any, path: list) -> None:
        if kind == "optimizer":
            validate_optimizer(value, path)
        elif kind == "scheduler":
            validate_scheduler(value, path)
        else:
            registry.validate(kind, value, path)

    try:
        validate(body, CORE_SCHEMA, resolve_component=resolve)
        names: set[str] = set()
        for i, stage in enumerate(body["stages"]):
            validate(stage, STAGE_SCHEMA, ["stages", i], resolve_component=resolve)
            if stage["name"] in names:
                raise ConfigError(f"stages[{i}].name: stage name '{stage['name']}' is used twice")
            names.add(stage["name"])
        for i, stage in enumerate(stage_configs(body)):
            _check_stage(stage, i, names, body, registry)
    except ConfigError as exc:
        raise ConfigError(_with_location(str(exc), source)) from None


def _check_stage(stage: dict, i: int, names: set[str], cfg: dict, registry: Registry) -> None:
    where = f"stages[{i}]"
    kind = registry.build("stage", {"type": stage["type"]}, ["stages", i])
    kind.check(stage, where, cfg)
    init = stage.get("init_from")
    if init and init not in names and not is_weights_source(init):
        raise ConfigError(
            f"{where}.init_from: '{init}' is neither a stage name nor a checkpoint "
            f"file (.pt/.pth/.safetensors) nor a model folder (vidssl-export) "
            f"(stages: {', '.join(sorted(names))})"
        )
    layout = stage.get("init_format", "vidssl")
    registry.get("weight_format", layout, ["stages", i, "init_format"])
    if layout != "vidssl" and (not init or init in names or stage.get("init_method")):
        raise ConfigError(
            f"{where}.init_format: '{layout}' reads a foreign checkpoint file "
            f"given as init_from (a stage's own checkpoint is in vidssl's layout, "
            f"and init_method needs one)"
        )


def _with_location(message: str, source: dict) -> str:
    """Append ``(file:line)`` where the offending key is written, if it can be found."""
    path = message.split(":", 1)[0]
    if any(path.startswith(o) or o.startswith(path) for o in source.get("overrides", [])):
        return f"{message} (set by --cfg-options)"
    if path and " " not in path and source.get("file"):
        found = locate(Path(source["file"]), split_key_path(path))
        if found:
            return f"{message} ({found[0]}:{found[1]})"
    return message
