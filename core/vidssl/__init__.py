"""vidssl: a plugin-based framework for self-supervised video representation learning.

This module is the API: everything a plugin, a plugin's own command or a user's script may use is
exported here, and only here. The subpackages (``vidssl._engine``, ``vidssl._config``, ...) are
private: they may change in any release. The module paths of earlier releases
(``vidssl.protocols``, ``vidssl.run_context``, ...) still import for one release, with a
``DeprecationWarning`` naming what to import instead (see :mod:`vidssl._deprecated`).

Components and hooks
    :func:`build`, :func:`components`, :func:`get_plugins`, :data:`hookimpl`, :class:`Method`,
    :class:`StageKind` (a plugin's own kind of stage), :class:`StopRun`.
Contracts a dataset or backbone meets (duck-typed, checked with :func:`check`)
    :class:`ClipDataset`, :class:`Backbone`, :class:`FeatureInfo`, :class:`WeightFormat`.
What hooks, evaluators and extractors are handed
    :class:`RunContext`, :class:`Stage`, :class:`EvaluationContext`, and the batch helpers
    :func:`per_video`, :func:`map_tensors`, :func:`to_device`.
Errors
    :class:`VidsslError` and its kinds :class:`ConfigError`, :class:`DataError`,
    :class:`DatasetNotFound`, :class:`RunError`, :class:`CheckpointError`, :class:`PluginError`.
Services
    :mod:`distributed` (rank, gathers, barriers; work in one process too), :mod:`checkpoint`
    (atomic save, ``weights_only`` load, backbone weights of a checkpoint), :func:`kmeans_labels`,
    :func:`schema_from_signature` and :func:`validate_arguments` (component argument schemas),
    :func:`write_json` (atomic), :func:`load_weights` and :func:`export_weights` (a backbone's
    weights in any registered weight format), :func:`load_backbone` (the backbone of a model
    folder that ``vidssl-export`` wrote), :func:`trained_stage` (the stage of a run whose
    weights leave it).
Configs and runs
    :func:`load_config`, :func:`read_config` (a config file as plain data),
    :func:`validate_config`, :func:`stage_configs`, :func:`dataset_slots`, :func:`parse_value`
    (a value written on a command line), :func:`stage_file`, :class:`Runner`,
    :func:`shrink_dataset` (a dataset config as ``--smoke --tiny`` reads it).
Command-line helpers for a plugin's own command
    :func:`command_parser`, :func:`guarded`, :func:`table`, :func:`integer_list`,
    :func:`mean_std`, and for commands that run configs :func:`execute`, :func:`exit_code`,
    :func:`results_table`.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from vidssl import _deprecated
from vidssl._cli import command_parser, guarded, integer_list, mean_std
from vidssl._common.console import table
from vidssl._common.errors import (
    CheckpointError,
    ConfigError,
    DataError,
    DatasetNotFound,
    PluginError,
    RunError,
    StopRun,
    VidsslError,
)
from vidssl._common.files import write_json
from vidssl._common.kmeans import kmeans_labels
from vidssl._common.schema import schema_from_signature
from vidssl._common.schema import validate as validate_arguments
from vidssl._config.values import parse_value
from vidssl._plugin_system.hookspecs import hookimpl
from vidssl._plugin_system.manager import get_plugins

if TYPE_CHECKING:  # imported on first use by __getattr__ below; spelled out for type checkers
    from vidssl._cli.run import execute, exit_code, results_table
    from vidssl._common import checkpoint
    from vidssl._common.tensors import map_tensors, per_video, to_device
    from vidssl._config.loading import dataset_slots, load_config, read_config, stage_configs, validate_config
    from vidssl._distributed import process_group as distributed
    from vidssl._engine.evaluation import EvaluationContext
    from vidssl._engine.model_folder import load_backbone, trained_stage
    from vidssl._engine.run_context import RunContext
    from vidssl._engine.runner import Runner
    from vidssl._engine.stage import Stage, stage_file
    from vidssl._engine.stage_kinds import StageKind
    from vidssl._engine.weights import export_weights, load_weights
    from vidssl._hooks.smoke import shrink_dataset
    from vidssl._plugin_system.contracts import Backbone, ClipDataset, FeatureInfo, WeightFormat, check
    from vidssl._plugin_system.method import Method

#: the API's modules and names whose code imports torch: imported when first used (PEP 562), so
#: a command that needs no torch (``vidssl-idt extract VIDEO``) starts without its ~2 s import
_LAZY_MODULES = {
    "checkpoint": "vidssl._common.checkpoint",
    "distributed": "vidssl._distributed.process_group",
}
_LAZY = {
    "vidssl._cli.run": ("execute", "exit_code", "results_table"),
    "vidssl._common.tensors": ("map_tensors", "per_video", "to_device"),
    "vidssl._config.loading": (
        "dataset_slots",
        "load_config",
        "read_config",
        "stage_configs",
        "validate_config",
    ),
    "vidssl._engine.evaluation": ("EvaluationContext",),
    "vidssl._engine.model_folder": ("load_backbone", "trained_stage"),
    "vidssl._engine.run_context": ("RunContext",),
    "vidssl._engine.runner": ("Runner",),
    "vidssl._engine.stage": ("Stage", "stage_file"),
    "vidssl._engine.stage_kinds": ("StageKind",),
    "vidssl._engine.weights": ("export_weights", "load_weights"),
    "vidssl._hooks.smoke": ("shrink_dataset",),
    "vidssl._plugin_system.contracts": ("Backbone", "ClipDataset", "FeatureInfo", "WeightFormat", "check"),
    "vidssl._plugin_system.method": ("Method",),
}
_MODULE_OF_NAME = {name: module for module, names in _LAZY.items() for name in names}

__version__ = "0.1.0"

_deprecated.install()


def __getattr__(name: str) -> Any:
    """A lazy API module or name (:data:`_LAZY_MODULES`, :data:`_LAZY`), imported on first use and
    kept in this module."""
    if name in _LAZY_MODULES:
        value = importlib.import_module(_LAZY_MODULES[name])
    elif name in _MODULE_OF_NAME:
        value = getattr(importlib.import_module(_MODULE_OF_NAME[name]), name)
    else:
        raise AttributeError(f"module 'vidssl' has no attribute '{name}'")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY_MODULES) | set(_MODULE_OF_NAME))


def build(kind: str, cfg: dict[str, Any], **context: Any) -> Any:
    """Build the ``kind`` component named by ``cfg["type"]`` with the other keys as keyword
    arguments, after validating them against the component's schema.

    ``context`` carries framework-provided arguments that are not config keys (``backbone`` for a
    method, ``views`` for a dataset). Returns the bare object (a backbone is an ``nn.Module``
    without a head). Raises :class:`ConfigError` naming the offending key.
    """
    return get_plugins().registry.build(kind, dict(cfg), [kind], **context)


def components(kind: str) -> dict[str, tuple[str, str]]:
    """Installed components of ``kind``: name → (distribution, version)."""
    registry = get_plugins().registry
    return {
        name: (c.distribution, c.version) for name in registry.names(kind) for c in [registry.get(kind, name)]
    }


__all__ = [
    "__version__",
    "Backbone",
    "build",
    "check",
    "checkpoint",
    "CheckpointError",
    "ClipDataset",
    "command_parser",
    "components",
    "ConfigError",
    "DataError",
    "dataset_slots",
    "DatasetNotFound",
    "distributed",
    "EvaluationContext",
    "execute",
    "exit_code",
    "export_weights",
    "FeatureInfo",
    "get_plugins",
    "guarded",
    "hookimpl",
    "integer_list",
    "kmeans_labels",
    "load_backbone",
    "load_config",
    "load_weights",
    "map_tensors",
    "mean_std",
    "Method",
    "parse_value",
    "per_video",
    "PluginError",
    "read_config",
    "results_table",
    "RunContext",
    "RunError",
    "Runner",
    "schema_from_signature",
    "shrink_dataset",
    "Stage",
    "stage_configs",
    "stage_file",
    "StageKind",
    "StopRun",
    "table",
    "trained_stage",
    "to_device",
    "validate_arguments",
    "validate_config",
    "VidsslError",
    "WeightFormat",
    "write_json",
]
