"""Window-wide keys, pressed as real keys (XTEST, xdotool) on the real X server: Ctrl+2 lands in the code field,
Ctrl+E exports even from a text field, F1 shows Help/About."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pytestqt.qtbot import QtBot

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QFileDialog, QMessageBox

from ots_desktop import __version__
from ots_desktop.ui.context import UiContext
from ots_desktop.ui.main_window import MainWindow
from tests.ui.test_code_keys import key

WAIT_MS = 15_000


@pytest.fixture
def window(qtbot: QtBot, ctx: UiContext) -> Iterator[MainWindow]:
    win = MainWindow(ctx)
    win.show()
    qtbot.waitExposed(win)
    win.activateWindow()
    qtbot.waitUntil(win.isActiveWindow, timeout=WAIT_MS)
    yield win
    win.receive_page.shutdown()
    qtbot.waitUntil(lambda: win.receive_page.idle, timeout=20_000)
    win.hide()
    win.deleteLater()


def test_ctrl_2_puts_the_cursor_in_the_code_field(qtbot: QtBot, window: MainWindow) -> None:
    key(qtbot, "ctrl+2")
    qtbot.waitUntil(lambda: window.tabs.currentWidget() is window.receive_page, timeout=WAIT_MS)
    qtbot.waitUntil(window.receive_page.field.hasFocus, timeout=WAIT_MS)


def test_ctrl_e_exports_even_while_typing_in_the_search_field(qtbot: QtBot, window: MainWindow) -> None:
    key(qtbot, "ctrl+3")
    page = window.activity_page
    qtbot.waitUntil(lambda: window.tabs.currentWidget() is page, timeout=WAIT_MS)
    page.focus_search()
    qtbot.waitUntil(page.search_field.hasFocus, timeout=WAIT_MS)
    page.search_field.setText("share")
    page.search_field.setCursorPosition(0)
    seen: list[str] = []

    def close_dialog() -> None:
        dialog = QApplication.activeModalWidget()
        if isinstance(dialog, QFileDialog):
            seen.append(dialog.windowTitle())
            dialog.reject()

    timer = QTimer()
    timer.timeout.connect(close_dialog)
    timer.start(50)
    key(qtbot, "ctrl+e")
    qtbot.waitUntil(lambda: bool(seen), timeout=WAIT_MS)
    timer.stop()
    assert seen == ["Export the audit log"]
    assert page.search_field.cursorPosition() == 0  # the key went to Export, not to "end of line"


def test_f1_shows_help_and_about(qtbot: QtBot, window: MainWindow) -> None:
    texts: list[str] = []

    def close_box() -> None:
        box = QApplication.activeModalWidget()
        if isinstance(box, QMessageBox):
            texts.append(box.text())
            box.accept()

    timer = QTimer()
    timer.timeout.connect(close_box)
    timer.start(50)
    key(qtbot, "F1")
    qtbot.waitUntil(lambda: bool(texts), timeout=WAIT_MS)
    timer.stop()
    assert __version__ in texts[0] and "Ctrl+Shift+V" in texts[0] and "guide" in texts[0]
