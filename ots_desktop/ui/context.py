"""What every page of the window shares: services, events as Qt signals, notifications, clipboard, jobs."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from PySide6.QtCore import QObject, Signal

from ots_desktop.core.events import ChannelEvent, EventKind
from ots_desktop.core.messages import sentence
from ots_desktop.core.times import local_clock
from ots_desktop.ui.clipboard import SecureClipboard
from ots_desktop.ui.services import Services
from ots_desktop.ui.tasks import TaskRunner


class Level(StrEnum):
    """How loud a banner or a notification is."""

    INFO = "info"
    SUCCESS = "success"
    WARNING = "warning"
    ERROR = "error"


class EventBridge(QObject):
    """Re-emits the channels' :class:`ChannelEvent` stream as a Qt signal (same thread: the one loop)."""

    # Named for what it carries; it shadows QObject.event(), which nothing calls on this object.
    event = Signal(object)  # type: ignore[assignment]

    def __init__(self, services: Services) -> None:
        super().__init__()
        self._unsubscribe = services.bus.subscribe(self.event.emit)

    def close(self) -> None:
        """Stop forwarding events."""
        self._unsubscribe()


class Notifier(QObject):
    """Desktop notifications: the tray shows them; tests and the window listen too.

    Alerts (a wrong code, a wrong passphrase, a blocked network, a link already
    opened) are raised from the event stream, so no page can forget one.
    """

    notified = Signal(str, str, str)  # title, message, Level

    def notify(self, title: str, message: str, level: Level = Level.INFO) -> None:
        """Raise one notification."""
        self.notified.emit(title, message, str(level))

    def on_event(self, event: object) -> None:
        """Turn alerts, deliveries, reveals and unopened endings into notifications, named by the share's label."""
        if not isinstance(event, ChannelEvent):
            return
        # The label is the user's own text: shown as typed, never re-capitalised.
        what = event.label or ("A link" if event.channel == "link" else "A secret")
        if event.kind is EventKind.ALERT:
            text = sentence(event.message or "something suspicious happened")
            self.notify("ots-desktop alert", f"{event.label}: {text}" if event.label else text, Level.ERROR)
        elif event.direction != "send":
            return
        elif event.kind is EventKind.DELIVERED:
            self.notify("Delivered", f"{what} was delivered.", Level.SUCCESS)
        elif event.kind is EventKind.REVEALED:
            where = event.details.get("from") or "an unknown address"
            at = local_clock(event.details.get("at", ""))
            self.notify("Link opened", f"{what}: opened at {at} from {where}.", Level.SUCCESS)
        elif event.kind is EventKind.ENDED and event.details.get("state") == "expired":
            self.notify("Link expired", f"{what} expired; the link no longer works.", Level.WARNING)


@dataclass
class UiContext:
    """Handed to every page."""

    services: Services
    events: EventBridge
    notifier: Notifier
    clipboard: SecureClipboard
    tasks: TaskRunner
