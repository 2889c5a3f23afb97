"""Receiving by one-time link on the Receive page: text, files, passphrases, a link already opened."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLineEdit

from ots_desktop.ui.context import UiContext
from ots_desktop.ui.receive.page import ReceivePage
from tests.ui.receive_support import NET_MS, make_link, receive_page, wait_done

PASSPHRASE = "correct horse battery staple"


@pytest.fixture
def page(ctx: UiContext, qtbot: QtBot, tmp_path: Path) -> Iterator[ReceivePage]:
    yield from receive_page(ctx, qtbot, tmp_path / "downloads")


def shown_text(qtbot: QtBot, page: ReceivePage) -> str:
    view = page.secret_view
    qtbot.mouseClick(view.show_button, Qt.MouseButton.LeftButton)
    text = view.plain.toPlainText()
    qtbot.mouseClick(view.show_button, Qt.MouseButton.LeftButton)
    return text


def unlock(qtbot: QtBot, page: ReceivePage, passphrase: str) -> None:
    prompt = page.passphrase_prompt
    qtbot.waitUntil(lambda: prompt.waiting and prompt.isVisible(), timeout=NET_MS)
    qtbot.keyClicks(prompt.field, passphrase)
    qtbot.mouseClick(prompt.unlock_button, Qt.MouseButton.LeftButton)


def test_a_text_link_is_opened_once(qtbot: QtBot, page: ReceivePage, peer_ctx: UiContext) -> None:
    link = make_link(peer_ctx, qtbot, b"DATABASE_URL=postgres://app:pw@db/prod")
    with qtbot.waitSignal(page.received, timeout=NET_MS) as received:
        page.open_link(link)
    assert received.args == ["link"]
    assert page.field.text() == ""
    assert page.secret_view.has_secret and not page.secret_view.shown
    assert shown_text(qtbot, page) == "DATABASE_URL=postgres://app:pw@db/prod"
    assert "Received a text secret" in page.state.text()
    assert not page.passphrase_prompt.isVisible()


def test_a_link_already_opened_says_so(qtbot: QtBot, ctx: UiContext, page: ReceivePage,
                                       peer_ctx: UiContext) -> None:
    link = make_link(peer_ctx, qtbot, b"opened-once")
    with qtbot.waitSignal(page.received, timeout=NET_MS):
        page.open_link(link)
    alerts: list[str] = []
    ctx.notifier.notified.connect(lambda _title, message, _level: alerts.append(message))
    page.open_link(link)
    wait_done(qtbot, page)
    assert page.banner.level == "error"
    assert page.banner.text().startswith("This link was already opened")
    assert not page.secret_view.has_secret  # the first secret was cleared when the second receive began
    qtbot.waitUntil(lambda: any("already opened" in m for m in alerts), timeout=NET_MS)


def test_a_passphrase_is_asked_for_in_a_password_field(qtbot: QtBot, page: ReceivePage,
                                                       peer_ctx: UiContext) -> None:
    link = make_link(peer_ctx, qtbot, b"behind-a-passphrase", passphrase=PASSPHRASE.encode())
    page.open_link(link)
    field = page.passphrase_prompt.field
    qtbot.waitUntil(lambda: page.passphrase_prompt.waiting, timeout=NET_MS)
    assert field.echoMode() == QLineEdit.EchoMode.Password
    hints = field.inputMethodHints()
    assert hints & Qt.InputMethodHint.ImhSensitiveData and hints & Qt.InputMethodHint.ImhNoPredictiveText
    assert "passphrase" in page.state.text()
    with qtbot.waitSignal(page.received, timeout=NET_MS):
        unlock(qtbot, page, PASSPHRASE)
    assert field.text() == "" and not page.passphrase_prompt.isVisible()
    assert shown_text(qtbot, page) == "behind-a-passphrase"


def test_a_wrong_passphrase_shows_the_tries_left_then_the_right_one_opens(qtbot: QtBot, ctx: UiContext,
                                                                          page: ReceivePage,
                                                                          peer_ctx: UiContext) -> None:
    link = make_link(peer_ctx, qtbot, b"second-try", passphrase=PASSPHRASE.encode())
    alerts: list[str] = []
    ctx.notifier.notified.connect(lambda _title, message, level: alerts.append(level))
    page.open_link(link)
    unlock(qtbot, page, "wrong guess")
    qtbot.waitUntil(lambda: "attempts left" in page.banner.text(), timeout=NET_MS)
    assert page.banner.level == "error"
    assert re.match(r"Wrong passphrase: \d+ attempts left before the relay destroys the secret", page.banner.text())
    assert page.busy  # still the same receive, asking again
    qtbot.waitUntil(lambda: "error" in alerts, timeout=NET_MS)
    with qtbot.waitSignal(page.received, timeout=NET_MS):
        unlock(qtbot, page, PASSPHRASE)
    assert not page.banner.isVisible()
    assert shown_text(qtbot, page) == "second-try"


def test_cancelling_the_passphrase_leaves_the_link_unopened(qtbot: QtBot, page: ReceivePage,
                                                            peer_ctx: UiContext) -> None:
    link = make_link(peer_ctx, qtbot, b"still-there", passphrase=PASSPHRASE.encode())
    page.open_link(link)
    qtbot.waitUntil(lambda: page.passphrase_prompt.waiting, timeout=NET_MS)
    qtbot.mouseClick(page.passphrase_prompt.cancel_button, Qt.MouseButton.LeftButton)
    wait_done(qtbot, page)
    assert page.state.text().startswith("Cancelled: the link was not opened")
    assert not page.banner.isVisible()
    with qtbot.waitSignal(page.received, timeout=NET_MS):
        page.open_link(link)
        unlock(qtbot, page, PASSPHRASE)
    assert shown_text(qtbot, page) == "still-there"


def test_a_file_link_is_saved_in_the_folder(qtbot: QtBot, page: ReceivePage, peer_ctx: UiContext,
                                            tmp_path: Path) -> None:
    source = tmp_path / "outbox" / "prod.env"
    source.parent.mkdir()
    source.write_bytes(b"API_KEY=abc\nDB_URL=postgres://x\n")
    link = make_link(peer_ctx, qtbot, b"", file=source)
    with qtbot.waitSignal(page.received, timeout=NET_MS):
        page.open_link(link)
    saved = page.save_folder / "prod.env"
    assert saved.read_bytes() == source.read_bytes()
    assert page.saved_view.path == saved and page.saved_view.isVisible()
    assert page.progress.value() == 100
    assert not page.secret_view.has_secret


def test_the_last_wrong_passphrase_destroys_the_link_and_says_so(qtbot: QtBot, page: ReceivePage,
                                                                 peer_ctx: UiContext) -> None:
    link = make_link(peer_ctx, qtbot, b"burned", passphrase=PASSPHRASE.encode())
    page.open_link(link)
    for attempt in range(1, 100):
        unlock(qtbot, page, f"wrong guess {attempt}")
        qtbot.waitUntil(lambda: not page.busy or not page.passphrase_prompt.waiting, timeout=NET_MS)
        qtbot.waitUntil(lambda: not page.busy or page.passphrase_prompt.waiting, timeout=NET_MS)
        if not page.busy:
            break
        assert "attempts left" in page.banner.text() or "attempt left" in page.banner.text()
    assert page.banner.level == "error"
    assert "that was the last allowed try: the relay destroyed the secret" in page.banner.text()
    assert not page.secret_view.has_secret
