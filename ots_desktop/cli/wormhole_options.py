"""Options shared by ``ots send`` and ``ots receive`` for the wormhole channel."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable
from typing import Any, TypeVar

import click

from ots_desktop.cli.output import emit_json, warn
from ots_desktop.core.events import ChannelEvent, EventKind
from ots_desktop.core.hosts import mailbox_warning

F = TypeVar("F", bound=Callable[..., Any])


def server_options(func: F) -> F:
    """``--mailbox-url``, ``--transit-helper`` and ``--timeout``."""
    func = click.option("--timeout", type=click.FloatRange(1, 86400), default=None, metavar="S",
                        help="Give up after S seconds without the other side (default 600).")(func)
    func = click.option("--transit-helper", metavar="HINT", help="Transit relay, like tcp:host:4001 "
                        "(or OTS_TRANSIT_HELPER).")(func)
    func = click.option("--mailbox-url", metavar="URL", help="Wormhole mailbox, like ws://host:4000/v1 "
                        "(or OTS_MAILBOX_URL).")(func)
    return func




def warn_plain_mailbox(mailbox_url: str, as_json: bool) -> None:
    """Before connecting, say once that a plain ``ws://`` mailbox off this machine shows who talks to whom.

    People get ``ots: warning: ...`` on stderr; with ``--json`` a ``{"event": "warning"}``
    line also goes to stdout, next to the other events.
    """
    text = mailbox_warning(mailbox_url)
    if text is None:
        return
    if as_json:
        emit_json({"event": "warning", "reason": "plain_mailbox", "message": text})
    warn(f"ots: warning: {text}")


class ProgressPrinter:
    """Progress for people on stderr, or JSON lines; throttled to whole percents."""

    def __init__(self, as_json: bool) -> None:
        self.as_json = as_json
        self._last = -1

    def __call__(self, done: int, total: int) -> None:
        percent = 100 if total == 0 else done * 100 // total
        if percent == self._last:
            return
        self._last = percent
        if self.as_json:
            if percent % 5 == 0:
                emit_json({"event": "progress", "done": done, "total": total})
        elif sys.stderr.isatty():
            sys.stderr.write(f"\r{percent:3d}% of {total:,} bytes")
            if done >= total:
                sys.stderr.write("\n")
            sys.stderr.flush()


def human_events(event: ChannelEvent) -> None:
    """One line per step for people (stderr, so stdout stays the payload)."""
    texts = {
        EventKind.WAITING: "Waiting for the other side...",
        EventKind.CONNECTED: "Connected; keys agreed.",
    }
    text = texts.get(event.kind)
    if text:
        warn(text)
    elif event.kind is EventKind.ALERT:
        warn(f"ALERT: {event.message}")


def confirm_on_tty(prompt: str) -> Callable[[str], Any]:
    """A verifier confirmation that asks on the terminal, even when stdin is a pipe.

    Refused up front (a usage error, before any code exists) when there is no terminal to ask on.
    """
    from ots_desktop.cli.terminal import have_terminal

    if not have_terminal():
        raise click.UsageError("--verify asks you to compare words on the terminal, and there is none")

    def ask(words: str) -> bool:
        return _ask_on_tty(f"Verification words: {words}\n{prompt}")

    async def confirm(words: str) -> bool:
        # The read blocks; on its own thread, so the wormhole (and the other side's news) keeps moving.
        return await _ask_aside(ask, words)

    return confirm


def _ask_on_tty(question: str) -> bool:
    """A yes/no on the terminal, on the calling thread; False without a terminal."""
    from ots_desktop.cli.terminal import ask_yes_no

    return ask_yes_no(question)


async def ask_before_taking(kind: str, name: str, size: int) -> bool:
    """On the terminal: take the offered ``kind`` ``name`` of ``size`` bytes? (a worker thread reads the answer)."""
    from ots_desktop.core.sizes import format_size

    return await _ask_aside(_ask_on_tty, f"Receive the {kind} {name!r} ({format_size(size)})?")


async def _ask_aside(ask: Callable[[str], bool], question: str) -> bool:
    """Run a terminal question on a daemon thread.

    When the other side stops meanwhile the question is withdrawn: the command ends at once with
    the reason, and the thread still blocked on the terminal read must not hold the exit (a pool
    thread would, until someone pressed Enter).
    """
    import threading

    loop = asyncio.get_running_loop()
    answer: asyncio.Future[bool] = loop.create_future()

    def settle(value: bool | None, error: BaseException | None) -> None:
        if answer.done():
            return
        if error is not None:
            answer.set_exception(error)
        else:
            answer.set_result(bool(value))

    def work() -> None:
        try:
            value = ask(question)
        except BaseException as exc:  # noqa: BLE001 - handed to the awaiting side
            loop.call_soon_threadsafe(settle, None, exc)
        else:
            loop.call_soon_threadsafe(settle, value, None)

    threading.Thread(target=work, name="ots-terminal-question", daemon=True).start()
    try:
        return await answer
    except asyncio.CancelledError:
        sys.stderr.write("\n")  # the question stays on screen unanswered; what follows starts a new line
        raise
