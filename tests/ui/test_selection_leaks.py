"""No secret is left on CLIPBOARD or PRIMARY, as another X client (xclip) sees them on the real X server.

- Sharing the clipboard (tray, Ctrl+Shift+L, Ctrl+Shift+V) takes the secret off the clipboard at
  once and puts the link or code there instead, with the password-manager hints, cleared after the
  timeout; PRIMARY is emptied too when it holds the same text.
- Selecting a secret shown in clear (received, or typed into the Send page) never hands it to
  PRIMARY, which X11 pastes on any middle-click with no hints and no timeout.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pytestqt.qtbot import QtBot

from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QClipboard, QGuiApplication

from ots_desktop.core.secret import SecretBuffer
from ots_desktop.ui.context import UiContext
from ots_desktop.ui.main_window import MainWindow
from ots_desktop.ui.receive.secret_view import SecretView
from tests.ui.window_support import main_window
from tests.ui.x_selection import own, read

CANARY = b"sk_live_canary_selection_7f3a"
WAIT_MS = 30_000


@pytest.fixture
def window(qtbot: QtBot, ctx: UiContext) -> Iterator[MainWindow]:
    yield from main_window(qtbot, ctx)


@pytest.mark.parametrize("via", ["link", "wormhole"])
def test_sharing_the_clipboard_leaves_the_link_or_code_there_never_the_secret(
        qtbot: QtBot, ctx: UiContext, window: MainWindow, via: str) -> None:
    ctx.clipboard.timeout_s = 3
    clipboard_owner = own(qtbot, "clipboard", CANARY)
    primary_owner = own(qtbot, "primary", CANARY)  # selected in the other app before it was copied
    try:
        window.share_clipboard(via)
        # The secret left both at once, before any network work finished.
        assert read(qtbot, "clipboard") != CANARY and read(qtbot, "primary") != CANARY
        qtbot.waitUntil(lambda: bool(window.send_page.cards()), timeout=WAIT_MS)
        card = window.send_page.cards()[0]
        assert card.title.text().startswith("Clipboard, ")  # a default label tells quick shares apart
        handle = (lambda: card.link) if via == "link" else (lambda: card.code)  # type: ignore[attr-defined]
        qtbot.waitUntil(lambda: bool(handle()), timeout=WAIT_MS)
        qtbot.waitUntil(lambda: read(qtbot, "clipboard") == handle().encode(), timeout=WAIT_MS)
        targets = read(qtbot, "clipboard", "TARGETS") or b""
        assert b"x-kde-passwordManagerHint" in targets
        assert read(qtbot, "clipboard", "x-kde-passwordManagerHint") == b"secret"
        # Cleared after the timeout (3 s here), and the secret never came back.
        qtbot.waitUntil(lambda: not read(qtbot, "clipboard"), timeout=WAIT_MS)
        assert read(qtbot, "primary") != CANARY
    finally:
        clipboard_owner.stop()
        primary_owner.stop()


def test_an_empty_clipboard_clears_nothing_the_user_selected(qtbot: QtBot, ctx: UiContext,
                                                            window: MainWindow) -> None:
    QGuiApplication.clipboard().clear(QClipboard.Mode.Clipboard)
    owner = own(qtbot, "primary", b"just some selected words")
    try:
        window.share_clipboard("link")
        assert read(qtbot, "primary") == b"just some selected words"
        assert window.send_page.cards() == []
    finally:
        owner.stop()


def test_a_received_secret_selected_with_the_mouse_or_keys_never_reaches_primary(qtbot: QtBot,
                                                                                  ctx: UiContext) -> None:
    view = SecretView(ctx.clipboard)
    qtbot.addWidget(view)
    view.resize(500, 200)
    view.show()
    qtbot.waitExposed(view)
    view.set_secret(SecretBuffer(bytearray(CANARY), wipe_source=True))
    view.set_shown(True)
    area = view.plain.viewport()
    # A drag across the text with the left button, as a person selects it.
    qtbot.mousePress(area, Qt.MouseButton.LeftButton, pos=QPoint(2, 8))
    qtbot.mouseMove(area, QPoint(400, 8))
    qtbot.mouseRelease(area, Qt.MouseButton.LeftButton, pos=QPoint(400, 8))
    assert view.plain.textCursor().hasSelection()
    qtbot.wait(200)  # let any deferred selection ownership settle: there must be none left
    assert CANARY not in (read(qtbot, "primary") or b"")
    # Ctrl+A selects everything by keyboard.
    view.plain.setFocus()
    qtbot.keyClick(view.plain, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
    assert view.plain.textCursor().hasSelection()
    qtbot.wait(200)
    assert CANARY not in (read(qtbot, "primary") or b"")
    view.clear()


def test_a_typed_secret_shown_in_clear_and_selected_never_reaches_primary(qtbot: QtBot, ctx: UiContext,
                                                                         window: MainWindow) -> None:
    field = window.send_page.secret
    field.edit.setText(CANARY.decode())
    field.show_toggle.click()  # Show: the text in clear
    field.edit.setFocus()
    qtbot.keyClick(field.edit, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
    assert field.edit.hasSelectedText()
    qtbot.wait(200)
    assert CANARY not in (read(qtbot, "primary") or b"")
