"""``vidssl-plugins``: every installed plugin and component, with distribution and version;
``--describe backbone NAME`` shows one backbone's parameters, FLOPs, feature size and stage
shapes for an input size; ``--configs`` lists the configs installed packages ship."""

from __future__ import annotations

import inspect
import re
from typing import Any

from vidssl._cli import command_parser, guarded
from vidssl._common.console import table
from vidssl._config.values import parse_value
from vidssl._plugin_system.contracts import Backbone, check
from vidssl._plugin_system.registry import Component


def main(argv: list[str] | None = None) -> int:
    parser = command_parser("vidssl-plugins", __doc__)
    parser.add_argument("--kind", help="list only components of this kind")
    parser.add_argument(
        "--describe",
        nargs=2,
        metavar=("KIND", "NAME"),
        help="describe one component (backbones: params, FLOPs, shapes)",
    )
    parser.add_argument(
        "--configs",
        action="store_true",
        help="list the configs installed packages ship (vidssl-run NAME runs one)",
    )
    parser.add_argument(
        "--set",
        nargs="+",
        default=[],
        metavar="KEY=VALUE",
        help="builder arguments for --describe, e.g. depth=34 width=0.5",
    )
    parser.add_argument(
        "--input", default="3x16x112x112", metavar="CxTxHxW", help="clip size for --describe backbone"
    )
    args = parser.parse_args(argv)

    def body() -> int:
        from vidssl._plugin_system.manager import get_plugins  # noqa: PLC0415 -- lazy: start-up

        plugins = get_plugins()
        if args.describe:
            kind, name = args.describe
            print(describe(plugins.registry, kind, name, args.set, args.input))
            return 0
        if args.configs:
            configs = [c for c in plugins.registry.all() if c.kind == "config"]
            print(
                table(
                    [[c.name, f"{c.distribution} {c.version}", str(c.builder)] for c in configs],
                    ["config", "distribution", "file"],
                )
            )
            return 0
        rows = [
            [p.name, p.distribution, p.version, ", ".join(plugins.hooks_of(p.module))]
            for p in plugins.plugins
        ]
        print(table(rows, ["plugin", "distribution", "version", "hooks"]))
        if plugins.disabled:
            print(f"disabled: {', '.join(sorted(plugins.disabled))}")
        for why in plugins.broken.values():
            print(f"broken: {why}")
        print()
        if args.kind:
            plugins.registry.names(args.kind)  # an unknown kind is a clear error
        components = [c for c in plugins.registry.all() if args.kind in (None, c.kind)]
        print(
            table(
                [[c.kind, c.name, c.distribution, c.version] for c in components],
                ["kind", "name", "distribution", "version"],
            )
        )
        return 2 if plugins.broken else 0  # the listing is whole only when every plugin loads

    return guarded("vidssl-plugins", body, args.debug)


def arguments_table(component: Component) -> str:
    """Every config argument of ``component``: name, type (from its schema), default and its
    documentation (see :func:`argument_doc`)."""
    properties = component.schema.get("properties", {})
    if not properties:
        return "arguments: none"
    builder = component.builder
    target = builder.__init__ if inspect.isclass(builder) else builder
    parameters: dict[str, Any] = {}
    for follow in (True, False):  # a wrapper's own arguments and those of what it wraps
        try:
            parameters |= inspect.signature(builder, follow_wrapped=follow).parameters
        except (TypeError, ValueError):
            pass
    docs = "\n".join(
        d
        for d in (inspect.getdoc(builder), inspect.getdoc(target), inspect.getdoc(inspect.getmodule(builder)))
        if d
    )
    rows = []
    for key, schema in properties.items():
        parameter = parameters.get(key)
        default = (
            "required"
            if parameter is None or parameter.default is parameter.empty
            else repr(parameter.default)
        )
        rows.append([key, _type_name(schema), default, argument_doc(docs, key)])
    return table(rows, ["argument", "type", "default", "doc"])


def argument_doc(docs: str, key: str) -> str:
    """The documentation of argument ``key`` in ``docs`` (the builder's, its class's and its
    module's docstrings): its entry in an ``Args:`` section (``key: text`` or ``key (type):
    text``, continued on more indented lines), else the sentence that starts with ````key````,
    else the first sentence that mentions ````key````."""
    lines = docs.splitlines()
    for i, line in enumerate(lines):
        entry = re.match(rf"(\s*){re.escape(key)}(?:\s*\([^)]*\))?\s*:\s*(.*)", line)
        if entry and _in_args_section(lines, i, len(entry[1])):
            text = [entry[2]]
            for more in lines[i + 1 :]:
                if not more.strip() or len(more) - len(more.lstrip()) <= len(entry[1]):
                    break
                text.append(more.strip())
            return " ".join(" ".join(text).split())
    sentences = [
        re.sub(r"^[*-]\s+", "", " ".join(x.split())) for x in re.split(r"(?<=\.)\s+|\n\s*[*-]\s+", docs)
    ]
    mark = f"``{key}``"
    doc = next((x for x in sentences if x.startswith(mark)), None) or next(
        (x for x in sentences if mark in x), ""
    )
    doc = doc[:-1] if doc.endswith(":") else doc
    return re.sub(r"``([^`]+)``", r"\1", doc)


def _in_args_section(lines: list[str], i: int, indent: int) -> bool:
    """Whether line ``i`` (indented by ``indent``) sits under an ``Args:`` heading."""
    for line in reversed(lines[:i]):
        if line.strip() and len(line) - len(line.lstrip()) < indent:
            return line.strip() in ("Args:", "Arguments:", "Parameters:")
    return False


def _type_name(schema: dict) -> str:
    if "enum" in schema:
        return " | ".join(repr(v) for v in schema["enum"])
    if "anyOf" in schema:
        return " | ".join(_type_name(s) for s in schema["anyOf"])
    if "x-component" in schema:
        return f"{schema['x-component']} config"
    kind = schema.get("type", "any")
    return " | ".join(kind) if isinstance(kind, list) else kind


def describe(registry, kind: str, name: str, settings: list[str], input_size: str) -> str:
    """A component's origin and argument schema; for a backbone also its parameter count,
    forward FLOPs at ``input_size``, feature dimension and ``forward_features`` shapes."""
    import torch  # noqa: PLC0415 -- lazy: start-up
    from torch.utils.flop_counter import FlopCounterMode  # noqa: PLC0415 -- lazy: start-up

    from vidssl._common.errors import ConfigError  # noqa: PLC0415 -- lazy: start-up

    component = registry.get(kind, name)
    kwargs = {}
    for setting in settings:
        key, _, value = setting.partition("=")
        kwargs[key] = parse_value(value)
    lines = [f"{kind} {name} ({component.distribution} {component.version})", arguments_table(component)]
    if kind != "backbone":
        return "\n".join(lines)
    try:
        shape = tuple(int(v) for v in input_size.lower().split("x"))
    except ValueError:
        raise ConfigError(f"--input: expected CxTxHxW, e.g. 3x16x112x112, got '{input_size}'") from None
    model = registry.build(kind, {"type": name, **kwargs}, [kind]).eval()
    check(model, Backbone, f"backbone '{name}' ({component.distribution})")
    clip = torch.randn(1, *shape)
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        features = model(clip)
    with torch.no_grad():
        maps = model.forward_features(clip)
    lines += [
        f"parameters: {sum(p.numel() for p in model.parameters()):,}",
        f"forward FLOPs for 1×{'×'.join(map(str, shape))}: {counter.get_total_flops() / 1e9:.2f} GFLOPs",
        f"features: {model.feat_dim} (output {tuple(features.shape)})",
        "stages:",
    ]
    lines += [f"  {stage:<12} {tuple(value.shape)}" for stage, value in maps.items()]
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
