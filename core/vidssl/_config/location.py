"""Where a config key is written: ``file:line`` of a dotted key path, for error messages.

A config is read from its Python source (and its ``_base_`` files) without running it: the key path
``stages[2].optimizer.lr`` is followed through the top-level assignment ``stages = [...]``, its
third element, ``optimizer=`` and ``lr=``. Local helpers (``_view = dict(...)`` then ``view=_view``),
splats (``dict(type='x', **_data)``) and base variables (``{{_base_._probe}}``) are followed to where
they are written. A stage key not
written in the stage is looked up in ``stage_defaults``. Where the path cannot be followed to the
end, the deepest part that was found is named (e.g. the stage a missing key belongs to).
"""

from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import Any


def split_key_path(text: str) -> list[str | int]:
    """``'stages[2].optimizer.lr'`` → ``['stages', 2, 'optimizer', 'lr']``."""
    return [int(p[1:-1]) if p.startswith("[") else p for p in re.findall(r"\[\d+\]|[^.\[\]]+", text)]


def locate(config: Path, key_path: list[str | int]) -> tuple[str, int] | None:
    """``(file, line)`` where ``key_path`` is written in ``config`` or its ``_base_`` files, or of
    the deepest part of it that is written there; ``None`` if not even its first key is."""
    source = _Source(config)
    found = source.find(key_path)
    is_stage_key = len(key_path) >= 3 and key_path[0] == "stages" and isinstance(key_path[1], int)
    if is_stage_key and (found is None or found[2] < len(key_path)):
        default = source.find(["stage_defaults", *key_path[2:]])
        if default is not None and default[2] == len(key_path) - 1:
            found = default
    return None if found is None else (found[0], found[1])


class _Source:
    """The parsed files of one config: the file itself first, then its bases, depth first."""

    def __init__(self, config: Path):
        self.files: list[tuple[Path, dict[str, ast.expr]]] = []
        self._read(config)

    def _read(self, path: Path) -> None:
        try:
            tree = ast.parse(path.read_text())
        except (OSError, SyntaxError, ValueError):
            return
        names = {
            target.id: node.value
            for node in tree.body
            if isinstance(node, ast.Assign)
            for target in node.targets
            if isinstance(target, ast.Name)
        }
        self.files.append((path, names))
        listed = names.get("_base_")
        try:
            bases: Any = ast.literal_eval(listed) if listed is not None else []
        except ValueError:
            bases = []
        for base in [bases] if isinstance(bases, str) else bases:
            base_path = (path.parent / base).resolve()
            if base_path.is_file():
                self._read(base_path)

    def find(self, key_path: list[str | int]) -> tuple[str, int, int] | None:
        """``(file, line, depth)`` of the deepest match over the files that assign the first key;
        on equal depth the file read first (the config itself) wins, as it overrides its bases."""
        best = None
        for index, (_, names) in enumerate(self.files):
            if key_path and key_path[0] in names:
                node = names[key_path[0]]
                found = self._walk(index, node.lineno, node, key_path[1:], 1)
                if best is None or found[2] > best[2]:
                    best = found
        return best

    def _walk(self, file: int, line: int, node: ast.expr, rest: list, depth: int) -> tuple[str, int, int]:
        """Follow ``rest`` into ``node``, which is written at ``file`` (an index) and ``line``."""
        where = (str(self.files[file][0]), line, depth)
        if not rest:
            return where
        found = self._member(node, file, rest[0])
        if found is None:
            return where
        file, line, child = found
        return self._walk(file, line, child, rest[1:], depth + 1)

    def _member(self, node: ast.expr, file: int, part: str | int) -> tuple[int, int, ast.expr] | None:
        """``(file, line, value)`` of element or key ``part`` of ``node``, following helpers and
        ``**splats`` (the last assignment of a key wins, as in Python)."""
        node, file = self._follow(node, file)
        found = None
        if isinstance(part, int) and isinstance(node, (ast.List, ast.Tuple)) and part < len(node.elts):
            found = (file, node.elts[part].lineno, node.elts[part])
        elif (
            isinstance(part, str) and isinstance(node, ast.Call) and getattr(node.func, "id", None) == "dict"
        ):
            for keyword in node.keywords:
                if keyword.arg == part:
                    found = (file, keyword.lineno, keyword.value)
                elif keyword.arg is None:
                    found = self._member(keyword.value, file, part) or found
        elif isinstance(part, str) and isinstance(node, ast.Dict):
            for key, value in zip(node.keys, node.values, strict=True):
                if key is None:
                    found = self._member(value, file, part) or found
                elif isinstance(key, ast.Constant) and key.value == part:
                    found = (file, key.lineno, value)
        return found

    def _follow(self, node: ast.expr, file: int) -> tuple[ast.expr, int]:
        """Resolve ``_helper`` names (same file) and ``{{_base_.name}}`` / ``_base_.name`` (base
        files) to the expression they stand for and the file it is written in."""
        for _ in range(32):  # a helper chain longer than this is a cycle
            base = _base_name(node)
            if isinstance(node, ast.Name):
                name, files = node.id, range(file, file + 1)
            elif base is not None:
                name, files = base, range(file + 1, len(self.files))
            else:
                return node, file
            owner = next((i for i in files if name in self.files[i][1]), None)
            if owner is None:
                return node, file
            node, file = self.files[owner][1][name], owner
        return node, file


def _base_name(node: ast.expr) -> str | None:
    """``name`` for ``{{_base_.name}}`` (a set of a set, as the file parses) or ``_base_.name``."""
    while isinstance(node, ast.Set) and len(node.elts) == 1:
        node = node.elts[0]
    if isinstance(node, ast.Attribute) and getattr(node.value, "id", None) == "_base_":
        return node.attr
    return None
