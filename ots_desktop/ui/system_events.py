"""What the operating system asks of the whole app, as opposed to one window.

- **Quit from outside the window**: macOS's Cmd+Q, Dock > Quit and logout, and a session ending on
  Linux or Windows, reach the app as a quit request, then as a close of each window. A window that
  stays in the tray vetoes a close, so without this the app would refuse to quit (and hold up the
  logout). A quit request runs the window's own Quit (which asks first when links still wait).
- **Files opened with the app** (dropped on the Dock icon, "Open With" in Finder) arrive as file-open
  events; they are queued for sending like files given on the command line.
- **Reopen** (macOS): clicking the Dock icon while the window is hidden in the menu bar shows it.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from PySide6.QtCore import QEvent, QObject
from PySide6.QtGui import QFileOpenEvent, QGuiApplication
from PySide6.QtWidgets import QApplication

if TYPE_CHECKING:
    from ots_desktop.ui.main_window import MainWindow


class SystemEvents(QObject):
    """An application-wide event filter routing quit, file-open and reopen requests to ``window``."""

    def __init__(self, app: QApplication, window: MainWindow, *, platform: str = sys.platform) -> None:
        super().__init__(window)
        self.window = window
        self.platform = platform
        self.quits = 0  # quit requests seen (each ran the window's Quit)
        app.installEventFilter(self)
        app.commitDataRequest.connect(self._session_ending)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        """Handle the app's quit, file-open and activation events; everything else goes on as usual."""
        if watched is not QApplication.instance():
            return False
        kind = event.type()
        if kind == QEvent.Type.Quit:
            return self._quit_requested()
        if kind == QEvent.Type.FileOpen and isinstance(event, QFileOpenEvent):
            path = event.file()
            if path:
                self.window.open_files([path])
                return True
            return False
        if kind == QEvent.Type.ApplicationActivate and self.platform == "darwin":
            self._reopen()
        return False

    def _quit_requested(self) -> bool:
        """True swallows the request (the person chose to keep the app running)."""
        if not self.window.keep_in_tray:
            return False  # nothing vetoes the close: Qt's own quit goes ahead
        self.quits += 1
        return not self.window.quit_app()

    def _session_ending(self, manager: object) -> None:
        # The session is ending (logout, shutdown): the tray must not keep the window from closing.
        self.window.keep_in_tray = False

    def _reopen(self) -> None:
        if self.window.keep_in_tray and not self.window.isVisible() and not self.window.isMinimized():
            self.window.bring_to_front()


def install(window: MainWindow) -> SystemEvents | None:
    """Route the system's app-wide requests to ``window`` (None without a QApplication)."""
    app = QGuiApplication.instance()
    if not isinstance(app, QApplication):
        return None
    return SystemEvents(app, window)
