"""Printing results for people or, with ``--json``, one JSON object per line."""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from ots_desktop.core.secret import SecretBuffer


def emit_json(obj: dict[str, Any]) -> None:
    """Print one JSON object on its own line and flush, so scripts see it at once."""
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def say(text: str) -> None:
    """A line for people on stdout."""
    click.echo(text)


def warn(text: str) -> None:
    """A line for people on stderr."""
    click.echo(text, err=True)


def write_secret(text: SecretBuffer) -> None:
    """Write a received text secret's exact bytes to stdout (a newline follows only on a terminal)."""
    view = text.view()
    try:
        sys.stdout.buffer.write(view)
    finally:
        view.release()
    if sys.stdout.isatty():
        sys.stdout.buffer.write(b"\n")
    sys.stdout.flush()
