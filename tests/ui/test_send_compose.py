"""Composing a share on the Send page: drops, the queue, the secret field, and the errors caught before sending.

These run on an installation with no servers configured: nothing here reaches the network.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from PySide6.QtCore import QByteArray, QPoint, QPointF, Qt
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QApplication, QLineEdit, QWidget

from ots_desktop.core.secret import SecretBuffer
from ots_desktop.ui.context import UiContext
from ots_desktop.ui.send.choices import MAX_TEXT
from tests.conftest import Home
from tests.ui.conftest import make_context
from tests.ui.send_support import click_share, drag_enter, drop, mime_with, new_page, type_secret


@pytest.fixture
def offline_ctx(ui_loop: asyncio.AbstractEventLoop, isolated_home: Home, monkeypatch: pytest.MonkeyPatch,
                qtbot: QtBot) -> Iterator[UiContext]:
    """An installation with the default settings (no link relay) and no servers: nothing may be sent."""
    context = make_context(isolated_home.ots_home, None, monkeypatch)
    context.services.config = replace(context.services.config, mailbox_url="ws://127.0.0.1:9/v1", relay_url="")
    yield context
    context.tasks.cancel_all()
    qtbot.waitUntil(lambda: not context.tasks.busy, timeout=10_000)
    context.events.close()
    context.services.close()


def _tree(root: Path) -> tuple[Path, Path, Path]:
    small = root / "a.txt"
    small.write_bytes(b"hello")
    big = root / "b.bin"
    big.write_bytes(b"\0" * 2048)
    folder = root / "keys"
    (folder / "inner").mkdir(parents=True)
    (folder / "one.pem").write_bytes(b"1" * 10)
    (folder / "inner" / "two.pem").write_bytes(b"2" * 20)
    return small, big, folder


def test_dropped_text_goes_masked_into_the_secret_field(qtbot: QtBot, offline_ctx: UiContext) -> None:
    page = new_page(qtbot, offline_ctx)
    env = "DB_URL=postgres://u:p@db/prod\nAPI_KEY=sk_dropped"
    assert drop(page.drop_zone, mime_with(text=env))
    assert page.secret.edit.text() == env  # line breaks kept: a whole .env fits
    assert page.secret.edit.echoMode() is QLineEdit.EchoMode.Password
    assert page.queue.is_empty() and not page.queue.isVisible()
    assert not page.banner.isVisible()


def test_dropped_files_and_a_folder_are_queued_with_names_and_sizes(qtbot: QtBot, offline_ctx: UiContext,
                                                                     tmp_path: Path) -> None:
    page = new_page(qtbot, offline_ctx)
    small, big, folder = _tree(tmp_path)
    assert drop(page.drop_zone, mime_with(paths=[small, big, folder]))
    assert page.queue.isVisible()
    rows = [page.queue.list.item(i).text() for i in range(page.queue.list.count())]
    assert rows == ["a.txt — 5 bytes", "b.bin — 2 KiB", "keys/ — folder, 2 files, 30 bytes"]
    assert page.queue.folders() == [folder]
    assert page.secret.is_empty()
    # Dropping the same file again does not queue it twice.
    assert drop(page.drop_zone, mime_with(paths=[small]))
    assert page.queue.list.count() == 3
    # Remove the second row with the Delete key, then the first with the Remove button.
    page.queue.list.setCurrentRow(1)
    page.queue.list.setFocus()
    qtbot.keyClick(page.queue.list, Qt.Key.Key_Delete)
    assert page.queue.paths() == [small, folder]
    page.queue.list.setCurrentRow(0)
    qtbot.mouseClick(page.queue.remove_button, Qt.MouseButton.LeftButton)
    assert page.queue.paths() == [folder]
    qtbot.mouseClick(page.queue.clear_button, Qt.MouseButton.LeftButton)
    assert page.queue.is_empty() and not page.queue.isVisible()


def test_unsupported_drops_are_refused(qtbot: QtBot, offline_ctx: UiContext) -> None:
    page = new_page(qtbot, offline_ctx)
    picture = mime_with(data={"image/png": b"\x89PNG\r\n\x1a\n"})
    web = mime_with(urls=["https://example.com/secret.txt"], text="https://example.com/secret.txt")
    assert not drag_enter(page.drop_zone, picture)
    assert page.banner.level == "warning" and "cannot be shared" in page.banner.text()
    assert not drag_enter(page.drop_zone, web)
    assert "on this computer" in page.banner.text()
    assert not drop(page.drop_zone, web)
    assert page.secret.is_empty() and page.queue.is_empty()


def test_drops_are_taken_as_a_copy_never_a_move(qtbot: QtBot, offline_ctx: UiContext, tmp_path: Path) -> None:
    page = new_page(qtbot, offline_ctx)
    key_file = tmp_path / "deploy.pem"
    key_file.write_text("-----BEGIN KEY-----\n")
    mime = mime_with(paths=[key_file])
    both = Qt.DropAction.CopyAction | Qt.DropAction.MoveAction
    # Shift proposes a move, as a file manager does; the drop is taken as a copy all the same.
    enter = QDragEnterEvent(QPoint(10, 10), both, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.ShiftModifier)
    QApplication.sendEvent(page.drop_zone, enter)
    assert enter.isAccepted() and enter.dropAction() == Qt.DropAction.CopyAction
    dropped = QDropEvent(QPointF(10, 10), both, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.ShiftModifier)
    QApplication.sendEvent(page.drop_zone, dropped)
    assert dropped.isAccepted() and dropped.dropAction() == Qt.DropAction.CopyAction
    assert key_file.exists() and not page.queue.is_empty()
    # A source that only allows a move is refused as it enters, with a reason.
    move_mime = mime_with(paths=[key_file])  # kept referenced: the event does not own its data
    move_only = QDragEnterEvent(QPoint(10, 10), Qt.DropAction.MoveAction, move_mime, Qt.MouseButton.LeftButton,
                                Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(page.drop_zone, move_only)
    assert not move_only.isAccepted() and "Only a copy" in page.banner.text()


def test_missing_paths_are_named_not_queued(qtbot: QtBot, offline_ctx: UiContext, tmp_path: Path) -> None:
    page = new_page(qtbot, offline_ctx)
    page.add_paths([tmp_path / "gone.txt"])
    assert page.queue.is_empty()
    assert "gone.txt" in page.banner.text()


def test_a_folder_goes_by_link_only_in_a_zip_and_several_files_may(qtbot: QtBot, offline_ctx: UiContext,
                                                                   tmp_path: Path) -> None:
    offline_ctx.services.config = replace(offline_ctx.services.config, relay_url="http://127.0.0.1:9")
    page = new_page(qtbot, offline_ctx)
    small, big, folder = _tree(tmp_path)
    page.add_paths([small])
    qtbot.mouseClick(page.options.link_radio, Qt.MouseButton.LeftButton)
    assert not page.bundle_box.isVisible()  # one file: one link, nothing to bundle
    page.add_paths([big])
    assert page.bundle_box.isVisible() and page.bundle_box.isEnabled() and not page.bundle_box.isChecked()
    page.add_paths([folder])
    assert page.bundle_box.isVisible() and page.bundle_box.isChecked() and not page.bundle_box.isEnabled()
    qtbot.mouseClick(page.options.wormhole_radio, Qt.MouseButton.LeftButton)
    assert not page.bundle_box.isVisible()  # by code, a folder goes as it is


def test_the_secret_field_is_masked_and_kept_from_input_methods(qtbot: QtBot, offline_ctx: UiContext) -> None:
    page = new_page(qtbot, offline_ctx)
    for field in (page.secret.edit, page.options.passphrase.edit):
        assert field.echoMode() is QLineEdit.EchoMode.Password
        hints = field.inputMethodHints()
        assert hints & Qt.InputMethodHint.ImhSensitiveData
        assert hints & Qt.InputMethodHint.ImhNoPredictiveText
    type_secret(qtbot, page, "hunter2")
    qtbot.mouseClick(page.secret.show_toggle, Qt.MouseButton.LeftButton)
    assert page.secret.edit.echoMode() is QLineEdit.EchoMode.Normal
    qtbot.mouseClick(page.secret.show_toggle, Qt.MouseButton.LeftButton)
    assert page.secret.edit.echoMode() is QLineEdit.EchoMode.Password
    assert page.secret.edit.accessibleName() == "Secret"
    page.focus_secret()
    assert page.focusWidget() is page.secret.edit


def test_sharing_nothing_is_a_clear_error(qtbot: QtBot, offline_ctx: UiContext) -> None:
    page = new_page(qtbot, offline_ctx)
    click_share(qtbot, page)
    assert page.banner.level == "error" and "nothing to share" in page.banner.text()
    assert page.cards() == []


def test_a_link_without_a_relay_is_a_clear_error_and_keeps_the_secret(qtbot: QtBot,
                                                                      offline_ctx: UiContext) -> None:
    page = new_page(qtbot, offline_ctx)
    qtbot.mouseClick(page.options.link_radio, Qt.MouseButton.LeftButton)
    assert page.options.channel() == "wormhole"  # disabled, with a hint, while no relay is set
    page.options.set_channel("link")  # as a quick share by link would
    type_secret(qtbot, page, "sk_no_relay")
    page.options.passphrase.edit.setText("pass phrase")
    qtbot.keyClick(page.secret.edit, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    assert page.banner.level == "error" and "No link relay is set" in page.banner.text()
    assert page.secret.edit.text() == "sk_no_relay"
    assert page.options.passphrase.edit.text() == "pass phrase"
    assert page.cards() == []


def test_a_bad_network_is_named_and_nothing_is_taken(qtbot: QtBot, offline_ctx: UiContext) -> None:
    offline_ctx.services.config = replace(offline_ctx.services.config, relay_url="http://127.0.0.1:9")
    page = new_page(qtbot, offline_ctx)
    page.options.set_channel("link")
    type_secret(qtbot, page, "sk_bad_cidr")
    page.options.networks.setText("10.0.0.0/8, 10.0.0.300/33")
    click_share(qtbot, page)
    assert page.banner.level == "error"
    assert "'10.0.0.300/33' is not a network" in page.banner.text()
    assert page.secret.edit.text() == "sk_bad_cidr" and page.cards() == []


def test_an_oversized_secret_or_label_is_refused_and_kept(qtbot: QtBot, offline_ctx: UiContext) -> None:
    page = new_page(qtbot, offline_ctx)
    page.secret.set_text("x" * (MAX_TEXT + 10))
    click_share(qtbot, page)
    assert page.banner.level == "error" and "larger than 1 MiB" in page.banner.text()
    assert len(page.secret.edit.text()) > MAX_TEXT
    page.secret.set_text("short")
    page.options.label.setText("x" * 201)
    click_share(qtbot, page)
    assert "label is longer than 200 characters" in page.banner.text()
    assert page.secret.edit.text() == "short" and page.cards() == []


def test_text_and_files_at_once_are_refused(qtbot: QtBot, offline_ctx: UiContext, tmp_path: Path) -> None:
    page = new_page(qtbot, offline_ctx)
    small, _big, _folder = _tree(tmp_path)
    page.add_paths([small])
    type_secret(qtbot, page, "both")
    click_share(qtbot, page)
    assert "either the text or the queued files" in page.banner.text()
    assert page.secret.edit.text() == "both" and page.queue.paths() == [small]


def test_share_text_without_a_relay_reports_and_wipes_the_buffer(qtbot: QtBot, offline_ctx: UiContext) -> None:
    page = new_page(qtbot, offline_ctx)
    secret = SecretBuffer(bytearray(b"from the tray"))
    page.share_text(secret, "link")
    assert secret.closed
    assert page.banner.level == "error" and "No link relay is set" in page.banner.text()
    empty = SecretBuffer(b"")
    page.share_text(empty, "wormhole")
    assert "nothing to share" in page.banner.text() and page.cards() == []


def test_hint_types_survive_on_a_mime_drop(qtbot: QtBot, offline_ctx: UiContext) -> None:
    page = new_page(qtbot, offline_ctx)
    mime = mime_with(text="sk_hinted")
    mime.setData("x-kde-passwordManagerHint", QByteArray(b"secret"))
    assert drop(page.drop_zone, mime)
    assert page.secret.edit.text() == "sk_hinted"


def test_ctrl_enter_shares_from_anywhere_on_the_page(qtbot: QtBot, offline_ctx: UiContext) -> None:
    page = new_page(qtbot, offline_ctx)
    page.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is page, timeout=10_000)
    page.options.label.setFocus()
    qtbot.keyClick(page.options.label, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    assert page.banner.level == "error" and "nothing to share" in page.banner.text()


def test_links_need_a_relay_and_saved_settings_apply_at_once(qtbot: QtBot, offline_ctx: UiContext) -> None:
    from ots_desktop.ui.main_window import MainWindow

    assert offline_ctx.services.config.relay_url == ""
    window = MainWindow(offline_ctx)
    qtbot.addWidget(window)
    options = window.send_page.options
    assert not options.link_radio.isEnabled() and "Settings, Servers" in options.link_radio.toolTip()
    settings = window.settings_page
    settings.relay_field.setText("https://ots.example.com")
    settings.code_length_spin.setValue(4)
    assert settings.save()
    assert options.link_radio.isEnabled() and "relay" in options.link_radio.toolTip()
    assert options.code_length.value() == 4  # the Send page follows the new default at once
    options.set_channel("link")
    settings.relay_field.setText("")
    assert settings.save()
    assert not options.link_radio.isEnabled() and options.channel() == "wormhole"
    window.receive_page.shutdown()
    qtbot.waitUntil(lambda: window.receive_page.idle, timeout=20_000)


def test_the_first_start_on_the_public_servers_says_so_once(qtbot: QtBot, offline_ctx: UiContext) -> None:
    from ots_desktop.core.codes import PUBLIC_MAILBOX_URL

    offline_ctx.services.config = replace(offline_ctx.services.config, mailbox_url=PUBLIC_MAILBOX_URL)
    first = new_page(qtbot, offline_ctx)
    assert first.banner.level == "info" and "public Magic Wormhole servers" in first.banner.text()
    assert "Settings, Servers" in first.banner.text()
    again = new_page(qtbot, offline_ctx)
    assert not again.banner.isVisible()


def test_the_share_button_stays_in_view_with_files_queued_at_the_default_size(
        qtbot: QtBot, offline_ctx: UiContext, tmp_path: Path) -> None:
    from ots_desktop.ui.main_window import MainWindow

    window = MainWindow(offline_ctx)
    qtbot.addWidget(window)
    window.show()  # the default size
    qtbot.waitExposed(window)
    page = window.send_page
    files = []
    for index in range(8):
        path = tmp_path / f"key-{index}.pem"
        path.write_text("k")
        files.append(path)
    page.add_paths(files)
    qtbot.waitUntil(lambda: not page.queue.is_empty())
    button = page.share_button
    qtbot.waitUntil(lambda: button.isVisible() and not button.visibleRegion().isEmpty())
    assert button.visibleRegion().boundingRect().size() == button.size()  # whole, not cut off
    window.receive_page.shutdown()
    qtbot.waitUntil(lambda: window.receive_page.idle, timeout=20_000)


def test_the_form_has_one_label_column(qtbot: QtBot, offline_ctx: UiContext) -> None:
    # Secret, code length, label and recipients (and the link's terms) start at one x: one label column,
    # whichever channel is chosen.
    page = new_page(qtbot, offline_ctx)

    def left(widget: QWidget) -> int:
        return widget.mapTo(page, widget.rect().topLeft()).x()

    options = page.options
    lefts = {left(w) for w in (page.secret, options.code_length, options.verify, options.label, options.recipients)}
    assert len(lefts) == 1, lefts
    options.link_radio.setChecked(True)
    qtbot.waitUntil(options.expiry.isVisible, timeout=5000)
    link_lefts = {left(w) for w in (options.expiry, options.views, options.passphrase, options.label)}
    assert link_lefts == lefts
