"""``vidssl-plugins``: every installed plugin and component, with distribution and version;
``--describe backbone NAME`` shows one backbone's parameters, FLOPs, feature size and stage
shapes for an input size."""
from __future__ import annotations

from vidssl.cli import command_parser, guarded, table


def main(argv: list[str] | None = None) -> int:
    parser = command_parser("vidssl-plugins", __doc__)
    parser.add_argument("--kind", help="list only components of this kind")
    parser.add_argument("--describe", nargs=2, metavar=("KIND", "NAME"),
                        help="describe one component (backbones: params, FLOPs, shapes)")
    parser.add_argument("--set", nargs="+", default=[], metavar="KEY=VALUE",
                        help="builder arguments for --describe, e.g. depth=34 width=0.5")
    parser.add_argument("--input", default="3x16x112x112", metavar="CxTxHxW",
                        help="clip size for --describe backbone (default 3x16x112x112)")
    args = parser.parse_args(argv)

    def body() -> int:
        from vidssl.plugin_manager import get_plugins

        plugins = get_plugins()
        if args.describe:
            print(describe(plugins.registry, *args.describe, args.set, args.input))
            return 0
        rows = [[p.name, p.distribution, p.version, ", ".join(plugins.hooks_of(p.module))]
                for p in plugins.plugins]
        print(table(rows, ["plugin", "distribution", "version", "hooks"]))
        if plugins.disabled:
            print(f"disabled: {', '.join(sorted(plugins.disabled))}")
        print()
        if args.kind:
            plugins.registry.names(args.kind)  # an unknown kind is a clear error
        components = [c for c in plugins.registry.all() if args.kind in (None, c.kind)]
        print(table([[c.kind, c.name, c.distribution, c.version] for c in components],
                    ["kind", "name", "distribution", "version"]))
        return 0

    return guarded("vidssl-plugins", body, args.debug)


def describe(registry, kind: str, name: str, settings: list[str], input_size: str) -> str:
    """A component's origin and argument schema; for a backbone also its parameter count,
    forward FLOPs at ``input_size``, feature dimension and ``forward_features`` shapes."""
    import torch
    from mmengine.config import DictAction
    from torch.utils.flop_counter import FlopCounterMode

    from vidssl.errors import ConfigError

    component = registry.get(kind, name)
    kwargs = {}
    for setting in settings:
        key, _, value = setting.partition("=")
        kwargs[key] = DictAction._parse_iterable(value)
    lines = [f"{kind} {name} ({component.distribution} {component.version})",
             f"arguments: {', '.join(sorted(component.schema.get('properties', {}))) or 'none'}"]
    if kind != "backbone":
        return "\n".join(lines)
    try:
        shape = tuple(int(v) for v in input_size.lower().split("x"))
    except ValueError:
        raise ConfigError(f"--input: expected CxTxHxW, e.g. 3x16x112x112, got '{input_size}'") from None
    model = registry.build(kind, {"type": name, **kwargs}, [kind]).eval()
    clip = torch.randn(1, *shape)
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        features = model(clip)
    with torch.no_grad():
        maps = model.forward_features(clip)
    lines += [f"parameters: {sum(p.numel() for p in model.parameters()):,}",
              f"forward FLOPs for 1×{'×'.join(map(str, shape))}: "
              f"{counter.get_total_flops() / 1e9:.2f} GFLOPs",
              f"features: {model.feat_dim} (output {tuple(features.shape)})", "stages:"]
    lines += [f"  {stage:<12} {tuple(value.shape)}" for stage, value in maps.items()]
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
