"""vidssl-report: a self-contained HTML page (checked in Debian's headless Chromium) and a
Markdown report of real runs, with results and their cards, curves, per-class accuracy and
confusion, retrieval examples, environment and time per stage."""

from __future__ import annotations

import json
import re
import shutil
import subprocess

import numpy as np
import pytest

from conftest import TINY_CONFIG, run_cli

# the tiny run with per-class reports and a retrieval stage
CONFIG = (
    TINY_CONFIG.replace(
        "evaluator=dict(type='classification')", "evaluator=dict(type='classification', report=True)"
    )
    + """
stages.append(dict(name='retrieval', type='evaluate', val_dataset=_test,
                   evaluator=dict(type='retrieval', train_dataset=_train, ks=[1, 5])))
"""
)


@pytest.fixture(scope="module")
def report(tmp_path_factory, data_root):
    where = tmp_path_factory.mktemp("report")
    (where / "tiny.py").write_text(CONFIG.format(root=str(data_root)))
    run_cli("vidssl-run", str(where / "tiny.py"), "--work-dir", str(where / "run"), check=True)
    result = run_cli("vidssl-report", str(where / "run"), "--out", str(where / "out"), check=True)
    assert "report.html" in result.stdout
    return where


def test_the_report_holds_every_part(report):
    out = report / "out"
    page = (out / "report.html").read_text()
    markdown = (out / "report.md").read_text()
    pngs = sorted(p.name for p in out.glob("*.png"))
    assert pngs == [
        "run_metrics.png",
        "run_probe_confusion.png",
        "run_probe_random_confusion.png",
        "run_retrieval_retrieval_examples.png",
        "run_supervised_confusion.png",
    ]
    for name in pngs:
        assert f"]({name})" in markdown
    assert page.count("src='data:image/png;base64,") == len(pngs)
    assert not re.search(r"(src|href)=['\"]?(https?:|//|file:)", page), "no external resource"
    results = json.loads((report / "run" / "results.json").read_text())
    for stage, metrics in results.items():
        assert f"<td>{stage}</td>" in page
        assert (
            f"top1 {metrics['top1']:.2f}" in page
            if "top1" in metrics
            else f"R@1 {metrics['R@1']:.2f}" in page
        )
    env = json.loads((report / "run" / "env.json").read_text())
    assert env["versions"]["torch"] in page and str(env["git_commit"]) in page
    assert "per-class accuracy (worst first)" in page and "Time per stage" in markdown


def test_the_results_table_is_what_the_report_shows(report):
    table = run_cli("vidssl-report", str(report / "run"), "--table", check=True).stdout
    assert table in (report / "out" / "report.md").read_text()
    assert table.splitlines()[0] == "| run | stage | top1 | top5 | mean_class_acc | R@1 | R@5 | protocol |"


def test_the_page_renders_in_headless_chromium(report, tmp_path):
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        pytest.skip("needs Debian's chromium for the headless check (apt-get install chromium)")
    page = (report / "out" / "report.html").as_uri()
    common = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars"]
    dom = subprocess.run(
        [*common, "--dump-dom", page], capture_output=True, text=True, timeout=120, check=True
    ).stdout
    for marker in (
        'id="results"',
        'id="timing"',
        'id="environment"',
        'class="curves"',
        'class="confusion"',
        'class="retrieval"',
        'class="per-class"',
    ):
        assert marker in dom, marker
    shot = tmp_path / "shot.png"
    subprocess.run(
        [*common, "--window-size=1200,1600", f"--screenshot={shot}", page],
        capture_output=True,
        timeout=120,
        check=True,
    )
    from PIL import Image

    pixels = np.asarray(Image.open(shot).convert("L"), dtype=float)
    assert pixels.shape == (1600, 1200)
    assert pixels.std() > 20 and (pixels < 128).mean() > 0.01, "the page is drawn, not blank"
