"""Plain-text output shared by the commands and the built-in hooks: tables and durations."""

from __future__ import annotations


def table(rows: list[list[str]], header: list[str]) -> str:
    """Left-aligned plain-text table."""
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    lines = [
        "  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
        for row in [header, ["-" * w for w in widths], *rows]
    ]
    return "\n".join(lines)


def duration(seconds: float, compact: bool = False) -> str:
    """``seconds`` as hours and minutes (``1 h 02 min``), under an hour as minutes and seconds
    (``3 min 05 s``); ``compact`` for a progress line: ``1h02m``, ``3m05s``."""
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    big, small = (hours, minutes) if hours else (minutes, secs)
    if compact:
        return f"{big}h{small:02d}m" if hours else f"{big}m{small:02d}s"
    return f"{big} h {small:02d} min" if hours else f"{big} min {small:02d} s"
