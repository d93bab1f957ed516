"""The maintainers' checks, run with the suite so CI runs them: ruff's lint selection and its
formatting, and mypy on the core (their configuration is in pyproject.toml; the docs build is in
tests/test_docs.py)."""

from __future__ import annotations

import subprocess
import sys

from conftest import REPO


def check(*command: str) -> None:
    result = subprocess.run([sys.executable, "-m", *command], cwd=REPO, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_ruff_finds_nothing():
    check("ruff", "check", ".")


def test_the_tree_is_formatted():
    check("ruff", "format", "--check", ".")


def test_the_core_type_checks():
    check("mypy", "--cache-dir", str(REPO / ".mypy_cache"))
