"""Where the commands write: results on stdout, progress and notes on stderr.

rich consoles that degrade without a terminal (no colour, no live updates; wide lines so
that OCIDs are not folded in logs and CI output).
"""

from __future__ import annotations

import json
import logging
import os
import sys
from typing import Any

import click
from rich.console import Console

NON_TERMINAL_WIDTH = 200


def make_console(*, stderr: bool) -> Console:
    """A console on stdout or stderr; wide when it is not a terminal."""
    console = Console(stderr=stderr, highlight=False)
    if not console.is_terminal and "COLUMNS" not in os.environ:
        console = Console(stderr=stderr, highlight=False, width=NON_TERMINAL_WIDTH)
    return console


def say(console: Console, text: str) -> None:
    """A line of plain text (no markup, no wrapping: long OCIDs stay whole)."""
    console.print(text, markup=False, highlight=False, soft_wrap=True)


def note(text: str) -> None:
    """A one-line note for the user, on stderr."""
    click.echo(text, err=True)


def emit_json(body: Any) -> None:
    """A JSON result on stdout: the only thing a command writes there."""
    click.echo(json.dumps(body, indent=2, ensure_ascii=False))


def configure_logging() -> None:
    """Warnings and errors to stderr, set up before ADS is imported: ADS otherwise
    configures the root logger at INFO on stdout, which would mix with the JSON result."""
    if not logging.getLogger().handlers:
        logging.basicConfig(
            stream=sys.stderr, level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s"
        )
