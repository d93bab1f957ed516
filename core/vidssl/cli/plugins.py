"""``vidssl-plugins``: every installed plugin and component, with distribution and version."""
from __future__ import annotations

import argparse

from vidssl.cli import guarded, table


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="vidssl-plugins", description=__doc__)
    parser.add_argument("--kind", help="list only components of this kind")
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    args = parser.parse_args(argv)

    def body() -> int:
        from vidssl.plugin_manager import get_plugins

        plugins = get_plugins()
        rows = [[p.name, p.distribution, p.version, ", ".join(plugins.hooks_of(p.module))]
                for p in plugins.plugins]
        print(table(rows, ["plugin", "distribution", "version", "hooks"]))
        if plugins.disabled:
            print(f"disabled: {', '.join(sorted(plugins.disabled))}")
        print()
        components = [c for c in plugins.registry.all() if args.kind in (None, c.kind)]
        if args.kind:
            plugins.registry.names(args.kind)  # unknown kind -> clear error
        print(table([[c.kind, c.name, c.distribution, c.version] for c in components],
                    ["kind", "name", "distribution", "version"]))
        return 0

    return guarded("vidssl-plugins", body, args.debug)


if __name__ == "__main__":
    raise SystemExit(main())
