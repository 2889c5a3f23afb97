"""Receiving by wormhole code on the Receive page: completion, text, files, folders, verification words."""

from __future__ import annotations

import asyncio
import hashlib
import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QLineEdit

from ots_desktop.channels.failures import ChannelFailure
from ots_desktop.channels.wormhole import CodeEntry, WormholeChannel
from ots_desktop.ui.context import UiContext
from ots_desktop.ui.receive.code_completer import CodeCompleter
from ots_desktop.ui.receive.page import ReceivePage
from tests.ui.receive_support import (
    NET_MS,
    accept_offer,
    completions,
    press_receive,
    receive_page,
    send_path,
    send_text,
    type_code,
    wait_done,
)


@pytest.fixture
def page(ctx: UiContext, qtbot: QtBot, tmp_path: Path) -> Iterator[ReceivePage]:
    yield from receive_page(ctx, qtbot, tmp_path / "downloads")


def test_completion_offers_the_nameplate_then_words(qtbot: QtBot, page: ReceivePage, peer_ctx: UiContext) -> None:
    _task, code = send_text(peer_ctx, qtbot, b"completion-secret")
    nameplate = code.split("-")[0]
    type_code(qtbot, page, nameplate)
    qtbot.waitUntil(lambda: f"{nameplate}-" in completions(page), timeout=NET_MS)
    qtbot.keyClicks(page.field, "-")
    qtbot.waitUntil(lambda: page.completion.words_ready, timeout=NET_MS)
    qtbot.waitUntil(lambda: len(completions(page)) > 100, timeout=NET_MS)
    offered = completions(page)
    assert all(c.startswith(f"{nameplate}-") and len(c) > len(nameplate) + 2 for c in offered)
    first = code.split("-")[1]
    qtbot.keyClicks(page.field, first[:2])
    qtbot.waitUntil(lambda: f"{nameplate}-{first}-" in completions(page), timeout=NET_MS)
    assert all(c.startswith(f"{nameplate}-{first[:2]}") for c in completions(page))
    assert page.completion.nameplate == nameplate


def test_editing_the_nameplate_starts_a_new_session(qtbot: QtBot, page: ReceivePage, peer_ctx: UiContext) -> None:
    _task, code = send_text(peer_ctx, qtbot, b"restart-secret")
    nameplate = code.split("-")[0]
    type_code(qtbot, page, f"{nameplate}9-")
    qtbot.waitUntil(lambda: page.completion.nameplate == f"{nameplate}9", timeout=NET_MS)
    first_entry = page.completion.entry
    page.field.setText(nameplate)
    qtbot.waitUntil(lambda: page.completion.entry is not None and page.completion.entry is not first_entry,
                    timeout=NET_MS)
    assert page.completion.nameplate is None
    qtbot.waitUntil(lambda: f"{nameplate}-" in completions(page), timeout=NET_MS)


def _pick_completion(qtbot: QtBot, page: ReceivePage, wanted: str) -> None:
    """Choose ``wanted`` in the completion popup with the keyboard."""
    completer = page.completion.completer
    qtbot.waitUntil(lambda: completer.popup().isVisible(), timeout=NET_MS)
    model = completer.completionModel()
    rows = [r for r in range(model.rowCount()) if model.index(r, 0).data() == wanted]
    assert rows, f"{wanted!r} is not offered"
    popup = completer.popup()
    popup.setCurrentIndex(model.index(rows[0], 0))
    qtbot.keyClick(popup, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: page.field.text() == wanted, timeout=5_000)
    assert not page.busy


def test_a_text_arrives_by_a_code_typed_with_completion(qtbot: QtBot, page: ReceivePage,
                                                        peer_ctx: UiContext) -> None:
    secret = b"sk_live_receive_by_code_0123456789"
    sent, code = send_text(peer_ctx, qtbot, secret)
    nameplate, first, *rest = code.split("-")
    type_code(qtbot, page, f"{nameplate}-{first[:2]}")
    qtbot.waitUntil(lambda: f"{nameplate}-{first}-" in completions(page), timeout=NET_MS)
    _pick_completion(qtbot, page, f"{nameplate}-{first}-")
    qtbot.keyClicks(page.field, "-".join(rest))
    assert page.field.text() == code
    assert page.field.hasFocus()
    with qtbot.waitSignal(page.received, timeout=NET_MS) as received:
        qtbot.keyClick(page.field, Qt.Key.Key_Return)
        assert page.busy and page.field.hasFocus()  # read-only while it runs: the focus stays put
    assert received.args == ["wormhole"]
    qtbot.waitUntil(sent.done, timeout=NET_MS)
    assert sent.exception() is None
    assert page.field.text() == "" and page.field.hasFocus() and not page.field.isReadOnly()
    view = page.secret_view
    assert view.isVisible() and view.has_secret and not view.shown
    assert view.masked.echoMode() == QLineEdit.EchoMode.Password
    assert secret.decode() not in view.masked.text()
    assert view.plain.toPlainText() == ""
    qtbot.mouseClick(view.show_button, Qt.MouseButton.LeftButton)
    assert view.shown and view.plain.toPlainText() == secret.decode()
    qtbot.mouseClick(view.show_button, Qt.MouseButton.LeftButton)
    assert not view.shown and view.plain.toPlainText() == ""
    qtbot.mouseClick(view.copy_button, Qt.MouseButton.LeftButton)
    data = QGuiApplication.clipboard().mimeData()
    assert data.text() == secret.decode()
    assert bytes(data.data("x-kde-passwordManagerHint").data()) == b"secret"
    buffer = view._secret
    assert buffer is not None
    qtbot.mouseClick(view.clear_button, Qt.MouseButton.LeftButton)
    assert buffer.closed and not view.has_secret
    assert view.plain.toPlainText() == "" and view.masked.text() == ""
    assert page.state.text() == "The secret was cleared from this window."  # no stale "Received" line
    page.ctx.clipboard.clear_if_ours()


def test_a_file_arrives_with_progress_and_identical_bytes(qtbot: QtBot, page: ReceivePage, peer_ctx: UiContext,
                                                          tmp_path: Path) -> None:
    source = tmp_path / "service-account.json"
    source.write_bytes(os.urandom(3 * 1024 * 1024 + 17))
    values: list[int] = []
    page.progress.valueChanged.connect(values.append)
    sent, code = send_path(peer_ctx, qtbot, source)
    type_code(qtbot, page, code)
    with qtbot.waitSignal(page.received, timeout=NET_MS):
        press_receive(qtbot, page)
        asked = accept_offer(qtbot, page)  # nothing is written before the person says yes
        assert not list(page.save_folder.iterdir())
    assert asked == "The sender offers the file \u201cservice-account.json\u201d (3 MiB). Receive it?"
    qtbot.waitUntil(sent.done, timeout=NET_MS)
    saved = page.save_folder / "service-account.json"
    assert hashlib.sha256(saved.read_bytes()).digest() == hashlib.sha256(source.read_bytes()).digest()
    assert page.progress.value() == 100 and values[-1] == 100
    assert page.saved_view.isVisible() and page.saved_view.path == saved
    assert page.saved_view.folder() == page.save_folder
    assert str(saved) in page.saved_view.label.text()
    assert not page.secret_view.has_secret


def test_a_folder_arrives_whole(qtbot: QtBot, page: ReceivePage, peer_ctx: UiContext, tmp_path: Path) -> None:
    source = tmp_path / "deploy-keys"
    (source / "nested").mkdir(parents=True)
    (source / "id_ed25519").write_bytes(b"-----BEGIN OPENSSH PRIVATE KEY-----\nabc\n")
    (source / "nested" / ".env").write_bytes(b"DB_URL=postgres://u:p@db/x\nAPI_KEY=k\n")
    sent, code = send_path(peer_ctx, qtbot, source)
    type_code(qtbot, page, code)
    with qtbot.waitSignal(page.received, timeout=NET_MS):
        press_receive(qtbot, page)
        assert "folder \u201cdeploy-keys\u201d" in accept_offer(qtbot, page)
    qtbot.waitUntil(sent.done, timeout=NET_MS)
    got = page.save_folder / "deploy-keys"
    assert (got / "id_ed25519").read_bytes() == (source / "id_ed25519").read_bytes()
    assert (got / "nested" / ".env").read_bytes() == (source / "nested" / ".env").read_bytes()
    assert page.saved_view.path == got and page.saved_view.folder() == got
    assert "folder" in page.saved_view.label.text()


def test_a_declined_file_writes_nothing_and_the_sender_hears_at_once(qtbot: QtBot, page: ReceivePage,
                                                                      peer_ctx: UiContext, tmp_path: Path) -> None:
    source = tmp_path / "prod.env"
    source.write_bytes(b"API_KEY=canary-declined\n")
    sent, code = send_path(peer_ctx, qtbot, source)
    type_code(qtbot, page, code)
    press_receive(qtbot, page)
    accept_offer(qtbot, page, take=False)
    wait_done(qtbot, page)
    qtbot.waitUntil(sent.done, timeout=NET_MS)  # the sender is told, not left waiting
    assert isinstance(sent.exception(), ChannelFailure) and "declined" in str(sent.exception())
    assert not list(page.save_folder.iterdir())
    assert "declined" in page.banner.text()


def test_verification_words_confirmed(qtbot: QtBot, page: ReceivePage, peer_ctx: UiContext) -> None:
    sent, code = send_text(peer_ctx, qtbot, b"verified-secret")
    page.verify_box.setChecked(True)
    type_code(qtbot, page, code)
    press_receive(qtbot, page)
    prompt = page.verify_prompt
    qtbot.waitUntil(lambda: prompt.isVisible() and prompt.waiting, timeout=NET_MS)
    assert len(prompt.words.text().split()) >= 6
    assert "Verifying" in page.state.text()
    with qtbot.waitSignal(page.received, timeout=NET_MS):
        qtbot.mouseClick(prompt.confirm_button, Qt.MouseButton.LeftButton)
    assert not prompt.isVisible()
    qtbot.waitUntil(sent.done, timeout=NET_MS)
    assert page.secret_view.has_secret


def test_verification_words_rejected(qtbot: QtBot, page: ReceivePage, peer_ctx: UiContext) -> None:
    sent, code = send_text(peer_ctx, qtbot, b"rejected-secret")
    page.verify_box.setChecked(True)
    type_code(qtbot, page, code)
    press_receive(qtbot, page)
    qtbot.waitUntil(lambda: page.verify_prompt.waiting, timeout=NET_MS)
    qtbot.mouseClick(page.verify_prompt.reject_button, Qt.MouseButton.LeftButton)
    wait_done(qtbot, page)
    assert page.banner.level == "error"
    assert "did not confirm the verification words" in page.banner.text()
    assert not page.secret_view.has_secret
    qtbot.waitUntil(sent.done, timeout=NET_MS)
    assert sent.exception() is not None


def test_cancel_while_waiting_for_the_sender(qtbot: QtBot, page: ReceivePage) -> None:
    type_code(qtbot, page, "4242-")
    qtbot.waitUntil(lambda: page.completion.nameplate == "4242", timeout=NET_MS)
    qtbot.keyClicks(page.field, "nobody-here")
    press_receive(qtbot, page)
    qtbot.waitUntil(lambda: "Waiting for the sender" in page.state.text(), timeout=NET_MS)
    assert page.cancel_button.isEnabled()
    qtbot.mouseClick(page.cancel_button, Qt.MouseButton.LeftButton)
    wait_done(qtbot, page)
    assert "Cancelled" in page.state.text()
    assert page.receive_button.isEnabled() and page.field.isEnabled()


def test_a_number_no_sender_holds_is_pointed_out(qtbot: QtBot, page: ReceivePage, peer_ctx: UiContext) -> None:
    _sent, code = send_text(peer_ctx, qtbot, b"someone else's secret")
    held = code.split("-")[0]
    unheld = str(int(held) + 500)
    type_code(qtbot, page, unheld)
    qtbot.waitUntil(lambda: page.completion.held is not None and held in page.completion.held, timeout=NET_MS)
    qtbot.keyClicks(page.field, "-nobody-here")
    press_receive(qtbot, page)
    qtbot.waitUntil(lambda: f"No sender was waiting with number {unheld}" in page.banner.text(), timeout=NET_MS)
    assert page.banner.level == "warning" and page.busy  # it still waits, in case the sender comes
    qtbot.mouseClick(page.cancel_button, Qt.MouseButton.LeftButton)
    wait_done(qtbot, page)


def _recording_channels(ctx: UiContext, opened: list[CodeEntry], started: list[bool],
                        gate: asyncio.Event | None = None) -> Callable[[], WormholeChannel]:
    """Real channels whose code entry sessions are kept in ``opened`` for the test to look at.

    With a ``gate``, each session starts connecting only once the test sets it.
    """

    def factory() -> WormholeChannel:
        channel = ctx.services.wormhole()
        original = channel.code_entry

        async def code_entry() -> CodeEntry:
            started.append(True)
            if gate is not None:
                await gate.wait()
            entry = await original()
            opened.append(entry)
            return entry

        channel.code_entry = code_entry  # type: ignore[method-assign]
        return channel

    return factory


def test_a_session_cancelled_while_connecting_is_closed_once_open(qtbot: QtBot, ctx: UiContext) -> None:
    opened: list[CodeEntry] = []
    started: list[bool] = []
    field = QLineEdit()
    qtbot.addWidget(field)
    gate = asyncio.Event()
    completion = CodeCompleter(field, _recording_channels(ctx, opened, started, gate), ctx.tasks)
    completion.start()
    qtbot.waitUntil(lambda: bool(started), timeout=NET_MS)
    assert completion.connecting and not opened
    ctx.tasks.cancel_all()  # what quitting does
    gate.set()  # the session now reaches the mailbox, after its task was cancelled
    qtbot.waitUntil(lambda: bool(opened), timeout=NET_MS)
    qtbot.waitUntil(lambda: opened[0].session._closed, timeout=NET_MS)
    assert completion.entry is None


def test_a_completer_made_without_a_parent_belongs_to_its_field(qtbot: QtBot, ctx: UiContext) -> None:
    """Owned by Python alone, a garbage collection deleted the completer with its list in the middle of
    one of their events, and the test process crashed a few tests later (CI: a segmentation fault
    "Garbage-collecting" in Qt's event loop). The field owns it instead, and it goes with the field."""
    import gc

    from shiboken6 import isValid

    field = QLineEdit()  # deleted below (not by qtbot)
    completion = CodeCompleter(field, ctx.services.wormhole, ctx.tasks)
    assert completion.parent() is field and completion.speech.parent() is completion
    gone: list[str] = []
    completion.popup.destroyed.connect(lambda: gone.append("list"))
    completion.destroyed.connect(lambda: gone.append("completer"))
    del completion
    gc.collect()
    [kept] = field.findChildren(CodeCompleter)
    assert isValid(kept) and isValid(kept.popup) and gone == []
    del kept
    field.deleteLater()
    qtbot.waitUntil(lambda: sorted(gone) == ["completer", "list"], timeout=NET_MS)


def test_an_untouched_session_leaves_the_mailbox(qtbot: QtBot, ctx: UiContext, page: ReceivePage) -> None:
    page.completion.set_idle_timeout(300)
    page.focus_code()
    qtbot.waitUntil(lambda: page.completion.entry is not None, timeout=NET_MS)
    entry = page.completion.entry
    assert entry is not None
    qtbot.waitUntil(lambda: page.completion.entry is None, timeout=NET_MS)
    qtbot.waitUntil(lambda: entry.session._closed, timeout=NET_MS)
    qtbot.keyClicks(page.field, "1")  # typing again opens a new one
    qtbot.waitUntil(lambda: page.completion.entry is not None, timeout=NET_MS)
    assert page.completion.entry is not entry


def test_cancel_at_once_still_closes_the_session(qtbot: QtBot, page: ReceivePage) -> None:
    type_code(qtbot, page, "4243-")
    qtbot.waitUntil(lambda: page.completion.nameplate == "4243", timeout=NET_MS)
    entry = page.completion.entry
    assert entry is not None
    qtbot.keyClicks(page.field, "nobody-here")
    press_receive(qtbot, page)
    page.cancel()  # before the receive has taken its first step
    wait_done(qtbot, page)
    assert "Cancelled" in page.state.text()
    qtbot.waitUntil(lambda: entry.session._closed, timeout=NET_MS)


def test_keyboard_focus_and_escape(qtbot: QtBot, page: ReceivePage) -> None:
    page.receive_button.setFocus()
    qtbot.waitUntil(page.receive_button.hasFocus, timeout=5_000)
    qtbot.keyClick(page.receive_button, Qt.Key.Key_L, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(page.field.hasFocus, timeout=5_000)
    qtbot.keyClick(page.field, Qt.Key.Key_Return)  # nothing typed
    qtbot.waitUntil(page.banner.isVisible, timeout=5_000)
    qtbot.keyClick(page.field, Qt.Key.Key_Escape)
    assert not page.banner.isVisible()
    assert page.field.accessibleName() and page.receive_button.accessibleName()


def test_a_scanned_code_meets_on_the_mailbox_it_names(qtbot: QtBot, ctx: UiContext, peer_ctx: UiContext,
                                                      tmp_path: Path) -> None:
    # This installation's mailbox setting points nowhere; the scanned wormhole-transfer URI names the
    # sender's mailbox, the page says so and meets the sender there.
    import dataclasses
    import socket

    from ots_desktop.core.codes import code_uri

    real = ctx.services.config.mailbox_url
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        ctx.services.config = dataclasses.replace(ctx.services.config,
                                                  mailbox_url=f"ws://127.0.0.1:{probe.getsockname()[1]}/v1")
    page = next(receive_page(ctx, qtbot, tmp_path / "downloads"))
    sent, code = send_text(peer_ctx, qtbot, b"scanned-rendezvous-secret")
    with qtbot.waitSignal(page.received, timeout=NET_MS):
        page.open_link(code_uri(code, real))
    assert f"This code names its own mailbox, {real}" in page.banner.label.text()
    qtbot.waitUntil(sent.done, timeout=NET_MS)
    assert page.secret_view.has_secret


def test_the_masked_secret_sits_at_the_top_and_clear_leaves_no_stale_line(qtbot: QtBot, page: ReceivePage,
                                                                         peer_ctx: UiContext) -> None:
    # In a tall window the hidden secret is one ordinary line at the top of its box (not dots floating in
    # the middle of an empty frame); after Clear, the state line no longer says a secret is here.
    page.resize(760, 900)
    sent, code = send_text(peer_ctx, qtbot, b"masked-layout-secret")
    type_code(qtbot, page, code)
    with qtbot.waitSignal(page.received, timeout=NET_MS):
        press_receive(qtbot, page)
    qtbot.waitUntil(sent.done, timeout=NET_MS)
    view = page.secret_view
    qtbot.waitUntil(view.masked.isVisible, timeout=5000)
    top = view.masked.mapTo(view, view.masked.rect().topLeft()).y()
    assert top <= 4 and view.masked.height() <= view.masked.sizeHint().height() + 4
    below = view.show_button.mapTo(view, view.show_button.rect().topLeft()).y()
    assert below - (top + view.masked.height()) < 40  # the buttons sit right under the line, not far below
    qtbot.mouseClick(view.show_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: view.plain.height() > 6 * view.masked.height(), timeout=5000)  # shown: the room
    qtbot.mouseClick(view.show_button, Qt.MouseButton.LeftButton)
    assert "Received a text secret" in page.state.text()
    qtbot.mouseClick(view.clear_button, Qt.MouseButton.LeftButton)
    assert not view.has_secret and not view.isVisible()
    assert page.state.text() == "The secret was cleared from this window."
