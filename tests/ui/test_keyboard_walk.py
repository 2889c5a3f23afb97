"""Keyboard walks and accessible names on every page, with real key events and Qt's own accessibility API.

For each page (and the states that add controls: a code card, a link card, a received secret), Tab from the
tab bar must reach every visible, enabled control in screen order, leave every widget (no trap, tables
included) and come back round to the tab bar; Shift+Tab walks the same stops backwards. Every interactive
control has an accessible name that holds its visible label (WCAG 2.5.3).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import pytest
from pytestqt.qtbot import QtBot

from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QAccessible
from PySide6.QtWidgets import (
    QAbstractButton,
    QAbstractItemView,
    QAbstractSpinBox,
    QApplication,
    QComboBox,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QTabBar,
    QWidget,
)

from ots_desktop.ui.a11y import visible_label
from ots_desktop.ui.context import UiContext
from ots_desktop.ui.main_window import MainWindow
from tests.ui.window_support import main_window

WAIT_MS = 15_000
NET_MS = 30_000
ROW_TOLERANCE = 12  # px: controls whose tops differ by less are on one row
MAX_STOPS = 80
INTERACTIVE = (QAbstractButton, QLineEdit, QComboBox, QAbstractSpinBox, QAbstractItemView, QPlainTextEdit)


@pytest.fixture
def window(qtbot: QtBot, ctx: UiContext) -> Iterator[MainWindow]:
    for win in main_window(qtbot, ctx):
        win.resize(900, 760)
        qtbot.waitUntil(win.isActiveWindow, timeout=WAIT_MS)
        yield win


def _walk(qtbot: QtBot, window: MainWindow, key: Qt.Key) -> list[QWidget]:
    """The stops ``key`` (Tab or Backtab) visits from the tab bar until it is back there; fails on a trap."""
    bar = window.tabs.tabBar()
    bar.setFocus(Qt.FocusReason.TabFocusReason)
    qtbot.waitUntil(bar.hasFocus, timeout=WAIT_MS)
    stops: list[QWidget] = []
    focused: QWidget | None = bar
    while focused is not None:
        stops.append(focused)
        assert len(stops) < MAX_STOPS, f"Tab never came back to the tab bar: {_describe(stops[-8:])}"
        qtbot.keyClick(focused, key)
        focused = QApplication.focusWidget()
        if focused is bar:
            return stops
        assert focused is not None, "the focus left the window"
        assert stops.count(focused) < 3 and focused is not stops[-1], \
            f"Tab is trapped in {_describe([focused])} after {_describe(stops)}"
    return stops


def _describe(widgets: list[QWidget]) -> str:
    return ", ".join(f"{type(w).__name__}({w.accessibleName()!r})" for w in widgets)


def _focusable(page: QWidget) -> list[QWidget]:
    """Every control on ``page`` a Tab should reach: shown, enabled, a Tab focus policy, no focus proxy."""
    found = []
    for widget in page.findChildren(QWidget):
        if (widget.isVisible() and widget.isEnabled() and widget.focusPolicy() & Qt.FocusPolicy.TabFocus
                and widget.focusProxy() is None and widget.window() is page.window()):
            found.append(widget)
    return found


def _top_left(widget: QWidget, window: MainWindow) -> QPoint:
    return widget.mapTo(window, QPoint(0, 0))


def _name(widget: QWidget) -> str:
    if widget.accessibleName():  # what the bridge sends (Qt's own interface reports a combo box's current text)
        return widget.accessibleName()
    face = QAccessible.queryAccessibleInterface(widget)
    return face.text(QAccessible.Text.Name) if face is not None else ""


def _visible_labels(widget: QWidget, page: QWidget) -> list[str]:
    if isinstance(widget, QAbstractButton):
        return [visible_label(widget)] if visible_label(widget)[:1].isalnum() else []
    labels = [visible_label_text(label.text()) for label in page.findChildren(QLabel) if label.buddy() is widget]
    return [label for label in labels if label]


def visible_label_text(text: str) -> str:
    return text.replace("&&", "\0").replace("&", "").replace("\0", "&").strip().rstrip(":").strip()


def _check_page(qtbot: QtBot, window: MainWindow, page: QWidget, what: str) -> None:
    window.tabs.setCurrentWidget(page)
    qtbot.waitUntil(page.isVisible, timeout=WAIT_MS)
    QApplication.processEvents()
    forward = _walk(qtbot, window, Qt.Key.Key_Tab)
    backward = _walk(qtbot, window, Qt.Key.Key_Backtab)
    assert forward[1:] == list(reversed(backward[1:])), f"{what}: Shift+Tab does not retrace Tab"
    missing = [w for w in _focusable(page) if w not in forward]
    assert not missing, f"{what}: Tab never reaches {_describe(missing)}"
    on_page = [w for w in forward[1:] if page.isAncestorOf(w)]
    for before, after in itertools.pairwise(on_page):
        a, b = _top_left(before, window), _top_left(after, window)
        same_row = abs(a.y() - b.y()) < ROW_TOLERANCE
        assert (b.x() > a.x()) if same_row else (b.y() > a.y()), \
            f"{what}: {_describe([after])} at {b.toTuple()} comes after {_describe([before])} at {a.toTuple()}"
    for widget in page.findChildren(QWidget):
        if (not isinstance(widget, INTERACTIVE) or not widget.isVisible()
                or isinstance(widget.parent(), QAbstractSpinBox | QComboBox)):  # a spin box's own line edit
            continue
        name = _name(widget)
        assert name.strip(), f"{what}: {type(widget).__name__} {widget.objectName()!r} has no accessible name"
        for label in _visible_labels(widget, page):
            assert label.lower() in name.lower(), f"{what}: name {name!r} does not hold the label {label!r}"


def _check_tab_names(window: MainWindow) -> None:
    bar: QTabBar = window.tabs.tabBar()
    face = QAccessible.queryAccessibleInterface(bar)
    assert face is not None
    names = [face.child(i).text(QAccessible.Text.Name) for i in range(face.childCount())]
    for index in range(bar.count()):
        label = visible_label_text(bar.tabText(index))
        assert any(label.lower() in name.lower() for name in names), (label, names)


def test_every_page_walks_in_screen_order_and_names_its_controls(qtbot: QtBot, window: MainWindow) -> None:
    _check_tab_names(window)
    for page, what in ((window.send_page, "Send"), (window.receive_page, "Receive"),
                       (window.activity_page, "Activity"), (window.settings_page, "Settings")):
        _check_page(qtbot, window, page, what)


@pytest.fixture
def peer_window(qtbot: QtBot, peer_ctx: UiContext) -> Iterator[MainWindow]:
    yield from main_window(qtbot, peer_ctx)


def test_shares_and_a_received_secret_walk_and_are_named(qtbot: QtBot, window: MainWindow,
                                                         peer_window: MainWindow) -> None:
    send = window.send_page
    send.focus_secret()
    qtbot.keyClicks(send.secret.edit, "canary-keys-walk-1")
    send.share()
    qtbot.waitUntil(lambda: bool(send.cards()) and bool(send.cards()[0].code), timeout=NET_MS)
    code = send.cards()[0].code
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow, timeout=WAIT_MS)
    _check_page(qtbot, window, send, "Send with a code card")

    peer_window.activateWindow()
    qtbot.waitUntil(peer_window.isActiveWindow, timeout=WAIT_MS)
    receive = peer_window.receive_page
    peer_window.tabs.setCurrentWidget(receive)
    receive.field.setText(code)
    receive.field.setFocus()
    qtbot.keyClick(receive.field, Qt.Key.Key_Return)
    assert receive.field.hasFocus()  # Enter starts the receive; the focus stays in the field
    qtbot.waitUntil(lambda: receive.secret_view.has_secret, timeout=NET_MS)
    _check_page(qtbot, peer_window, receive, "Receive with a secret shown")
    # Clear by keyboard disables itself (and Show and Copy): the focus goes back to the code field.
    receive.secret_view.clear_button.setFocus(Qt.FocusReason.TabFocusReason)
    qtbot.keyClick(receive.secret_view.clear_button, Qt.Key.Key_Space)
    qtbot.waitUntil(lambda: not receive.secret_view.has_secret, timeout=WAIT_MS)
    assert QApplication.focusWidget() is receive.field

    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow, timeout=WAIT_MS)
    send.options.set_channel("link")
    send.focus_secret()
    qtbot.keyClicks(send.secret.edit, "canary-keys-walk-2")
    send.share()
    qtbot.waitUntil(lambda: len(send.cards()) == 2 and bool(send.cards()[0].link), timeout=NET_MS)
    _check_page(qtbot, window, send, "Send with a link card")


def test_verify_by_keyboard_keeps_the_focus_on_verify(qtbot: QtBot, window: MainWindow) -> None:
    # Verify disables itself while it runs (the focus moved on to Export and stayed there): afterwards the
    # keyboard is back on Verify, where the person left it.
    page = window.activity_page
    window.tabs.setCurrentWidget(page)
    qtbot.waitUntil(page.verify_button.isVisible, timeout=WAIT_MS)
    page.verify_button.setFocus(Qt.FocusReason.TabFocusReason)
    qtbot.waitUntil(page.verify_button.hasFocus, timeout=WAIT_MS)
    with qtbot.waitSignal(page.verified, timeout=NET_MS):
        qtbot.keyClick(page.verify_button, Qt.Key.Key_Space)
    qtbot.waitUntil(lambda: QApplication.focusWidget() is page.verify_button, timeout=WAIT_MS)
