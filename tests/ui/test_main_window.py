"""Two running windows, one per installation: a secret goes from one to the other by code and by link.

Everything goes through the widgets of the real main window, on the real mailbox,
transit relay and link relay, with the real keychain; afterwards no file either
installation wrote holds the secret (Qt's own settings directories included).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QLineEdit

from ots_desktop.ui.context import UiContext
from ots_desktop.ui.main_window import MainWindow
from tests.conftest import CANARY, Home
from tests.support.canary import find_canary

NET_MS = 30_000


def _open(qtbot: QtBot, ctx: UiContext, folder: Path) -> MainWindow:
    window = MainWindow(ctx)
    folder.mkdir(parents=True, exist_ok=True)
    window.receive_page.set_save_folder(folder)
    window.show()
    qtbot.waitExposed(window)
    return window


@pytest.fixture
def windows(qtbot: QtBot, ctx: UiContext, peer_ctx: UiContext, tmp_path: Path) -> Iterator[tuple[MainWindow,
                                                                                                  MainWindow]]:
    sender = _open(qtbot, ctx, tmp_path / "alice-downloads")
    receiver = _open(qtbot, peer_ctx, tmp_path / "bob-downloads")
    yield sender, receiver
    for window in (sender, receiver):
        window.receive_page.shutdown()
        qtbot.waitUntil(lambda w=window: w.receive_page.idle, timeout=NET_MS)
        window.keep_in_tray = False
        window.hide()
        window.deleteLater()


def _share(qtbot: QtBot, window: MainWindow, secret: str, via: str) -> None:
    qtbot.keyClick(window, Qt.Key.Key_1, Qt.KeyboardModifier.ControlModifier)
    assert window.tabs.currentWidget() is window.send_page
    window.send_page.options.set_channel(via)
    window.send_page.focus_secret()
    qtbot.keyClicks(window.send_page.secret.edit, secret)
    qtbot.keyClick(window.send_page.secret.edit, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)


def _shown_secret(qtbot: QtBot, window: MainWindow) -> str:
    view = window.receive_page.secret_view
    qtbot.waitUntil(lambda: view.has_secret, timeout=NET_MS)
    view.set_shown(True)
    return view.plain.toPlainText()


def test_a_secret_goes_from_one_window_to_the_other_by_code(windows: tuple[MainWindow, MainWindow],
                                                            qtbot: QtBot, isolated_home: Home) -> None:
    sender, receiver = windows
    secret = CANARY.decode() + "-by-code"
    _share(qtbot, sender, secret, "wormhole")
    qtbot.waitUntil(lambda: bool(sender.send_page.cards()) and bool(sender.send_page.cards()[0].code),
                    timeout=NET_MS)
    code = sender.send_page.cards()[0].code
    assert sender.send_page.secret.edit.text() == ""  # taken out of the field at once
    receiver.show_receive()
    assert receiver.tabs.currentWidget() is receiver.receive_page
    nameplate, words = code.split("-", 1)
    qtbot.keyClicks(receiver.receive_page.field, nameplate + "-")
    qtbot.waitUntil(lambda: receiver.receive_page.completion.words_ready, timeout=NET_MS)
    qtbot.keyClicks(receiver.receive_page.field, words)
    qtbot.mouseClick(receiver.receive_page.receive_button, Qt.MouseButton.LeftButton)
    assert _shown_secret(qtbot, receiver) == secret
    qtbot.waitUntil(lambda: sender.send_page.cards()[0].state == "delivered", timeout=NET_MS)
    receiver.receive_page.secret_view.clear()
    _assert_no_canary(isolated_home)


def test_a_secret_goes_from_one_window_to_the_other_by_link(windows: tuple[MainWindow, MainWindow],
                                                            qtbot: QtBot, isolated_home: Home) -> None:
    sender, receiver = windows
    secret = CANARY.decode() + "-by-link"
    _share(qtbot, sender, secret, "link")
    qtbot.waitUntil(lambda: bool(sender.send_page.cards()) and bool(sender.send_page.cards()[0].link),
                    timeout=NET_MS)
    card = sender.send_page.cards()[0]
    receiver.show_receive()
    receiver.receive_page.open_link(card.link)
    assert _shown_secret(qtbot, receiver) == secret
    qtbot.waitUntil(lambda: card.state == "revealed", timeout=NET_MS)  # the live receipt arrived
    receiver.receive_page.secret_view.clear()
    _assert_no_canary(isolated_home)


def test_tab_shortcuts_and_the_activity_view(windows: tuple[MainWindow, MainWindow], qtbot: QtBot) -> None:
    sender, _ = windows
    sender.bring_to_front()
    qtbot.waitUntil(sender.isActiveWindow, timeout=5000)
    for index, page in enumerate((sender.send_page, sender.receive_page, sender.activity_page,
                                  sender.settings_page)):
        qtbot.keyClick(sender, getattr(Qt.Key, f"Key_{index + 1}"), Qt.KeyboardModifier.ControlModifier)
        assert sender.tabs.currentWidget() is page
    qtbot.waitUntil(lambda: sender.activity_page.model.rowCount() > 0, timeout=NET_MS)


def test_dropping_files_on_a_second_launch_queues_them(windows: tuple[MainWindow, MainWindow], qtbot: QtBot,
                                                        tmp_path: Path) -> None:
    sender, _ = windows
    queued = tmp_path / "service-account.json"
    queued.write_text("{}")
    sender.open_files([str(queued)])
    assert sender.tabs.currentWidget() is sender.send_page
    assert sender.send_page.queue.paths() == [queued]


def _assert_no_canary(home: Home) -> None:
    """No file under either installation, HOME or Qt's config dirs holds the secret."""
    QApplication.processEvents()
    hits = find_canary([home.root], CANARY)
    assert hits == [], f"the secret was written to {hits}"


def test_every_control_is_named_with_what_it_shows(qtbot: QtBot, ctx: UiContext) -> None:
    # Label in name (WCAG 2.5.3): speech-input users say what they see, screen-reader users hear the name.
    # Read through Qt's accessibility interface, which is what the AT-SPI bridge reports.
    from PySide6.QtGui import QAccessible
    from PySide6.QtWidgets import QAbstractButton, QToolButton

    from ots_desktop.ui.a11y import visible_label

    window = MainWindow(ctx)
    qtbot.addWidget(window)
    problems = []
    for button in window.findChildren(QAbstractButton):
        iface = QAccessible.queryAccessibleInterface(button)
        name = iface.text(QAccessible.Text.Name) if iface is not None else ""
        label = visible_label(button)
        if not name and (button.isVisibleTo(window) or isinstance(button.parent(), QLineEdit)):
            problems.append(f"unnamed {type(button).__name__} {label!r} in {type(button.parent()).__name__}")
        elif label and label[0].isalnum() and label.lower() not in name.lower():
            problems.append(f"{label!r} is named {name!r}")
    assert problems == []
    browse = next(b for b in window.findChildren(QAbstractButton) if visible_label(b) == "Browse")
    assert browse.accessibleDescription() == "Choose a CA bundle file"  # the explanation is kept
    clears = [b for b in window.findChildren(QToolButton) if isinstance(b.parent(), QLineEdit)]
    assert clears and all(b.accessibleName().startswith("Clear ") for b in clears)
