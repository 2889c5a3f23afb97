"""The Receive page's live state line: what a receive is doing, in a few words."""

from __future__ import annotations

from ots_desktop.core.audit.events import Channel
from ots_desktop.core.events import ChannelEvent, EventKind
from ots_desktop.core.failures import RETRY_REASONS
from ots_desktop.core.messages import sentence

NOT_A_CODE = ("That is neither a wormhole code nor a one-time link. A code looks like 7-crossover-clockwork; a link "
              "looks like https://host/s/ID#KEY.")
IDLE_STATE = "Type the code you were given, or paste a link, then press Enter."


def percent(done: int, total: int) -> int:
    """``done`` of ``total`` in whole percent (100 for an empty transfer)."""
    if total <= 0:
        return 100
    return max(0, min(100, done * 100 // total))


def describe(event: ChannelEvent) -> str | None:
    """The state line for one step of a receive, or None when the line should stay as it is."""
    link = event.channel == Channel.LINK
    if event.kind is EventKind.WAITING:
        return "Waiting for the sender…"
    if event.kind is EventKind.CONNECTED:
        return "Connected to the link relay." if link else "Connected to the sender."
    if event.kind is EventKind.VERIFYING:
        return "Verifying: compare the words with the sender."
    if event.kind is EventKind.PROGRESS and event.done_bytes is not None and event.total_bytes is not None:
        return f"Receiving… {percent(event.done_bytes, event.total_bytes)}%"
    if event.kind is EventKind.RECEIVED:
        return "Received."
    if event.kind is EventKind.FAILED:
        return f"Failed: {sentence(event.message or 'the receive did not finish')}"
    return None


def can_retry(exc: BaseException | None) -> bool:
    """Whether the receive that ended with ``exc`` can be tried again with the same code."""
    return getattr(exc, "reason", None) in RETRY_REASONS
