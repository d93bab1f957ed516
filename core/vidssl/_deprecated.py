"""The module paths of vidssl 0.1 (``vidssl.protocols``, ``vidssl.run_context``, ...), kept for one
release: importing one warns (``DeprecationWarning``) and gives a module that forwards every
attribute to where the code lives now. Plugins import from :mod:`vidssl` instead."""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import sys
import types
import warnings

#: old module → the private module that holds its code now
MOVED = {
    "vidssl.errors": "vidssl._common.errors",
    "vidssl.schema": "vidssl._common.schema",
    "vidssl.checkpoint": "vidssl._common.checkpoint",
    "vidssl.kmeans": "vidssl._common.kmeans",
    "vidssl.distributed": "vidssl._distributed.process_group",
    "vidssl.sync_batchnorm": "vidssl._distributed.sync_batchnorm",
    "vidssl.hookspecs": "vidssl._plugin_system.hookspecs",
    "vidssl.plugin_manager": "vidssl._plugin_system.manager",
    "vidssl.registry": "vidssl._plugin_system.registry",
    "vidssl.protocols": "vidssl._plugin_system.contracts",
    "vidssl.method": "vidssl._plugin_system.method",
    "vidssl.config": "vidssl._config.loading",
    "vidssl.config_location": "vidssl._config.location",
    "vidssl.optim": "vidssl._config.optim",
    "vidssl.precision": "vidssl._speed.precision",
    "vidssl.lean_conv3d": "vidssl._speed.lean_conv3d",
    "vidssl.host_memory": "vidssl._speed.host_memory",
    "vidssl.runner": "vidssl._engine.runner",
    "vidssl.run_context": "vidssl._engine.run_context",
    "vidssl.stage": "vidssl._engine.stage",
    "vidssl.training": "vidssl._engine.training",
    "vidssl.evaluation": "vidssl._engine.evaluation",
    "vidssl.work_dir": "vidssl._engine.work_dir",
    "vidssl.sampler": "vidssl._engine.sampler",
    "vidssl.dataset_subset": "vidssl._engine.dataset_subset",
    "vidssl.protocol_card": "vidssl._engine.protocol_card",
    "vidssl.metrics_log": "vidssl._hooks.metrics_log",
    "vidssl.progress": "vidssl._hooks.progress",
    "vidssl.smoke": "vidssl._hooks.smoke",
    "vidssl.cli": "vidssl._cli",
    "vidssl.cli.run": "vidssl._cli.run",
    "vidssl.cli.plugins": "vidssl._cli.plugins",
}


class _Forward(types.ModuleType):
    """An old module path: every attribute read goes to the module the code moved to."""

    def __init__(self, name: str, target: types.ModuleType) -> None:
        super().__init__(name, target.__doc__)
        self._target = target

    def __getattr__(self, attribute: str) -> object:
        return getattr(self._target, attribute)

    def __dir__(self) -> list[str]:
        return dir(self._target)


class _AliasFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Finds the old module paths of :data:`MOVED` on ``sys.meta_path``."""

    def find_spec(self, fullname: str, path: object = None, target: object = None):
        if fullname not in MOVED:
            return None
        return importlib.machinery.ModuleSpec(fullname, self, is_package=fullname == "vidssl.cli")

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> types.ModuleType:
        warnings.warn(
            f"{spec.name} is deprecated and goes in the next release: import what you "
            f"need from vidssl (its __all__ lists the API)",
            DeprecationWarning,
            stacklevel=2,
        )
        return _Forward(spec.name, importlib.import_module(MOVED[spec.name]))

    def exec_module(self, module: types.ModuleType) -> None:
        """Nothing to run: the module forwards to code that is imported already."""


def install() -> None:
    """Put the finder of the old module paths on ``sys.meta_path`` (once)."""
    if not any(isinstance(f, _AliasFinder) for f in sys.meta_path):
        sys.meta_path.append(_AliasFinder())
