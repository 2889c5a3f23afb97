"""What the Receive page says when a receive cannot happen: a wrong code, bad input, a missing folder, no mailbox."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pytestqt.qtbot import QtBot

from ots_desktop.channels.failures import ChannelFailure
from ots_desktop.core.audit.events import EventType, Reason
from ots_desktop.core.ids import b64u_encode
from ots_desktop.ui.context import UiContext
from ots_desktop.ui.receive.page import NOT_A_CODE, ReceivePage
from tests.support.servers import RunningServer
from tests.ui.receive_support import (
    NET_MS,
    audit_entries,
    press_receive,
    receive_page,
    send_text,
    type_code,
    wait_done,
)

GENERIC = "Something went wrong inside"


@pytest.fixture
def page(ctx: UiContext, qtbot: QtBot, tmp_path: Path) -> Iterator[ReceivePage]:
    yield from receive_page(ctx, qtbot, tmp_path / "downloads")


def assert_readable(page: ReceivePage, *, level: str = "error") -> str:
    text = page.banner.text()
    assert page.banner.isVisible() and page.banner.level == level
    assert text and GENERIC not in text and "Traceback" not in text
    return text


def test_a_wrong_code_is_an_alert(qtbot: QtBot, ctx: UiContext, page: ReceivePage, peer_ctx: UiContext) -> None:
    sent, code = send_text(peer_ctx, qtbot, b"guarded-secret")
    nameplate = code.split("-")[0]
    alerts: list[tuple[str, str, str]] = []
    ctx.notifier.notified.connect(lambda *args: alerts.append(args))
    type_code(qtbot, page, f"{nameplate}-absurd-guesswork")
    press_receive(qtbot, page)
    wait_done(qtbot, page)
    text = assert_readable(page)
    assert text.startswith("The code did not match")
    assert page.state.text().startswith("Failed: The code did not match")
    assert page.field.text() == ""  # a spent code is not offered again
    assert not page.secret_view.has_secret
    qtbot.waitUntil(lambda: any(level == "error" for _t, _m, level in alerts), timeout=NET_MS)
    assert any("did not match" in message for _t, message, _l in alerts)
    entries = audit_entries(ctx, qtbot, str(EventType.ALERT))
    assert [(e["reason"], e["channel"], e["outcome"]) for e in entries] == [("wrong_code", "wormhole", "alert")]
    qtbot.waitUntil(sent.done, timeout=NET_MS)
    failure = sent.exception()
    assert isinstance(failure, ChannelFailure) and failure.reason is Reason.WRONG_CODE


@pytest.mark.parametrize(("typed", "expected"), [
    ("hello there", NOT_A_CODE),
    ("crossover-clockwork", NOT_A_CODE),
    ("7-", "The code is incomplete"),
    ("7", "The code is incomplete"),
    ("", "Type the wormhole code you were given"),
])
def test_malformed_codes_are_explained_and_kept(qtbot: QtBot, ctx: UiContext, page: ReceivePage, typed: str,
                                                expected: str) -> None:
    type_code(qtbot, page, typed)
    press_receive(qtbot, page)
    assert not page.busy
    assert assert_readable(page).startswith(expected)
    assert page.field.text() == typed  # kept, so that a typo can be fixed
    assert audit_entries(ctx, qtbot, str(EventType.ALERT)) == []
    assert audit_entries(ctx, qtbot, str(EventType.RECEIVE_FAILED)) == []


def _link(base: str, key: str) -> str:
    return f"{base}/s/{b64u_encode(bytes(range(16)))}#{key}"


@pytest.mark.parametrize(("mangle", "expected"), [
    (lambda relay: _link(relay, "tooShort"), "The link's key (after '#') is damaged"),
    (lambda relay: _link(relay, ""), "The link has no key"),
    (lambda relay: f"{relay}/x/abc#{'A' * 43}", "This is not an ots link"),
    (lambda relay: _link("ftp://relay.example", "A" * 43), "The link must start with https://"),
    (lambda relay: _link("http://relay.example", "A" * 42 + "E"), "Refusing the plain-http relay"),
])
def test_malformed_links_are_explained_and_cleared(qtbot: QtBot, ctx: UiContext, page: ReceivePage,
                                                   mangle: Any, expected: str) -> None:
    link = mangle(ctx.services.relay_url())
    page.open_link(link)
    wait_done(qtbot, page)
    assert assert_readable(page).startswith(expected)
    assert page.field.text() == ""  # a link holds a key: never left behind
    assert link not in page.banner.text()


def test_a_missing_save_folder_is_refused_before_anything_starts(qtbot: QtBot, page: ReceivePage,
                                                                 tmp_path: Path) -> None:
    page.set_save_folder(tmp_path / "removed")
    type_code(qtbot, page, "12-crossover-clockwork")
    press_receive(qtbot, page)
    assert not page.busy
    assert "does not exist" in assert_readable(page)
    assert page.field.text() == "12-crossover-clockwork"


def test_an_unreachable_mailbox_is_explained(qtbot: QtBot, page: ReceivePage, servers: RunningServer) -> None:
    servers.stop()
    page.focus_code()
    qtbot.waitUntil(page.banner.isVisible, timeout=NET_MS)
    warning = assert_readable(page, level="warning")
    assert "Code completion is off" in warning and "cannot reach the wormhole mailbox" in warning
    assert "You can still type the whole code" in warning
    assert page.completion.failure is not None and page.completion.entry is None
    qtbot.keyClicks(page.field, "7-crossover-clockwork")
    press_receive(qtbot, page)
    assert page.field.text() == ""
    wait_done(qtbot, page)
    assert assert_readable(page).startswith("Cannot reach the wormhole mailbox")
    assert page.state.text().startswith("Failed:")


def test_an_unreachable_relay_is_explained(qtbot: QtBot, ctx: UiContext, page: ReceivePage,
                                           servers: RunningServer) -> None:
    relay = ctx.services.relay_url()
    servers.stop()
    page.open_link(_link(relay, b64u_encode(bytes(32))))
    wait_done(qtbot, page)
    assert assert_readable(page).startswith("The link relay is unreachable")


def test_cancel_is_refused_until_a_fresh_session_reaches_the_mailbox(qtbot: QtBot, page: ReceivePage,
                                                                      servers: RunningServer) -> None:
    servers.stop()
    page.field.setText("7-crossover-clockwork")  # no focus, no completion session: the typed-code path
    press_receive(qtbot, page)
    assert page.busy and not page.cancel_button.isEnabled()
    page.cancel()  # not yet safe to cancel: the receive runs on to its own clear end
    assert page.busy
    wait_done(qtbot, page)
    assert assert_readable(page).startswith("Cannot reach the wormhole mailbox")


def test_a_code_that_failed_for_want_of_a_sender_comes_back_to_try_again(qtbot: QtBot, ctx: UiContext,
                                                                          page: ReceivePage) -> None:
    ctx.services.wormhole_overrides = {"peer_timeout_s": 1.0, "transfer_timeout_s": 5.0}
    type_code(qtbot, page, "4343-nobody-comes")
    press_receive(qtbot, page)
    wait_done(qtbot, page)
    assert page.banner.level == "error"
    assert page.field.text() == "4343-nobody-comes" and page.field.isEnabled()
    assert "press Receive to try again" in page.state.text()
