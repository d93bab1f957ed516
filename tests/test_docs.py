"""The documentation: a short README that leads into the manual (``docs/``, built with MkDocs), every
section the README once held still reachable, no broken link, and every result table generated —
each block between ``<!-- generated: COMMAND -->`` and ``<!-- end generated -->`` is exactly what
COMMAND prints today (paths relative to the repo) from the files kept under docs/results."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest
from markdown.extensions.toc import slugify

from conftest import REPO, run_cli

README = REPO / "README.md"
PAGES = sorted((REPO / "docs").glob("*.md"))
BLOCK = re.compile(r"<!-- generated: (vidssl-[^>]*?) -->\n(.*?)<!-- end generated -->", re.S)
BLOCKS = [block for page in [README, *PAGES] for block in BLOCK.findall(page.read_text())]
LINK = re.compile(r"\]\(([^)\s]+)\)")
#: the ## and ### headings of the README before the manual was split out of it (commit 1b5dea1)
SECTIONS_OF_THE_OLD_README = [
    "Quick start",
    "Layout",
    "Running",
    "Running on a cluster",
    "Configs",
    "Run an installed config",
    "Install from packages",
    "Share a model",
    "Data",
    "At Kinetics size",
    "Running on your data",
    "synthetic_motion, the embedded dataset",
    "Backbones",
    "Methods and evaluation",
    "Evaluation protocols, run reports and the synthetic leaderboard",
    "Dense trajectories (vidssl-idt)",
    "Results on synthetic_motion (measured here, 2 CPU cores)",
    "Writing a plugin",
    "Speed",
    "Benchmarks",
    "Tests",
]


def headings(page) -> list[str]:
    """The heading texts of a Markdown file, outside code blocks."""
    text = re.sub(r"^```.*?^```", "", page.read_text(), flags=re.S | re.M)
    return re.findall(r"^#{1,6} (.+?)\s*$", text, re.M)


def test_the_readme_is_short_and_links_every_page_of_the_manual():
    text = README.read_text()
    assert len(text.splitlines()) <= 250
    linked = {target.split("#")[0] for target in LINK.findall(text)}
    assert [page.name for page in PAGES if f"docs/{page.name}" not in linked] == []


def test_every_section_of_the_old_readme_is_one_click_from_the_readme():
    """Each section is a heading of the README, or of a page of the manual that the README links
    to: the page itself where it is the page's title, else the heading's anchor."""
    links = set(LINK.findall(README.read_text()))
    reachable = set(headings(README))
    for page in PAGES:
        title, *sections = headings(page)
        if f"docs/{page.name}" in links:
            reachable.add(title)
        reachable |= {s for s in sections if f"docs/{page.name}#{slugify(s, '-')}" in links}
    assert [section for section in SECTIONS_OF_THE_OLD_README if section not in reachable] == []


def test_the_readmes_links_lead_somewhere():
    """Every relative link of the README names a file that exists and, with #anchor, a heading of it
    (anchors as MkDocs makes them)."""
    broken = []
    for target in LINK.findall(README.read_text()):
        if target.startswith(("http://", "https://")):
            continue
        path, _, anchor = target.partition("#")
        if not (REPO / path).exists():
            broken.append(target)
        elif anchor and anchor not in {slugify(h, "-") for h in headings(REPO / path)}:
            broken.append(target)
    assert broken == []


def test_the_manual_builds_without_a_broken_link(tmp_path):
    """``mkdocs build --strict`` fails on a link to a missing page or heading (mkdocs.yml)."""
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site")],
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "site" / "data" / "index.html").exists()


def test_the_docs_have_generated_tables():
    assert len(BLOCKS) >= 6


@pytest.mark.parametrize("command, text", BLOCKS, ids=[c for c, _ in BLOCKS])
def test_each_generated_table_is_what_its_command_prints(command, text):
    program, *args = command.split()
    args = [str(REPO / a) if (REPO / a).exists() else a for a in args]
    assert run_cli(program, *args, check=True).stdout == text
