"""Command-line entry points. Every vidssl command (core and plugins) runs its body through
:func:`guarded`, so all of them end alike:

====  ==================================================================================
 0     success
 1     run failure: an unreadable checkpoint or video, a failed write (disk full, read-only)
 2     user error: a config or command-line mistake, a missing dataset, a broken plugin
 75    stopped for requeue: a stop signal (SIGTERM, SIGUSR1) came, the checkpoint is written
 130   interrupted (Ctrl-C)
====  ==================================================================================
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import sys
from collections.abc import Callable
from typing import Any

from vidssl._common.errors import VidsslError
from vidssl._speed.host_memory import claim_process


def guarded(command: str, body: Callable[[], int], debug: bool, interrupted: str = "") -> int:
    """Run ``body`` and return its exit code; print a :class:`VidsslError` or an ``OSError`` as
    one line (the traceback only with ``debug``) and return the code of the table above; on
    Ctrl-C print ``interrupted`` after the command's name (how to continue, where it can). A
    process started as ``command`` may take process-wide settings
    (:func:`vidssl._speed.host_memory.claim_process`)."""
    claim_process(command)
    try:
        return body()
    except VidsslError as exc:
        if debug:
            raise
        print(f"{command}: error: {_one_line(str(exc))}", file=sys.stderr)
        return exc.exit_code
    except BrokenPipeError:  # e.g. `vidssl-plugins | head`: the reader left, nothing is wrong
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except OSError as exc:
        if debug:
            raise
        print(f"{command}: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"{command}: interrupted{interrupted}", file=sys.stderr)
        return 130


class _HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Descriptions as written (line breaks kept); an option's default appended to its help
    unless the help already speaks of it, or it has none worth saying."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if (
            "default" in text
            or not action.option_strings
            or action.default in (None, False, argparse.SUPPRESS)
        ):
            return text
        return f"{text} (default: %(default)s)"


class _Parser(argparse.ArgumentParser):
    """An argument parser whose subcommands' parsers format their help alike."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", _HelpFormatter)
        super().__init__(*args, **kwargs)


def command_parser(prog: str, doc: str) -> argparse.ArgumentParser:
    """The argument parser of a vidssl command: ``doc`` (the command module's docstring) as its
    description in plain text (reST markup removed, line breaks kept), defaults in the help of
    every option, and ``--debug``."""
    text = re.sub(r":\w+:`~?([^`]+)`", r"\1", doc)  # :mod:`x`, :func:`~a.b` -> x, a.b
    text = re.sub(r"``([^`]+)``", r"\1", text)
    parser = _Parser(prog=prog, description=text.strip())
    parser.add_argument(
        "--debug", action="store_true", help="show the traceback of an error (default: one line)"
    )
    return parser


def integer_list(text: str | None, option: str) -> list[int | None]:
    """``"1,2,3"`` → ``[1, 2, 3]``; nothing given → ``[None]`` (one run with the default)."""
    from vidssl._common.errors import ConfigError  # noqa: PLC0415 -- lazy: start-up

    if not text:
        return [None]
    try:
        return [int(x) for x in text.split(",")]
    except ValueError:
        raise ConfigError(f"--{option}: expected comma-separated integers, got '{text}'") from None


def mean_std(values: list[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (0 for a single value) of several runs' metric."""

    return statistics.fmean(values), statistics.stdev(values) if len(values) > 1 else 0.0


def _one_line(message: str) -> str:
    """The error itself out of a message a DataLoader worker wrapped around its traceback."""
    if "Original Traceback" not in message:
        return message
    last = message.rstrip().splitlines()[-1]
    return last.split(": ", 1)[1] if ": " in last else last
