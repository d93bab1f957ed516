"""vidssl: a plugin-based framework for self-supervised video representation learning.

Public surface:

* :func:`build` – make a component from ``{"type": name, **kwargs}`` after schema validation;
* :func:`components` – what is installed, per kind: name → (distribution, version);
* :data:`hookimpl` – decorator for hook implementations in plugins (see :mod:`vidssl.hookspecs`);
* :class:`Method` – base class of training methods;
* :class:`StopRun` – raised by a hook to stop a run cleanly.
"""
from __future__ import annotations

from typing import Any

import pluggy

__version__ = "0.1.0"

hookimpl = pluggy.HookimplMarker("vidssl")

from vidssl.errors import StopRun  # noqa: E402
from vidssl.method import Method  # noqa: E402  (needs hookimpl defined first for plugins)
from vidssl.plugin_manager import get_plugins  # noqa: E402


def build(kind: str, cfg: dict[str, Any], **context: Any) -> Any:
    """Build the ``kind`` component named by ``cfg["type"]`` with the other keys as keyword
    arguments, after validating them against the component's schema.

    ``context`` carries framework-provided arguments that are not config keys (``backbone`` for a
    method, ``views`` for a dataset). Returns the bare object (a backbone is an ``nn.Module``
    without a head). Raises :class:`vidssl.errors.ConfigError` naming the offending key.
    """
    return get_plugins().registry.build(kind, dict(cfg), [kind], **context)


def components(kind: str) -> dict[str, tuple[str, str]]:
    """Installed components of ``kind``: name → (distribution, version)."""
    registry = get_plugins().registry
    return {name: (c.distribution, c.version)
            for name in registry.names(kind) for c in [registry.get(kind, name)]}


__all__ = ["build", "components", "hookimpl", "Method", "StopRun", "__version__"]
