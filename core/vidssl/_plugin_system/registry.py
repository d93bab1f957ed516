"""The component registry: named builders of each kind, their argument schemas and their origin."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vidssl._common.errors import ConfigError, PluginError
from vidssl._common.schema import format_path, schema_from_signature, suggest, validate

KINDS = (
    "backbone",
    "method",
    "dataset",
    "transform",
    "evaluator",
    "extractor",
    "hook",
    "stage",
    "weight_format",
    "config",
)

#: Arguments the framework itself passes to builders of a kind; they are not config keys.
BUILD_CONTEXT = {"method": ("backbone",), "dataset": ("views",)}


@dataclass(frozen=True)
class Component:
    """One registered builder: ``builder(**kwargs)`` makes the object; ``schema`` checks kwargs.
    A ``config`` component's ``builder`` is the path of its config file."""

    kind: str
    name: str
    builder: Any  # a callable; for a config, a Path
    schema: dict
    distribution: str
    version: str
    #: a method's demo config on synthetic_motion (its entry in ``vidssl-bench synthetic``)
    demo_config: str | None = None


class Registrar:
    """Handed to a registration hook: ``register(name, builder, schema=None, demo_config=None)``
    adds one component of this registrar's kind, attributed to the plugin's distribution. Without
    ``schema`` one is derived from the builder's signature and type hints. A method may name its
    ``demo_config`` (a config path on synthetic_motion with stages ``probe_random`` and ``probe``,
    or ``supervised`` for a supervised method): ``vidssl-bench synthetic`` then ranks it. A
    config is registered as ``register(name, path)``: the path of a config file in the package
    (``vidssl-run NAME`` runs it)."""

    def __init__(self, registry: Registry, kind: str, distribution: str, version: str):
        self._registry, self.kind = registry, kind
        self.distribution, self.version = distribution, version

    def __call__(
        self,
        name: str,
        builder: Callable[..., Any] | str | Path,
        schema: dict | None = None,
        demo_config: str | None = None,
    ) -> None:
        if self.kind == "config":
            if not isinstance(builder, str | Path) or not Path(builder).is_file():
                raise PluginError(f"{self.distribution}: config '{name}': no file {builder}")
            builder, schema = Path(builder), {}
        if schema is None:
            assert callable(builder), f"{self.kind} '{name}': the builder must be callable"
            schema = schema_from_signature(builder, skip=BUILD_CONTEXT.get(self.kind, ()))
        if demo_config is not None and self.kind != "method":
            raise PluginError(
                f"{self.distribution}: {self.kind} '{name}': only methods register a demo_config"
            )
        self._registry.add(
            Component(
                self.kind,
                name,
                builder,
                schema,
                self.distribution,
                self.version,
                str(demo_config) if demo_config else None,
            )
        )


class Registry:
    """Components by kind and name; a name is unique per kind. ``fill(kind)`` adds a kind's
    components when that kind is first asked for (the plugins' registration hooks of that kind
    alone), so a command that builds one dataset imports no backbone or method code."""

    def __init__(self, fill: Callable[[str], None]) -> None:
        self._components: dict[str, dict[str, Component]] = {kind: {} for kind in KINDS}
        self._fill, self._filled = fill, set[str]()
        self._filling = threading.RLock()  # a thread asking for a kind waits until it is filled
        #: why plugins that could have added components did not (named by unknown-name errors)
        self.missing: list[str] = []

    def add(self, component: Component) -> None:
        """Add ``component``; a second component of the same kind and name is an error naming both
        distributions."""
        existing = self._components[component.kind].get(component.name)
        if existing is not None:
            raise PluginError(
                f"{component.kind} '{component.name}' is registered twice: by "
                f"{existing.distribution} {existing.version} and by "
                f"{component.distribution} {component.version}; uninstall one of them or disable "
                f"it with VIDSSL_DISABLE_PLUGINS"
            )
        self._components[component.kind][component.name] = component

    def names(self, kind: str) -> list[str]:
        return sorted(self._check_kind(kind))

    def all(self) -> list[Component]:
        return [c for kind in KINDS for _, c in sorted(self._check_kind(kind).items())]

    def get(self, kind: str, name: str, path: Sequence[str | int] = ()) -> Component:
        """The component ``name`` of ``kind``, or a :class:`ConfigError` listing what exists."""
        components = self._check_kind(kind)
        if name not in components:
            where = f"{format_path(path)}: " if path else ""
            installed = ", ".join(sorted(components)) or "none installed"
            missing = "".join(f"; not loaded: {why}" for why in self.missing)
            raise ConfigError(
                f"{where}unknown {kind} '{name}'{suggest(name, components)} "
                f"(available {kind}s: {installed}{missing})"
            )
        return components[name]

    def validate(self, kind: str, cfg: Any, path: Sequence[str | int] = ()) -> Component:
        """Check that ``cfg`` is ``{"type": name, **kwargs}`` for an existing component and that
        kwargs satisfy its schema (nested components included). Returns the component."""
        path = list(path)
        if not isinstance(cfg, dict) or not isinstance(cfg.get("type"), str):
            raise ConfigError(
                f"{format_path(path) or '<config>'}: expected a {kind} config "
                f"dict(type=NAME, ...), got {cfg!r}"
            )
        component = self.get(kind, cfg["type"], path + ["type"])
        kwargs = {k: v for k, v in cfg.items() if k != "type"}
        validate(
            kwargs, component.schema, path, resolve_component=lambda k, value, p: self.validate(k, value, p)
        )
        return component

    def build(self, kind: str, cfg: dict, path: Sequence[str | int] = (), **context: Any) -> Any:
        """Validate ``cfg`` and call the builder with its kwargs plus ``context``."""
        component = self.validate(kind, cfg, path)
        kwargs = {k: v for k, v in cfg.items() if k != "type"}
        return component.builder(**kwargs, **context)

    def _check_kind(self, kind: str) -> dict[str, Component]:
        if kind not in self._components:
            raise ConfigError(
                f"unknown component kind '{kind}'{suggest(kind, KINDS)} (kinds: {', '.join(KINDS)})"
            )
        with self._filling:
            if kind not in self._filled:
                self._filled.add(kind)
                self._fill(kind)
        return self._components[kind]
