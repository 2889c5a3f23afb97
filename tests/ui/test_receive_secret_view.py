"""The secret view on its own: masked until shown, multi-line text intact, copies with hints, wiped on Clear."""

from __future__ import annotations

from pathlib import Path

from pytestqt.qtbot import QtBot

from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QLineEdit

from ots_desktop.core.secret import SecretBuffer
from ots_desktop.ui.clipboard import SecureClipboard
from ots_desktop.ui.receive.saved_view import SavedView, default_folder
from ots_desktop.ui.receive.secret_view import SecretView
from tests.conftest import Home

DOTENV = "DB_URL=postgres://app:s3cret@db:5432/prod\nAPI_KEY=sk_live_abc123\n\nREDIS_URL=redis://cache:6379/0\n"


def make_view(qtbot: QtBot) -> SecretView:
    view = SecretView(SecureClipboard(timeout_s=0))
    qtbot.addWidget(view)
    view.show()
    return view


def test_a_multi_line_secret_is_masked_then_shown_whole(qtbot: QtBot) -> None:
    view = make_view(qtbot)
    assert not view.has_secret and not view.copy_button.isEnabled()
    view.set_secret(SecretBuffer(DOTENV.encode()))
    assert view.has_secret and not view.shown
    assert view.masked.echoMode() == QLineEdit.EchoMode.Password
    assert "s3cret" not in view.masked.text() and view.plain.toPlainText() == ""
    assert "4 lines" in view.info.text()
    qtbot.keyClick(view.show_button, Qt.Key.Key_Space)
    assert view.shown and view.plain.toPlainText() == DOTENV
    # One toggle: its name stays "Show the secret", its pressed state says the text is shown.
    assert view.show_button.isChecked() and view.show_button.accessibleName() == "Show the secret"
    qtbot.keyClick(view.show_button, Qt.Key.Key_Space)
    assert not view.shown and view.plain.toPlainText() == ""


def test_copy_carries_the_password_manager_hint(qtbot: QtBot) -> None:
    view = make_view(qtbot)
    view.set_secret(SecretBuffer(DOTENV.encode()))
    with qtbot.waitSignal(view.copied, timeout=5_000):
        qtbot.mouseClick(view.copy_button, Qt.MouseButton.LeftButton)
    data = QGuiApplication.clipboard().mimeData()
    assert data.text() == DOTENV
    assert bytes(data.data("x-kde-passwordManagerHint").data()) == b"secret"
    assert not view.shown  # copying does not reveal
    QGuiApplication.clipboard().clear()


def test_clear_wipes_the_buffer_and_the_widgets(qtbot: QtBot) -> None:
    view = make_view(qtbot)
    buffer = SecretBuffer(b"one-line-secret")
    view.set_secret(buffer)
    view.set_shown(True)
    with qtbot.waitSignal(view.cleared, timeout=5_000):
        qtbot.mouseClick(view.clear_button, Qt.MouseButton.LeftButton)
    assert buffer.closed and not view.has_secret and not view.shown
    assert view.plain.toPlainText() == "" and view.masked.text() == ""
    assert not view.show_button.isEnabled() and not view.clear_button.isEnabled()


def test_a_new_secret_replaces_and_wipes_the_old_one(qtbot: QtBot) -> None:
    view = make_view(qtbot)
    first, second = SecretBuffer(b"first"), SecretBuffer(b"second")
    view.set_secret(first)
    view.set_shown(True)
    view.set_secret(second)
    assert first.closed and not second.closed and not view.shown
    view.set_shown(True)
    assert view.plain.toPlainText() == "second"
    view.clear()
    assert second.closed


def test_files_go_to_downloads_or_else_home(isolated_home: Home) -> None:
    assert default_folder() == isolated_home.home
    (isolated_home.home / "Downloads").mkdir()
    assert default_folder() == isolated_home.home / "Downloads"


def test_the_saved_view_opens_the_right_folder(qtbot: QtBot, tmp_path: Path) -> None:
    view = SavedView()
    qtbot.addWidget(view)
    (tmp_path / "a.txt").write_bytes(b"x")
    view.set_saved(tmp_path / "a.txt", 1)
    assert view.folder() == tmp_path and "file" in view.label.text()
    (tmp_path / "dir").mkdir()
    view.set_saved(tmp_path / "dir", 0)
    assert view.folder() == tmp_path / "dir" and "folder" in view.label.text()
    view.clear()
    assert view.folder() is None and not view.open_folder()


def test_the_system_copy_keys_in_a_shown_secret_copy_with_the_hint_and_the_timer(qtbot: QtBot) -> None:
    clipboard = SecureClipboard(timeout_s=30)
    view = SecretView(clipboard)
    qtbot.addWidget(view)
    view.show()
    view.set_secret(SecretBuffer(DOTENV.encode()))
    qtbot.keyClick(view.show_button, Qt.Key.Key_Space)
    view.plain.setFocus()
    qtbot.keyClick(view.plain, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
    with qtbot.waitSignal(view.copied, timeout=5_000):
        qtbot.keyClick(view.plain, Qt.Key.Key_C, Qt.KeyboardModifier.ControlModifier)
    data = QGuiApplication.clipboard().mimeData()
    assert data.text() == DOTENV
    assert bytes(data.data("x-kde-passwordManagerHint").data()) == b"secret"
    assert clipboard.pending  # the clear timer runs, as after the Copy button
    # Part of it: only the selection, with the same hint.
    cursor = view.plain.textCursor()
    cursor.setPosition(0)
    cursor.setPosition(6, cursor.MoveMode.KeepAnchor)
    view.plain.setTextCursor(cursor)
    with qtbot.waitSignal(view.copied, timeout=5_000):
        qtbot.keyClick(view.plain, Qt.Key.Key_Insert, Qt.KeyboardModifier.ControlModifier)
    data = QGuiApplication.clipboard().mimeData()
    assert data.text() == "DB_URL" and data.hasFormat("x-kde-passwordManagerHint")
    assert view.plain.contextMenuPolicy() == Qt.ContextMenuPolicy.CustomContextMenu  # the menu's Copy: the same
    clipboard.clear_if_ours()
