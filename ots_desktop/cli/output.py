"""Printing results for people or, with ``--json``, one JSON object per line."""

from __future__ import annotations

import json
import sys
from typing import Any

import click


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
