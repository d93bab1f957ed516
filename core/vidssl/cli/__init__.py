"""Command-line entry points."""
from __future__ import annotations

import sys
from collections.abc import Callable

from vidssl.errors import VidsslError


def guarded(command: str, body: Callable[[], int], debug: bool) -> int:
    """Run ``body``; print a :class:`VidsslError` as one line (no traceback unless ``debug``)."""
    try:
        return body()
    except VidsslError as exc:
        if debug:
            raise
        print(f"{command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{command}: interrupted", file=sys.stderr)
        return 130


def table(rows: list[list[str]], header: list[str]) -> str:
    """Left-aligned plain-text table."""
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(str(c).ljust(w) for c, w in zip(row, widths)).rstrip()
             for row in [header, ["-" * w for w in widths], *rows]]
    return "\n".join(lines)
