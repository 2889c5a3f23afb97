"""Sharing by wormhole code through the Send page, to a second installation on real servers."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from PySide6.QtCore import Qt

from ots_desktop.channels.failures import ChannelFailure
from ots_desktop.ui.context import UiContext
from ots_desktop.ui.send.code_words import display_code
from tests.support.servers import RunningServer
from tests.ui.send_support import (
    NETWORK_MS,
    click_share,
    deliver_text,
    new_page,
    notifications,
    receive_code,
    type_secret,
    wait_code,
    wait_done,
    wait_state,
    wormhole_cards,
)


def test_text_by_code_goes_from_waiting_to_delivered(qtbot: QtBot, ctx: UiContext, peer_ctx: UiContext,
                                                     tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    page = new_page(qtbot, ctx)
    seen = notifications(ctx)
    type_secret(qtbot, page, "sk_live_by_code_7731")
    page.options.label.setText("stripe key")
    page.options.recipients.setPlainText("sam")
    with qtbot.waitSignal(page.share_started, timeout=5000) as started:
        click_share(qtbot, page)
    assert started.args == ["wormhole"]
    assert page.secret.edit.text() == ""  # taken at once
    assert page.options.label.text() == "" and page.options.recipients.toPlainText() == ""
    [card] = wait_code(qtbot, page)
    assert card.title.text() == "stripe key for sam"
    assert card.state == "waiting" and page.active_cards() == [card]
    assert card.code_label.text() == display_code(card.code)
    assert card.qr.is_drawn() and card.copy_button.isEnabled() and not card.close_button.isEnabled()

    assert deliver_text(qtbot, card, peer_ctx, tmp_path / "in") == b"sk_live_by_code_7731"
    assert card.is_finished and page.active_cards() == []
    assert not card.qr.isVisible() and not card.copy_button.isEnabled()
    qtbot.waitUntil(lambda: any(title == "Delivered" for title, _m, _l in seen), timeout=5000)
    assert ("Delivered", "stripe key was delivered.", "success") in seen
    assert "sk_live_by_code_7731" not in caplog.text and card.code not in caplog.text
    # A finished card can be closed.
    qtbot.mouseClick(card.close_button, Qt.MouseButton.LeftButton)
    assert page.cards() == []


def test_verify_words_then_confirm_delivers(qtbot: QtBot, ctx: UiContext, peer_ctx: UiContext,
                                            tmp_path: Path) -> None:
    page = new_page(qtbot, ctx)
    type_secret(qtbot, page, "verified-secret")
    qtbot.keyClick(page.options.verify, Qt.Key.Key_Space)
    assert page.options.verify.isChecked()
    click_share(qtbot, page)
    [card] = wait_code(qtbot, page)
    got = receive_code(peer_ctx, card.code, tmp_path / "in")
    qtbot.waitUntil(lambda: card.verifying, timeout=NETWORK_MS)
    assert card.state == "verifying" and card.verify_box.isVisible()
    words = card.verifier_label.text().split()
    assert len(words) == 6 and all(word.isalpha() for word in words)
    assert not got.done()  # nothing sent before the click
    qtbot.mouseClick(card.confirm_button, Qt.MouseButton.LeftButton)
    wait_state(qtbot, card, "delivered")
    wait_done(qtbot, got)
    assert bytes(got.result().text.view()) == b"verified-secret"


def test_verify_words_then_reject_fails_with_a_reason_and_sends_nothing(qtbot: QtBot, ctx: UiContext,
                                                                        peer_ctx: UiContext, tmp_path: Path) -> None:
    page = new_page(qtbot, ctx)
    type_secret(qtbot, page, "rejected-secret")
    page.options.verify.setChecked(True)
    click_share(qtbot, page)
    [card] = wait_code(qtbot, page)
    got = receive_code(peer_ctx, card.code, tmp_path / "in")
    qtbot.waitUntil(lambda: card.verifying, timeout=NETWORK_MS)
    qtbot.mouseClick(card.reject_button, Qt.MouseButton.LeftButton)
    wait_state(qtbot, card, "failed")
    assert "did not confirm the verification words" in card.status.text()
    assert "nothing was sent" in card.status.text()
    assert card.is_finished and not card.verify_box.isVisible()
    wait_done(qtbot, got)
    assert isinstance(got.exception(), ChannelFailure)
    assert not any((tmp_path / "in").iterdir())


def test_the_recipient_rejecting_the_words_fails_the_card_with_a_reason(qtbot: QtBot, ctx: UiContext,
                                                                        peer_ctx: UiContext, tmp_path: Path) -> None:
    page = new_page(qtbot, ctx)
    type_secret(qtbot, page, "peer-says-no")
    click_share(qtbot, page)
    [card] = wait_code(qtbot, page)

    async def refuse(_words: str) -> bool:
        return False

    got = receive_code(peer_ctx, card.code, tmp_path / "in", confirm=refuse)
    wait_state(qtbot, card, "failed")
    wait_done(qtbot, got)
    assert "did not confirm the verification words" in card.status.text()
    assert card.status.text()[0].isupper() and card.is_finished and card.close_button.isEnabled()


def test_a_file_goes_by_code_with_progress(qtbot: QtBot, ctx: UiContext, peer_ctx: UiContext,
                                           tmp_path: Path) -> None:
    page = new_page(qtbot, ctx)
    source = tmp_path / "service-account.json"
    payload = os.urandom(3 * 1024 * 1024 + 17)
    source.write_bytes(payload)
    page.add_paths([source])
    click_share(qtbot, page)
    assert page.queue.is_empty()
    [card] = wait_code(qtbot, page)
    assert card.title.text() == "service-account.json"
    progress: list[int] = []
    card.progress.valueChanged.connect(progress.append)
    got = receive_code(peer_ctx, card.code, tmp_path / "in")
    wait_state(qtbot, card, "delivered")
    wait_done(qtbot, got)
    received = got.result()
    assert received.path is not None and received.path.read_bytes() == payload
    assert progress and progress[-1] == 1000 and card.progress.isVisible()


def test_a_folder_goes_by_code(qtbot: QtBot, ctx: UiContext, peer_ctx: UiContext, tmp_path: Path) -> None:
    page = new_page(qtbot, ctx)
    folder = tmp_path / "deploy-keys"
    (folder / "nested").mkdir(parents=True)
    (folder / "id_ed25519").write_bytes(b"private key bytes")
    (folder / "nested" / "token.txt").write_bytes(b"token-123")
    page.add_paths([folder])
    click_share(qtbot, page)
    [card] = wait_code(qtbot, page)
    assert card.title.text() == "deploy-keys/"
    got = receive_code(peer_ctx, card.code, tmp_path / "in")
    wait_state(qtbot, card, "delivered")
    wait_done(qtbot, got)
    out = got.result().path
    assert out is not None and out.is_dir()
    assert (out / "id_ed25519").read_bytes() == b"private key bytes"
    assert (out / "nested" / "token.txt").read_bytes() == b"token-123"


def test_several_recipients_get_a_code_each_and_a_waiting_share_can_be_cancelled(
        qtbot: QtBot, ctx: UiContext, peer_ctx: UiContext, tmp_path: Path) -> None:
    page = new_page(qtbot, ctx)
    type_secret(qtbot, page, "one-each")
    page.options.recipients.setPlainText("sam, alex\nkim")
    click_share(qtbot, page)
    cards = wait_code(qtbot, page, 3)
    assert [card.title.text() for card in cards] == ["Text secret for kim", "Text secret for alex",
                                                     "Text secret for sam"]
    assert len({card.code for card in cards}) == 3
    kim, alex, sam = cards
    got = receive_code(peer_ctx, sam.code, tmp_path / "in")
    wait_state(qtbot, sam, "delivered")
    wait_done(qtbot, got)
    assert bytes(got.result().text.view()) == b"one-each"
    for card in (kim, alex):
        assert card.state == "waiting" and card.cancel_button.isVisible()
        qtbot.mouseClick(card.cancel_button, Qt.MouseButton.LeftButton)
        wait_state(qtbot, card, "cancelled")
        assert "Cancelled" in card.status.text() and card.is_finished
    assert page.active_cards() == []


def test_an_unreachable_mailbox_fails_the_card_with_a_reason(qtbot: QtBot, ctx: UiContext,
                                                             servers: RunningServer) -> None:
    servers.stop()
    page = new_page(qtbot, ctx)
    type_secret(qtbot, page, "mailbox-is-down")
    click_share(qtbot, page)
    [card] = wormhole_cards(page)
    wait_state(qtbot, card, "failed")
    assert card.status.text().startswith("Cannot reach the wormhole mailbox at ws://127.0.0.1:")
    assert card.code == "" and card.code_label.text() == "No code was handed out."
    assert card.closable


def test_a_share_nobody_came_for_offers_retry_with_the_same_secret_and_a_new_code(
        qtbot: QtBot, ctx: UiContext, peer_ctx: UiContext, tmp_path: Path) -> None:
    # Nobody types the first code in time: the card fails with its reason and offers Retry. Retry starts
    # the same secret on a new card with a new code, without it being typed again, and that one delivers.
    ctx.services.wormhole_overrides = {"peer_timeout_s": 1.5, "transfer_timeout_s": 10.0}
    page = new_page(qtbot, ctx)
    type_secret(qtbot, page, "retry-canary-5521")
    click_share(qtbot, page)
    [first] = wait_code(qtbot, page)
    wait_state(qtbot, first, "failed")
    assert "Retry shares it again with a new code." in first.status.text()
    assert first.retry_button.isVisible() and first.retry_button.isEnabled()
    old_code = first.code
    ctx.services.wormhole_overrides = {"peer_timeout_s": 30.0, "transfer_timeout_s": 30.0}
    qtbot.mouseClick(first.retry_button, Qt.MouseButton.LeftButton)
    assert not first.retry_button.isVisible()
    cards = wait_code(qtbot, page, count=2)
    second = cards[0]
    assert second is not first and second.code and second.code != old_code
    assert deliver_text(qtbot, second, peer_ctx, tmp_path / "in") == b"retry-canary-5521"
    assert not second.retry_button.isVisible()  # delivered: nothing to retry, and the kept copy is wiped
    assert second._kept is None


def test_a_wrong_code_failure_offers_no_retry(qtbot: QtBot, ctx: UiContext, peer_ctx: UiContext,
                                              tmp_path: Path) -> None:
    # A wrong code may be someone guessing: the share is over, and nothing is kept to send again.
    page = new_page(qtbot, ctx)
    type_secret(qtbot, page, "no-retry-canary")
    click_share(qtbot, page)
    [card] = wait_code(qtbot, page)
    nameplate, _, _ = card.code.partition("-")
    got = receive_code(peer_ctx, f"{nameplate}-wrong-words-here", tmp_path / "in")
    wait_state(qtbot, card, "failed")
    wait_done(qtbot, got)
    assert not card.retry_button.isVisible() and card._kept is None


def test_cancel_reaches_a_receiver_deciding_on_the_file(qtbot: QtBot, ctx: UiContext, peer_ctx: UiContext,
                                                        tmp_path: Path) -> None:
    # The recipient typed the code and is looking at "Receive this file?" when the sender presses Cancel:
    # the recipient's question is withdrawn at once with the reason, not left until a timeout (30 s here).
    import asyncio
    import time

    source = tmp_path / "service-account.json"
    source.write_bytes(b'{"private_key": "canary-cancel-offer"}')
    page = new_page(qtbot, ctx)
    page.add_paths([source])
    click_share(qtbot, page)
    [card] = wait_code(qtbot, page)
    asked: list[str] = []
    withdrawn: list[bool] = []

    async def deciding(kind: str, name: str, size: int) -> bool:
        asked.append(name)
        try:
            await asyncio.get_running_loop().create_future()  # the person never answers
        except asyncio.CancelledError:
            withdrawn.append(True)
            raise
        return True

    got = receive_code(peer_ctx, card.code, tmp_path / "in", accept=deciding)
    qtbot.waitUntil(lambda: asked == ["service-account.json"], timeout=NETWORK_MS)
    qtbot.mouseClick(card.cancel_button, Qt.MouseButton.LeftButton)
    started = time.monotonic()
    wait_state(qtbot, card, "cancelled")
    wait_done(qtbot, got)
    assert time.monotonic() - started < 15
    assert withdrawn == [True]
    failure = got.exception()
    assert isinstance(failure, ChannelFailure) and "the sender cancelled the transfer" in str(failure)
    assert not (tmp_path / "in").exists() or not list((tmp_path / "in").iterdir())


def test_the_code_card_shows_a_mailbox_outage_and_the_code_still_works_after_it(
        qtbot: QtBot, ctx: UiContext, peer_ctx: UiContext, servers: RunningServer, tmp_path: Path) -> None:
    # The sender reaches the real mailbox through a link the test can cut. While it is cut the card says
    # the mailbox cannot be reached; when it is back the card waits again, and the same code delivers.
    import dataclasses
    from urllib.parse import urlsplit

    from tests.support.tcp_proxy import CuttableProxy

    where = urlsplit(servers.mailbox_url)
    assert where.hostname is not None and where.port is not None
    proxy = CuttableProxy((where.hostname, where.port))
    try:
        ctx.services.config = dataclasses.replace(ctx.services.config,
                                                  mailbox_url=f"ws://127.0.0.1:{proxy.port}{where.path}")
        page = new_page(qtbot, ctx)
        type_secret(qtbot, page, "outage-canary-8812")
        click_share(qtbot, page)
        [card] = wait_code(qtbot, page)
        proxy.cut()
        wait_state(qtbot, card, "mailbox-down")
        assert "The mailbox cannot be reached right now. The code stays valid" in card.status.text()
        proxy.restore()
        wait_state(qtbot, card, "waiting")
        assert deliver_text(qtbot, card, peer_ctx, tmp_path / "in") == b"outage-canary-8812"
    finally:
        proxy.close()
