"""Window-wide keys, pressed as real keys (XTEST, xdotool) on the real X server: Ctrl+2 lands in the code field,
Ctrl+E exports even from a text field, F1 shows Help/About."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pytestqt.qtbot import QtBot

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFileDialog, QMessageBox, QWidget

from ots_desktop import __version__
from ots_desktop.ui.context import UiContext
from ots_desktop.ui.main_window import MainWindow
from tests.ui.test_code_keys import key
from tests.ui.window_support import ModalAnswer, main_window

WAIT_MS = 15_000


@pytest.fixture
def window(qtbot: QtBot, ctx: UiContext) -> Iterator[MainWindow]:
    for win in main_window(qtbot, ctx):
        qtbot.waitUntil(win.isActiveWindow, timeout=WAIT_MS)
        yield win


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
    def cancel(dialog: QWidget) -> str:
        assert isinstance(dialog, QFileDialog)
        dialog.reject()
        return dialog.windowTitle()

    answer = ModalAnswer(QFileDialog, cancel)
    key(qtbot, "ctrl+e")
    assert answer.wait(qtbot) == ["Export the audit log"]
    assert page.search_field.cursorPosition() == 0  # the key went to Export, not to "end of line"


def test_f1_shows_help_and_about(qtbot: QtBot, window: MainWindow) -> None:
    def ok(box: QWidget) -> str:
        assert isinstance(box, QMessageBox)
        box.accept()
        return box.text()

    answer = ModalAnswer(QMessageBox, ok)
    key(qtbot, "F1")
    texts = answer.wait(qtbot)
    assert __version__ in texts[0] and "Ctrl+Shift+V" in texts[0] and "guide" in texts[0]


def _tab_stops(qtbot: QtBot, window: MainWindow) -> list[QWidget]:
    """The widgets Tab visits on the current page, from the tab bar round to it again."""
    from PySide6.QtWidgets import QApplication

    bar = window.tabs.tabBar()
    bar.setFocus(Qt.FocusReason.TabFocusReason)
    qtbot.waitUntil(bar.hasFocus, timeout=WAIT_MS)
    stops: list[QWidget] = []
    while (focused := QApplication.focusWidget()) is not None and focused not in stops and len(stops) < 60:
        stops.append(focused)
        qtbot.keyClick(focused, Qt.Key.Key_Tab)
    return stops


def test_every_tab_stop_shows_that_it_has_the_focus(qtbot: QtBot, window: MainWindow) -> None:
    # Tab through each page; every stop must look different with the focus than without it (the default
    # buttons and the tab bar used not to), and no empty container (a scroll area) is a stop of its own.
    from PySide6.QtWidgets import QAbstractScrollArea, QApplication, QPlainTextEdit, QTableView, QTextEdit

    for index in range(4):
        window.tabs.setCurrentIndex(index)
        stops = _tab_stops(qtbot, window)
        assert len(stops) >= 4, stops
        for stop in stops:
            assert not (isinstance(stop, QAbstractScrollArea)
                        and not isinstance(stop, QTableView | QTextEdit | QPlainTextEdit)), stop
            stop.setFocus(Qt.FocusReason.TabFocusReason)
            QApplication.processEvents()
            with_focus = stop.grab().toImage()
            stop.clearFocus()
            QApplication.processEvents()
            without = stop.grab().toImage()
            assert with_focus != without, f"{type(stop).__name__} {stop.accessibleName()!r} on page {index}"


def test_tab_goes_through_the_activity_table_and_on_to_the_lookup(qtbot: QtBot, window: MainWindow) -> None:
    # The table takes one Tab stop (arrows move inside it); Tab then reaches the lookup field and Look up,
    # and Shift+Tab comes back the same way.
    window.tabs.setCurrentWidget(window.activity_page)
    stops = _tab_stops(qtbot, window)
    names = [stop.accessibleName() for stop in stops]
    table = names.index("Audit log entries")
    assert names.count("Audit log entries") == 1
    assert names.index("Secret to look up") > table and names.index("Look up the secret") > table, names
