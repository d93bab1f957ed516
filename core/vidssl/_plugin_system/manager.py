"""Discovery of installed plugins (entry-point group ``vidssl.plugins``) and the global registry.

Every entry point is loaded with pluggy's ``load_setuptools_entrypoints``, one entry point at a time,
so that a plugin that fails to import is reported with its distribution and exception. Each
plugin's registration hooks of a kind fill the :class:`~vidssl._plugin_system.registry.Registry` when
that kind is first asked for.
``VIDSSL_DISABLE_PLUGINS=name,...`` blocks plugins by entry-point name before they are imported.
"""

from __future__ import annotations

import importlib.metadata
import os
import sys
from dataclasses import dataclass
from typing import Any

import pluggy

from vidssl._common.errors import PluginError
from vidssl._common.schema import suggest
from vidssl._plugin_system import hookspecs
from vidssl._plugin_system.registry import KINDS, Registrar, Registry

ENTRY_POINT_GROUP = "vidssl.plugins"
DISABLE_ENV = "VIDSSL_DISABLE_PLUGINS"
_REGISTRATION_HOOKS = {kind: f"vidssl_register_{kind}s" for kind in KINDS}


@dataclass(frozen=True)
class PluginInfo:
    """One loaded plugin: its entry-point name, module and distribution."""

    name: str
    module: object
    distribution: str
    version: str


class Plugins:
    """The pluggy manager with every enabled plugin loaded, and the registry they filled."""

    def __init__(self, disabled: set[str] | None = None) -> None:
        if disabled is None:
            disabled = {n.strip() for n in os.environ.get(DISABLE_ENV, "").split(",") if n.strip()}
        self.disabled = disabled
        self.manager = pluggy.PluginManager("vidssl")
        self.manager.add_hookspecs(hookspecs)
        self.registry = Registry(self._register_components)
        self.plugins: list[PluginInfo] = []
        #: plugins that failed to import: name → what went wrong (left out of this process)
        self.broken: dict[str, str] = {}
        self._load_entry_points()
        self._check_hook_names()

    @property
    def hook(self) -> pluggy.HookRelay:
        return self.manager.hook

    def _load_entry_points(self) -> None:
        by_name: dict[str, list[importlib.metadata.Distribution]] = {}
        for dist in importlib.metadata.distributions():
            for ep in dist.entry_points:
                if ep.group == ENTRY_POINT_GROUP:
                    by_name.setdefault(ep.name, []).append(dist)
        unknown = sorted(self.disabled - set(by_name))
        if unknown:
            raise PluginError(
                f"{DISABLE_ENV}: no installed plugin is named "
                f"{', '.join(repr(n) for n in unknown)}"
                f"{suggest(unknown[0], by_name)} (plugins: {', '.join(sorted(by_name))})"
            )
        for name, dists in sorted(by_name.items()):
            labels = sorted({f"{d.metadata['Name']} {d.version}" for d in dists})
            if len(labels) > 1:  # pluggy would silently keep only the first one
                raise PluginError(
                    f"plugin entry point '{name}' is declared by several "
                    f"distributions: {' and '.join(labels)}"
                )
            if name in self.disabled:
                self.manager.set_blocked(name)
                continue
            try:
                self.manager.load_setuptools_entrypoints(ENTRY_POINT_GROUP, name=name)
            except Exception as exc:  # reported, and left out of this command only
                self.broken[name] = (
                    f"plugin '{name}' from distribution {labels[0]} failed to "
                    f"import: {type(exc).__name__}: {exc}"
                )
                self.manager.set_blocked(name)
                print(
                    f"vidssl: warning: {self.broken[name]}; it is left out (fix or uninstall "
                    f"it, or set {DISABLE_ENV}={name})",
                    file=sys.stderr,
                )
        self.registry.missing = list(self.broken.values())
        for module, facade in self.manager.list_plugin_distinfo():
            self.plugins.append(
                PluginInfo(
                    str(self.manager.get_name(module)), module, facade.metadata["Name"], facade.version
                )
            )

    def _check_hook_names(self) -> None:
        for info in self.plugins:
            self.check_hook_names(info.module, f"plugin '{info.name}' ({info.distribution} {info.version})")

    def check_hook_names(self, hooks: object, label: str) -> None:
        """A :class:`PluginError` naming ``label`` (the plugin or hook object), each of its hook
        implementations whose name no hook specification has, and the nearest hook name."""
        known = [name for name in vars(hookspecs) if name.startswith("vidssl_")]
        unknown = [
            name
            for name in dir(hooks)
            if name not in known and self.manager.parse_hookimpl_opts(hooks, name) is not None
        ]
        if unknown:
            raise PluginError(
                f"{label}: "
                + "; ".join(f"unknown hook '{name}'{suggest(name, known)}" for name in unknown)
                + " (a misspelled vidssl hook; docs/plugins.md lists them)"
            )

    def _register_components(self, kind: str) -> None:
        """Each plugin's registration hook of ``kind``, called through pluggy for that plugin
        alone, with a registrar that attributes what it adds to the plugin's distribution."""
        modules = [p.module for p in self.plugins]
        hook_name = _REGISTRATION_HOOKS[kind]
        for info in self.plugins:
            others = [m for m in modules if m is not info.module]
            registrar = Registrar(self.registry, kind, info.distribution, info.version)
            try:
                self.manager.subset_hook_caller(hook_name, others)(register=registrar)
            except PluginError:
                raise
            except Exception as exc:
                raise PluginError(
                    f"plugin '{info.name}' ({info.distribution} {info.version}) "
                    f"failed in {hook_name}: {type(exc).__name__}: {exc}"
                ) from exc

    def hooks_of(self, module: object) -> list[str]:
        """Names of the hooks that one plugin module implements."""
        return sorted(c.name for c in self.manager.get_hookcallers(module) or [])


_plugins: Plugins | None = None


def get_plugins() -> Plugins:
    """The process-wide :class:`Plugins`, loaded on first use."""
    global _plugins
    if _plugins is None:
        _plugins = Plugins()
    return _plugins


def stage_kind(type_name: str, path: list | None = None) -> Any:
    """The registered stage kind (a :class:`~vidssl._engine.stage_kinds.StageKind`) named
    ``type_name``; an unknown one is a :class:`ConfigError` naming ``path`` (the stage) and the
    kinds."""
    return get_plugins().registry.build("stage", {"type": type_name}, path or [])
