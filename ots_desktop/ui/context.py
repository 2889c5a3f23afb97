"""What every page of the window shares: services, events as Qt signals, notifications, clipboard, jobs."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from PySide6.QtCore import QObject, Signal

from ots_desktop.core.events import ChannelEvent, EventKind
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
        """Turn delivered, revealed and alert events into notifications."""
        if not isinstance(event, ChannelEvent):
            return
        what = event.label or ("a link" if event.channel == "link" else "a secret")
        if event.kind is EventKind.ALERT:
            self.notify("ots-desktop alert", event.message or "Something suspicious happened.", Level.ERROR)
        elif event.kind is EventKind.DELIVERED and event.direction == "send":
            if event.channel == "link":
                self.notify("Link opened", f"{what} was revealed.", Level.SUCCESS)
            else:
                self.notify("Delivered", f"{what} was delivered.", Level.SUCCESS)


@dataclass
class UiContext:
    """Handed to every page."""

    services: Services
    events: EventBridge
    notifier: Notifier
    clipboard: SecureClipboard
    tasks: TaskRunner
