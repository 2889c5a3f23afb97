"""The in-process event stream: what the GUI (and the CLI's --json mode) follow.

Channels publish immutable events; subscribers are called synchronously, in order. A
failing subscriber is logged and skipped, so a broken view can never stop a transfer.
Events never carry a secret or a wormhole code.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum

from ots_desktop.core.audit.events import Channel, Reason

_log = logging.getLogger(__name__)


class EventKind(StrEnum):
    """What happened to a share or a receive."""

    CREATED = "created"
    WAITING = "waiting"
    CONNECTED = "connected"
    VERIFYING = "verifying"
    PROGRESS = "progress"
    DELIVERED = "delivered"
    RECEIVED = "received"
    FAILED = "failed"
    ALERT = "alert"
    # A link after it was made, as its sender sees it: each reveal (details: at, from), and its end
    # (details: state = revealed, expired, revoked or burned).
    REVEALED = "revealed"
    ENDED = "ended"


@dataclass(frozen=True)
class ChannelEvent:
    """One step of a share (``direction`` "send") or a receive ("receive")."""

    kind: EventKind
    channel: Channel
    share_id: str
    direction: str
    reason: Reason | None = None
    message: str | None = None
    done_bytes: int | None = None
    total_bytes: int | None = None
    label: str | None = None
    details: dict[str, str] = field(default_factory=dict)


Subscriber = Callable[[ChannelEvent], None]


class EventBus:
    """Publish/subscribe for :class:`ChannelEvent`, synchronous and loop-free."""

    def __init__(self) -> None:
        self._subscribers: list[Subscriber] = []

    def subscribe(self, subscriber: Subscriber) -> Callable[[], None]:
        """Start delivering events to ``subscriber``; returns a function that stops it."""
        self._subscribers.append(subscriber)

        def unsubscribe() -> None:
            if subscriber in self._subscribers:
                self._subscribers.remove(subscriber)

        return unsubscribe

    def publish(self, event: ChannelEvent) -> None:
        """Deliver ``event`` to every subscriber."""
        for subscriber in list(self._subscribers):
            try:
                subscriber(event)
            except Exception:  # noqa: BLE001 - a view's bug must not break a transfer
                _log.exception("event subscriber failed on %s", event.kind)
