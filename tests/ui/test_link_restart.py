"""Live links outlive the app: listed again at the next start with their receipt and Revoke, followed again after a
relay outage without anyone pressing a button, and Quit warns that receipts pause while the app is closed."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QMessageBox

from ots_desktop.ui.context import UiContext
from ots_desktop.ui.main_window import MainWindow
from ots_desktop.ui.send.link_card import LinkShareCard
from tests.conftest import Home
from tests.support.relay import RelayProcess, start_relay
from tests.support.servers import RunningServer
from tests.ui.conftest import make_context
from tests.ui.receive_support import make_link
from tests.ui.send_support import (
    NETWORK_MS,
    click_share,
    new_page,
    notifications,
    receive_link,
    type_secret,
    wait_code,
    wait_done,
    wait_state,
)
from tests.ui.test_request_secret import make_request

OUTAGE_MS = 60_000


def _link_cards(page: object) -> list[LinkShareCard]:
    return [c for c in page.cards() if isinstance(c, LinkShareCard)]  # type: ignore[attr-defined]


def _restart(ctx: UiContext, home: Home, servers: RunningServer, monkeypatch: pytest.MonkeyPatch,
             qtbot: QtBot) -> UiContext:
    """Close ``ctx`` as a quitting app does and start a new one on the same OTS_HOME."""
    ctx.tasks.cancel_all()
    qtbot.waitUntil(lambda: not ctx.tasks.busy, timeout=10_000)
    ctx.events.close()
    ctx.services.close()
    return make_context(home.ots_home, servers, monkeypatch)


def test_live_links_come_back_after_a_restart_and_keep_their_receipt_and_revoke(
        qtbot: QtBot, ctx: UiContext, peer_ctx: UiContext, servers: RunningServer, isolated_home: Home,
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    opened_later = make_link(ctx, qtbot, b"canary-restart-one")
    revoked_later = make_link(ctx, qtbot, b"canary-restart-two")
    ended_before = make_link(ctx, qtbot, b"canary-restart-three")
    got = receive_link(peer_ctx, ended_before, tmp_path / "in0")
    wait_done(qtbot, got)
    got.result().text.close()
    first_page = new_page(qtbot, ctx)
    qtbot.waitUntil(lambda: len(_link_cards(first_page)) == 3, timeout=NETWORK_MS)
    qtbot.waitUntil(lambda: sum(c.is_finished for c in _link_cards(first_page)) == 1, timeout=NETWORK_MS)
    first_page.close()

    again = _restart(ctx, isolated_home, servers, monkeypatch, qtbot)
    try:
        page = new_page(qtbot, again)
        seen = notifications(again)
        qtbot.waitUntil(lambda: len(_link_cards(page)) == 2, timeout=NETWORK_MS)  # the ended one is not listed
        cards = {c.share_id: c for c in _link_cards(page)}
        assert set(cards) == {opened_later.split("/s/")[1].split("#")[0], revoked_later.split("/s/")[1].split("#")[0]}
        for card in cards.values():
            assert card.restored and not card.link and not card.link_field.isVisible() and not card.qr.isVisible()
            assert "not kept" in card.terms_label.text() and card.revoke_button.isEnabled()
        opened_card = cards[opened_later.split("/s/")[1].split("#")[0]]
        got = receive_link(peer_ctx, opened_later, tmp_path / "in1")
        wait_done(qtbot, got)
        got.result().text.close()
        wait_state(qtbot, opened_card, "revealed")
        assert opened_card.receipts()[0].startswith("Revealed at ")
        qtbot.waitUntil(lambda: any(title == "Link opened" for title, _m, _l in seen), timeout=NETWORK_MS)
        revoked_card = cards[revoked_later.split("/s/")[1].split("#")[0]]
        revoked_card.revoke_button.click()
        wait_state(qtbot, revoked_card, "revoked")
        late = receive_link(peer_ctx, revoked_later, tmp_path / "in2")
        wait_done(qtbot, late)
        assert late.exception() is not None
    finally:
        again.tasks.cancel_all()
        qtbot.waitUntil(lambda: not again.tasks.busy, timeout=10_000)
        again.events.close()
        again.services.close()


@pytest.fixture
def own_relay(tmp_path: Path) -> Iterator[list[RelayProcess]]:
    running = [start_relay(tmp_path, name="outage")]
    yield running
    for relay in running:
        relay.service.stop()


def test_receipts_resume_by_themselves_after_a_relay_outage(qtbot: QtBot, ctx: UiContext, peer_ctx: UiContext,
                                                           own_relay: list[RelayProcess], tmp_path: Path) -> None:
    relay = own_relay[0]
    ctx.services.config = replace(ctx.services.config, relay_url=relay.url)
    link = make_link(ctx, qtbot, b"canary-outage")
    page = new_page(qtbot, ctx)
    seen = notifications(ctx)
    qtbot.waitUntil(lambda: len(_link_cards(page)) == 1, timeout=NETWORK_MS)
    [card] = _link_cards(page)
    relay.service.stop()
    qtbot.waitUntil(lambda: card.status.text().startswith("Cannot follow"), timeout=OUTAGE_MS)
    # The relay comes back on the same port and store; the link is opened; nobody presses Check again.
    back = start_relay(tmp_path, name="outage-back", port=relay.port, data_dir=relay.data_dir)
    own_relay.append(back)
    got = receive_link(peer_ctx, link, tmp_path / "in")
    wait_done(qtbot, got)
    got.result().text.close()
    wait_state(qtbot, card, "revealed")
    assert card.receipts() and card.receipts()[0].startswith("Revealed at ")
    qtbot.waitUntil(lambda: any(title == "Link opened" for title, _m, _l in seen), timeout=NETWORK_MS)


def test_quit_with_live_links_asks_and_cancel_keeps_the_app(qtbot: QtBot, ctx: UiContext) -> None:
    make_link(ctx, qtbot, b"canary-quit")
    window = MainWindow(ctx)
    window.show()
    qtbot.waitExposed(window)
    qtbot.waitUntil(lambda: window.send_page.live_links() == 1, timeout=NETWORK_MS)
    quits: list[bool] = []
    window.quit_requested.connect(lambda: quits.append(True))
    asked: list[str] = []

    def answer() -> None:
        box = window.quit_box
        if box is None:
            QTimer.singleShot(50, answer)
            return
        asked.append(box.text())
        box.button(QMessageBox.StandardButton.Cancel).click()

    QTimer.singleShot(0, answer)
    assert window.quit_app() is False
    assert quits == [] and window.isVisible()
    assert asked and "1 one-time link is still waiting to be opened" in asked[0] and "pause" in asked[0]
    window.receive_page.shutdown()
    qtbot.waitUntil(lambda: window.receive_page.idle, timeout=20_000)
    window.hide()
    window.deleteLater()


def _answer_quit(window: MainWindow, asked: list[str]) -> None:
    """Read the Quit question when it shows, and press Cancel."""
    box = window.quit_box
    if box is None:
        QTimer.singleShot(50, lambda: _answer_quit(window, asked))
        return
    asked.append(box.text())
    box.button(QMessageBox.StandardButton.Cancel).click()


def test_quit_names_waiting_requests_and_cancels_codes(qtbot: QtBot, ctx: UiContext) -> None:
    # A request waits on the relay like a link (its answer waits for the next start); a share by code lives in
    # this process, so quitting cancels it: the question says both, and Cancel keeps everything going.
    window = MainWindow(ctx)
    window.show()
    qtbot.waitExposed(window)
    assert window.send_page.live_codes() == 0 and window.receive_page.requests.live_requests() == 0
    window.tabs.setCurrentWidget(window.receive_page)  # Ctrl+Shift+R belongs to the page, when it shows
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow, timeout=5000)
    request = make_request(qtbot, window.receive_page)
    window.tabs.setCurrentWidget(window.send_page)
    type_secret(qtbot, window.send_page, "canary-quit-code")
    click_share(qtbot, window.send_page)
    [code_card] = wait_code(qtbot, window.send_page)
    assert window.send_page.live_codes() == 1 and window.receive_page.requests.live_requests() == 1
    asked: list[str] = []
    QTimer.singleShot(0, lambda: _answer_quit(window, asked))
    assert window.quit_app() is False
    assert asked == ["1 secret request is still waiting for its answer. It keeps working, but receipts and "
                     "notifications pause while ots-desktop is closed; they catch up when it starts again. "
                     "1 transfer by code has not finished: quitting cancels it, and its code stops working."]
    assert code_card.state == "waiting" and not request.is_finished
    qtbot.mouseClick(code_card.cancel_button, Qt.MouseButton.LeftButton)
    wait_state(qtbot, code_card, "cancelled")
    assert window.send_page.live_codes() == 0
    window.receive_page.shutdown()
    qtbot.waitUntil(lambda: window.receive_page.idle, timeout=20_000)
    window.hide()
    window.deleteLater()
