"""Every vidssl command behaves alike: `--help` in plain text with help on every option, `--debug`,
one exit-code table (the manual's, docs/running.md), and a reader that leaves early (`| head`) is
not an error."""

from __future__ import annotations

import re
import subprocess

import pytest

import vidssl._cli
from conftest import BIN, REPO, run_cli

COMMANDS = [
    "vidssl-run",
    "vidssl-plugins",
    "vidssl-extract",
    "vidssl-prepare",
    "vidssl-idt",
    "vidssl-cam",
    "vidssl-eval",
    "vidssl-report",
    "vidssl-bench",
]


def undocumented(help_text: str) -> list[str]:
    """Options and arguments in an argparse ``--help`` text that have no help of their own."""
    lines = help_text.splitlines()
    missing = []
    for i, line in enumerate(lines):
        entry = re.match(r"^  (\S.*?)(\s{2,}\S.*)?$", line)
        if not entry or entry.group(1).startswith("{") or entry.group(2):
            continue
        follows = lines[i + 1] if i + 1 < len(lines) else ""
        if not re.match(r"^\s{10,}\S", follows):
            missing.append(entry.group(1))
    return missing


@pytest.mark.parametrize("command", COMMANDS)
def test_help_is_plain_text_with_help_on_every_option(command):
    main = run_cli(command, "--help", check=True).stdout
    subcommands = re.search(r"^usage: \S+ .*?\{([\w,-]+)\}", main, re.M)
    texts = {command: main}
    for sub in subcommands.group(1).split(",") if subcommands else []:
        texts[f"{command} {sub}"] = run_cli(command, sub, "--help", check=True).stdout
    for name, text in texts.items():
        assert "--debug" in text or name != command
        assert not re.search(r"``|:\w+:`", text), f"{name} --help shows reST markup"
        assert undocumented(text) == [], f"{name} --help: options without help"


def test_the_manuals_exit_codes_are_the_cli_table():
    documented = dict(re.findall(r"^ (\d+)\s+(.+)$", vidssl._cli.__doc__, re.M))
    manual = (REPO / "docs" / "running.md").read_text()
    assert documented and dict(re.findall(r"^\| (\d+) \| (.+) \|$", manual, re.M)) == documented


def test_a_reader_that_leaves_early_is_not_an_error():
    result = subprocess.run(
        f"set -o pipefail; '{BIN / 'vidssl-plugins'}' | head -n 1",
        shell=True,
        executable="/bin/bash",
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0 and result.stderr == "", result.stderr
    assert result.stdout.startswith("plugin")


def test_describe_lists_every_argument_with_type_default_and_doc():
    text = run_cli("vidssl-plugins", "--describe", "method", "vtdl", check=True).stdout
    rows = {line.split()[0]: line for line in text.splitlines()[3:]}
    assert set(rows) == {
        "queue_size",
        "dim",
        "momentum",
        "temperature",
        "temporal_negative",
        "tca",
        "tca_max",
        "min_gap",
        "shuffle_bn",
    }
    assert re.search(r"^queue_size\s+integer\s+5000\s+keys kept in the FIFO", rows["queue_size"])
    assert re.search(r"^shuffle_bn\s+boolean\s+False\s+.*Shuffle-BN", rows["shuffle_bn"])
    backbone = run_cli("vidssl-plugins", "--describe", "backbone", "r3d", check=True).stdout
    assert re.search(r"^init\s+'fan_out' \| 'seed000'\s+'fan_out'\s+init: Kaiming", backbone, re.M)
    assert "parameters: 33,203,904" in backbone


@pytest.mark.slow
def test_ctrl_c_says_how_to_continue_and_a_failed_report_writes_nothing(tiny_config, tmp_path):
    """Ctrl-C during a run ends it with 130 and says that ``--resume`` continues; a report asked
    of a folder that holds no finished run exits 2 and leaves no ``report/`` behind."""
    import signal
    import time

    work = tmp_path / "run"
    # SIGINT's default action in the child: a shell starts background jobs with it ignored, and
    # Python keeps an inherited "ignore"
    process = subprocess.Popen(
        [str(BIN / "vidssl-run"), str(tiny_config), "--work-dir", str(work)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    deadline = time.monotonic() + 120
    while not (work / "config.json").is_file() and time.monotonic() < deadline:
        time.sleep(0.1)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 130, stderr[-500:]
    assert stderr.rstrip().endswith(
        "vidssl-run: interrupted; the same command with --resume continues from the last checkpoint"
    ), stderr[-500:]
    empty = tmp_path / "not_a_run"
    empty.mkdir()
    result = run_cli("vidssl-report", str(empty))
    assert result.returncode == 2 and "not a finished vidssl run" in result.stderr
    assert not (empty / "report").exists()
