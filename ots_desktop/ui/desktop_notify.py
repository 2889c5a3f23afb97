"""Notifications through the desktop's notification service (org.freedesktop.Notifications), when it has one.

The desktop shows them its own way (and keeps them in its history); the tray's balloon is the
fallback where no service runs. The D-Bus calls go through jeepney on a worker thread, never
on the loop; a service that stops answering falls back to the balloon.
"""

from __future__ import annotations

import asyncio
import sys
import time
from typing import Any

SERVICE = "org.freedesktop.Notifications"
PATH = "/org/freedesktop/Notifications"
APP_NAME = "ots-desktop"
ICON = "dev.otsdesktop.ots-desktop"
TIMEOUT_MS = 8000
_URGENCY = {"info": 1, "success": 1, "warning": 1, "error": 2}  # low 0, normal 1, critical 2


def _call(method: str, signature: str | None = None, body: tuple[Any, ...] = ()) -> tuple[Any, ...]:
    from jeepney import DBusAddress, new_method_call
    from jeepney.io.blocking import open_dbus_connection

    address = DBusAddress(PATH, bus_name=SERVICE, interface=SERVICE)
    with open_dbus_connection(bus="SESSION") as connection:
        reply = connection.send_and_get_reply(new_method_call(address, method, signature, body), timeout=5)
    return tuple(reply.body)


def _has_owner() -> bool:
    """Whether a notification server runs now (asked of the bus itself: no D-Bus activation of one)."""
    from jeepney import DBusAddress, new_method_call
    from jeepney.io.blocking import open_dbus_connection

    bus = DBusAddress("/org/freedesktop/DBus", bus_name="org.freedesktop.DBus", interface="org.freedesktop.DBus")
    with open_dbus_connection(bus="SESSION") as connection:
        reply = connection.send_and_get_reply(new_method_call(bus, "NameHasOwner", "s", (SERVICE,)), timeout=5)
    return bool(reply.body[0])


def service_name() -> str | None:
    """The running notification server's name (dunst, GNOME Shell, Plasma...), or None when there is none."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        if not _has_owner():
            return None
        name, _vendor, _version, _spec = _call("GetServerInformation")
    except Exception:  # noqa: BLE001 - no bus, no service, no jeepney: the tray's balloon it is
        return None
    return str(name)


def notify(title: str, message: str, level: str) -> int:
    """Show one notification; its id. Raises when the service cannot take it."""
    hints = {"urgency": ("y", _URGENCY.get(level, 1)), "desktop-entry": ("s", ICON)}
    (notification_id,) = _call("Notify", "susssasa{sv}i",
                               (APP_NAME, 0, ICON, title, message, [], hints, TIMEOUT_MS))
    return int(notification_id)


class DesktopNotifications:
    """Sends notifications to the desktop's service from a worker thread, when one runs.

    The service is looked for on the first notification (on the worker thread) and again after
    it failed once, at most every minute.
    """

    RECHECK_S = 60.0

    def __init__(self) -> None:
        self.server: str | None = None
        self._checked_at: float | None = None

    def _send(self, title: str, message: str, level: str) -> bool:
        now = time.monotonic()
        if self.server is None and (self._checked_at is None or now - self._checked_at >= self.RECHECK_S):
            self._checked_at = now
            self.server = service_name()
        if self.server is None:
            return False
        try:
            notify(title, message, level)
        except Exception:  # noqa: BLE001 - the service went away: the balloon, until it is back
            self.server = None
            return False
        return True

    async def send(self, title: str, message: str, level: str) -> bool:
        """True once the desktop's service took it; False: show it some other way."""
        return await asyncio.to_thread(self._send, title, message, level)
