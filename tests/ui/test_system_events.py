"""Quit, file-open and reopen requests from the system, with the tray icon present (Xvfb with a tray host).

The events are the ones Qt delivers for macOS's Cmd+Q, Dock > Quit and logout (a spontaneous Quit to the
application) and for a file dropped on the Dock icon (QFileOpenEvent); here they are sent to the real
QApplication, since no macOS runs here.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from PySide6.QtCore import QCoreApplication, QEvent, QObject
from PySide6.QtGui import QFileOpenEvent
from PySide6.QtWidgets import QApplication

from ots_desktop.ui.context import UiContext
from ots_desktop.ui.main_window import MainWindow
from ots_desktop.ui.system_events import SystemEvents
from ots_desktop.ui.tray import Tray


@pytest.fixture
def tray_window(qtbot: QtBot, ctx: UiContext) -> Iterator[tuple[MainWindow, SystemEvents]]:
    window = MainWindow(ctx)
    tray = Tray(ctx, window)
    qtbot.waitUntil(Tray.available, timeout=10_000)
    tray.show()
    window.keep_in_tray = True
    app = QApplication.instance()
    assert isinstance(app, QApplication)
    events = SystemEvents(app, window, platform="darwin")
    yield window, events
    app.removeEventFilter(events)
    window.receive_page.shutdown()
    qtbot.waitUntil(lambda: window.receive_page.idle, timeout=20_000)
    tray.hide()
    window.keep_in_tray = False
    window.hide()
    window.deleteLater()


class _QtsOwnQuit(QObject):
    """Stands in for what Qt does with a Quit the app let through: close every window (and, here, not
    exit: the test run's QApplication must live on). Installed before SystemEvents, so it runs after it."""

    def __init__(self) -> None:
        super().__init__()
        self.closed_all: list[bool] = []

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is QApplication.instance() and event.type() == QEvent.Type.Quit:
            self.closed_all.append(QApplication.closeAllWindows() is None and not any(
                w.isVisible() for w in QApplication.topLevelWidgets() if isinstance(w, MainWindow)))
            return True
        return False


def test_a_quit_from_the_system_ends_the_app_despite_the_tray(qtbot: QtBot, ctx: UiContext) -> None:
    app = QApplication.instance()
    assert isinstance(app, QApplication)
    qts_own = _QtsOwnQuit()
    app.installEventFilter(qts_own)
    window = MainWindow(ctx)
    window.keep_in_tray = True
    events = SystemEvents(app, window, platform="darwin")
    try:
        window.show()
        qtbot.waitExposed(window)
        quits: list[bool] = []
        window.quit_requested.connect(lambda: quits.append(True))
        QCoreApplication.sendEvent(app, QEvent(QEvent.Type.Quit))
        # Quit ran once, and then every window closed: the tray no longer vetoed it.
        assert qts_own.closed_all == [True]
        assert quits == [True]
        assert events.quits == 1
        assert window.quitting and not window.keep_in_tray and not window.isVisible()
    finally:
        app.removeEventFilter(events)
        app.removeEventFilter(qts_own)
        window.receive_page.shutdown()
        qtbot.waitUntil(lambda: window.receive_page.idle, timeout=20_000)
        window.deleteLater()


def test_closing_the_window_alone_still_keeps_the_app_in_the_tray(tray_window: tuple[MainWindow, SystemEvents],
                                                                 qtbot: QtBot) -> None:
    window, events = tray_window
    window.show()
    qtbot.waitExposed(window)
    quits: list[bool] = []
    window.quit_requested.connect(lambda: quits.append(True))
    window.close()
    assert not window.isVisible() and window.keep_in_tray and quits == [] and events.quits == 0


def test_a_file_dropped_on_the_dock_icon_is_queued_for_sending(tray_window: tuple[MainWindow, SystemEvents],
                                                               qtbot: QtBot, tmp_path: Path) -> None:
    window, _events = tray_window
    dropped = tmp_path / "prod.env"
    dropped.write_bytes(b"DATABASE_URL=postgres://canary\n")
    QCoreApplication.sendEvent(QApplication.instance(), QFileOpenEvent(str(dropped)))
    qtbot.waitExposed(window)
    assert window.tabs.currentWidget() is window.send_page
    qtbot.waitUntil(lambda: dropped in window.send_page.queue.paths(), timeout=5000)


def test_clicking_the_dock_icon_shows_the_hidden_window(tray_window: tuple[MainWindow, SystemEvents],
                                                        qtbot: QtBot) -> None:
    window, _events = tray_window
    assert not window.isVisible()
    QCoreApplication.sendEvent(QApplication.instance(), QEvent(QEvent.Type.ApplicationActivate))
    qtbot.waitExposed(window)


def test_the_idle_menu_bar_icon_is_a_template_image_on_macos() -> None:
    from ots_desktop.ui.icons import TrayState, tray_icon

    assert tray_icon(TrayState.IDLE, "darwin").isMask()
    assert not tray_icon(TrayState.ALERT, "darwin").isMask()  # its colour is the message
    assert not tray_icon(TrayState.IDLE, "linux").isMask()
    assert not tray_icon(TrayState.IDLE, "darwin").isNull()
