"""Light plumbing every command shares: the group's options and clean error reporting.

Kept apart from :mod:`ots_desktop.cli.context` so that ``ots --version``, ``--help`` and
``ots server`` start without loading the keychain and audit code.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import click

from ots_desktop.cli.output import emit_json, warn
from ots_desktop.core.errors import OtsError

F = TypeVar("F", bound=Callable[..., Any])


@dataclass
class CliState:
    """Options given before the sub-command."""

    keyfile_passphrase_fd: int | None = None


def handle_errors(json_flag: str = "as_json") -> Callable[[F], F]:
    """Turn OtsError into a clean message (or a JSON error line) and its exit code."""

    def wrap(func: F) -> F:
        @functools.wraps(func)
        def run(*args: Any, **kwargs: Any) -> Any:
            try:
                return func(*args, **kwargs)
            except OtsError as exc:
                if kwargs.get(json_flag):
                    reason = getattr(exc, "reason", None)
                    if reason is not None:
                        emit_json({"event": "failed", "reason": str(reason), "message": exc.message,
                                   "exit_code": int(exc.exit_code)})
                    else:
                        emit_json({"event": "error", "error": exc.message, "exit_code": int(exc.exit_code)})
                warn(f"ots: error: {exc.message}")
                raise SystemExit(int(exc.exit_code)) from None
            except KeyboardInterrupt:
                warn("ots: cancelled")
                raise SystemExit(130) from None

        return run  # type: ignore[return-value]

    return wrap


def cli_state() -> CliState:
    """The group's state object."""
    ctx = click.get_current_context()
    state = ctx.find_object(CliState)
    return state if state is not None else CliState()
