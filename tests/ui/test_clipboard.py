"""Copies carry the password-manager hints and are cleared only while they are still ours."""

from __future__ import annotations

from pytestqt.qtbot import QtBot

from PySide6.QtCore import QMimeData
from PySide6.QtGui import QClipboard, QGuiApplication

from ots_desktop.ui.clipboard import HINT_TYPES, SecureClipboard


def _clipboard() -> QClipboard:
    return QGuiApplication.clipboard()


def test_a_copy_carries_the_hints_and_is_cleared_after_the_timeout(qtbot: QtBot) -> None:
    secure = SecureClipboard(timeout_s=1)
    secure.copy("sk_live_clipboard_canary")
    data = _clipboard().mimeData()
    assert data.text() == "sk_live_clipboard_canary"
    assert bytes(data.data("x-kde-passwordManagerHint").data()) == b"secret"
    assert set(HINT_TYPES) <= set(data.formats())
    assert secure.pending
    with qtbot.waitSignal(secure.cleared, timeout=5000):
        pass
    assert _clipboard().text() == ""


def test_the_clipboard_is_left_alone_when_the_user_copied_something_else(qtbot: QtBot) -> None:
    secure = SecureClipboard(timeout_s=1)
    secure.copy("sk_live_first_value")
    mine = QMimeData()
    mine.setText("an unrelated note")
    _clipboard().setMimeData(mine)
    qtbot.waitUntil(lambda: not secure.pending, timeout=5000)
    assert _clipboard().text() == "an unrelated note"


def test_clear_on_quit_only_when_ours(qtbot: QtBot) -> None:
    secure = SecureClipboard(timeout_s=0)
    secure.copy("sk_live_until_quit")
    assert not secure.pending  # 0: no timer
    assert secure.clear_if_ours() is True
    assert _clipboard().text() == ""
    secure.copy("sk_live_second")
    _clipboard().setText("user's own text")
    assert secure.clear_if_ours() is False
    assert _clipboard().text() == "user's own text"


def test_non_secret_copies_get_no_hints_and_no_timer() -> None:
    secure = SecureClipboard(timeout_s=5)
    secure.copy("https://relay.example/docs", secret=False)
    assert "x-kde-passwordManagerHint" not in _clipboard().mimeData().formats()
    assert not secure.pending
