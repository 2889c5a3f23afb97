"""The tray icon: quick sharing from the clipboard, receive, and notifications.

The app keeps running in the tray when its window closes. The icon shows whether a
share is waiting and whether something needs attention.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QMenu, QSystemTrayIcon

from ots_desktop.core.events import ChannelEvent, EventKind
from ots_desktop.ui.context import Level, UiContext
from ots_desktop.ui.desktop_notify import DesktopNotifications
from ots_desktop.ui.icons import TrayState, tray_icon

if TYPE_CHECKING:
    from ots_desktop.ui.main_window import MainWindow

NOTIFY_MS = 8000
_ICONS = {
    "info": QSystemTrayIcon.MessageIcon.Information,
    "success": QSystemTrayIcon.MessageIcon.Information,
    "warning": QSystemTrayIcon.MessageIcon.Warning,
    "error": QSystemTrayIcon.MessageIcon.Critical,
}
_ACTIVE = (EventKind.CREATED, EventKind.WAITING, EventKind.CONNECTED, EventKind.VERIFYING, EventKind.PROGRESS)
# A link's alerts (a wrong passphrase, a blocked network) do not end it; a failed transfer's alert
# is followed by FAILED.
_ENDED = (EventKind.DELIVERED, EventKind.RECEIVED, EventKind.FAILED, EventKind.ENDED)


class Tray(QObject):
    """The tray icon and its menu, tied to the main window."""

    shown_message = Signal(str, str)  # title, message: each notification the tray raised

    def __init__(self, ctx: UiContext, window: MainWindow) -> None:
        super().__init__(window)
        self.ctx = ctx
        self.window = window
        self.icon = QSystemTrayIcon(tray_icon(TrayState.IDLE), self)
        self.icon.setToolTip("ots-desktop")
        self.menu = QMenu()
        self.share_link_action = self._action("Share clipboard as link", lambda: window.share_clipboard("link"))
        self.share_code_action = self._action("Share clipboard as code", lambda: window.share_clipboard("wormhole"))
        self.menu.addSeparator()
        self.receive_action = self._action("Receive…", window.show_receive)
        self.request_action = self._action("Request a secret…", window.show_request)
        self.open_action = self._action("Open ots-desktop", window.bring_to_front)
        self.menu.addSeparator()
        self.quit_action = self._action("Quit", window.quit_app)
        self.icon.setContextMenu(self.menu)
        self.icon.activated.connect(self._activated)
        self.state = TrayState.IDLE
        self._active: set[str] = set()
        self.desktop = DesktopNotifications()
        self.last_route = ""  # where the last notification went: desktop, balloon or none
        ctx.notifier.notified.connect(self.show_notification)
        ctx.events.event.connect(self._on_event)

    def _action(self, text: str, slot: object) -> QAction:
        action = QAction(text, self.menu)
        action.triggered.connect(slot)
        self.menu.addAction(action)
        return action

    @staticmethod
    def available() -> bool:
        """Whether the desktop has a tray to put the icon in."""
        return QSystemTrayIcon.isSystemTrayAvailable()

    def show(self) -> None:
        """Put the icon in the tray."""
        self.icon.show()

    def hide(self) -> None:
        """Take the icon out of the tray."""
        self.icon.hide()

    def _activated(self, reason: QSystemTrayIcon.ActivationReason) -> None:
        if sys.platform == "darwin" and reason is QSystemTrayIcon.ActivationReason.Trigger:
            return  # a click on a menu-bar icon opens its menu; it must not also show or hide the window
        if reason in (QSystemTrayIcon.ActivationReason.Trigger, QSystemTrayIcon.ActivationReason.DoubleClick):
            if self.window.isVisible() and self.window.isActiveWindow():
                self.window.hide()
            else:
                self.window.bring_to_front()

    def show_notification(self, title: str, message: str, level: str) -> None:
        """Raise a desktop notification (a balloon where the desktop has no notification service)."""
        if level == Level.ERROR:
            self.set_state(TrayState.ALERT)
        self.ctx.tasks.start(self._notify(title, message, level))

    async def _notify(self, title: str, message: str, level: str) -> None:
        if await self.desktop.send(title, message, level):
            self.last_route = "desktop"
        elif self.icon.isVisible() and QSystemTrayIcon.supportsMessages():
            self.icon.showMessage(title, message, _ICONS.get(level, _ICONS["info"]), NOTIFY_MS)
            self.last_route = "balloon"
        else:
            self.last_route = "none"
        self.shown_message.emit(title, message)

    def set_state(self, state: TrayState) -> None:
        """Switch the icon (idle, sharing, alert) and its tooltip."""
        self.state = state
        self.icon.setIcon(tray_icon(state))
        tips = {TrayState.IDLE: "ots-desktop", TrayState.SHARING: "ots-desktop: a share is waiting",
                TrayState.ALERT: "ots-desktop: something needs your attention"}
        self.icon.setToolTip(tips[state])

    def acknowledge(self) -> None:
        """The user has seen the alert (the window was opened)."""
        if self.state is TrayState.ALERT:
            self.set_state(TrayState.SHARING if self._active else TrayState.IDLE)

    def _on_event(self, event: object) -> None:
        if not isinstance(event, ChannelEvent):
            return
        if event.kind in _ACTIVE and event.direction == "send":
            self._active.add(event.share_id)
        elif event.kind in _ENDED:
            self._active.discard(event.share_id)
        if self.state is not TrayState.ALERT:
            self.set_state(TrayState.SHARING if self._active else TrayState.IDLE)
