"""The README's result tables are generated: each block between ``<!-- generated: COMMAND -->``
and ``<!-- end generated -->`` is exactly what COMMAND prints today (paths relative to the repo)
from the results.json / protocols.json / leaderboard.json kept under docs/results."""
from __future__ import annotations

import re

import pytest

from conftest import REPO, run_cli

BLOCK = re.compile(r"<!-- generated: (vidssl-[^>]*?) -->\n(.*?)<!-- end generated -->", re.S)
BLOCKS = BLOCK.findall((REPO / "README.md").read_text())


def test_the_readme_has_generated_tables():
    assert len(BLOCKS) >= 2


@pytest.mark.parametrize("command, text", BLOCKS, ids=[c for c, _ in BLOCKS])
def test_each_generated_table_is_what_its_command_prints(command, text):
    program, *args = command.split()
    args = [str(REPO / a) if (REPO / a).exists() else a for a in args]
    assert run_cli(program, *args, check=True).stdout == text
