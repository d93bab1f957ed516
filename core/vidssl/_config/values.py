"""Values written on a command line (``--cfg-options key=value``, ``--set key=value``)."""

from __future__ import annotations

from typing import Any


def parse_value(text: str) -> Any:
    """The value ``text`` writes: an int, a float, ``true``/``false`` (any case), ``None``, a
    list (``[a,b]`` or ``a,b``) or a tuple (``(a,b)``), nested; anything else a string. Spaces are
    dropped and surrounding quotes stripped; a trailing comma ends a list. Unbalanced brackets in
    a list are a :class:`ValueError`."""
    text = text.strip("'\"").replace(" ", "")
    if len(text) >= 2 and text[0] + text[-1] in ("()", "[]"):
        values = [parse_value(item) for item in _items(text[1:-1])]
        return tuple(values) if text[0] == "(" else values
    if "," in text:
        return [parse_value(item) for item in _items(text)]
    return _scalar(text)


def _items(text: str) -> list[str]:
    """``text`` split at the commas outside brackets (a trailing comma adds no item)."""
    if text.count("(") != text.count(")") or text.count("[") != text.count("]"):
        raise ValueError(f"unbalanced brackets in {text}")
    items, depth, start = [], 0, 0
    for index, char in enumerate(text):
        depth += (char in "([") - (char in ")]")
        if char == "," and depth == 0:
            items.append(text[start:index])
            start = index + 1
    if start < len(text):
        items.append(text[start:])
    return items


def _scalar(text: str) -> Any:
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    if text.lower() in ("true", "false"):
        return text.lower() == "true"
    return None if text == "None" else text
