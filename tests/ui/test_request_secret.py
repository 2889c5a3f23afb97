"""Requesting a secret from the Receive page: the form, the live card, the answer, Revoke, an expiry.

The app runs on a real ``ots server`` relay with the real Secret Service; the person who
answers is a separate ``ots answer`` process with its own installation (the browser's side
of the same flow is in tests/browser/test_answer_page.py). Waits have deadlines.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from PySide6.QtCore import Qt

from ots_desktop.core.audit.keystore import KeychainStore, scope_for
from ots_desktop.core.config import Config
from ots_desktop.ui.context import UiContext
from ots_desktop.ui.receive.page import ReceivePage
from ots_desktop.ui.receive.request_card import RequestCard
from tests.conftest import CANARY, Home
from tests.support.canary import find_canary
from tests.support.servers import RunningServer
from tests.ui.receive_support import NET_MS, receive_page

OTS = [sys.executable, "-m", "ots_desktop.cli"]
LABEL = "Vendor API key for the migration"


@pytest.fixture
def page(ctx: UiContext, qtbot: QtBot, tmp_path: Path) -> Iterator[ReceivePage]:
    yield from receive_page(ctx, qtbot, tmp_path / "downloads")


def answer(home: Home, link: str, stdin: bytes = CANARY, *args: str) -> subprocess.CompletedProcess[str]:
    """``ots answer LINK`` from another installation (its own OTS_HOME), to its end."""
    answerer = home.root / "answerer-ots"
    answerer.mkdir(mode=0o700, exist_ok=True)
    env = {**os.environ, "OTS_HOME": str(answerer)}
    raw = subprocess.run([*OTS, "answer", link, *args], input=stdin, capture_output=True, env=env, timeout=60,
                         check=False, start_new_session=True)
    return subprocess.CompletedProcess(raw.args, raw.returncode, raw.stdout.decode("utf-8", "replace"),
                                       raw.stderr.decode("utf-8", "replace"))


def make_request(qtbot: QtBot, page: ReceivePage, label: str = LABEL) -> RequestCard:
    """Ctrl+Shift+R, type the label, Create: the new card, with its link."""
    qtbot.keyClick(page, Qt.Key.Key_R, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    form = page.requests.form
    qtbot.waitUntil(form.isVisible, timeout=5000)
    assert form.label.hasFocus()
    qtbot.keyClicks(form.label, label)
    with qtbot.waitSignal(page.requests.card_added, timeout=NET_MS) as added:
        qtbot.mouseClick(form.create_button, Qt.MouseButton.LeftButton)
    card = added.args[0]
    assert isinstance(card, RequestCard)
    card.interval_s = 0.3
    assert card.link.startswith(f"{page.ctx.services.config.relay_url}/r/{card.request_id}#")
    assert not form.isVisible()
    return card


def private_key(ctx: UiContext, request_id: str) -> str | None:
    return KeychainStore(scope_for(ctx.services.paths.data_dir)).get(f"request-key-{request_id}")


def request_events(ctx: UiContext) -> list[tuple[str, str]]:
    log = ctx.services.audit_if_open()
    assert log is not None
    return [(e["event_type"], e["outcome"]) for e in log.entries()
            if e["event_type"].startswith("request_") or e["event_type"] == "alert"]


def test_the_button_and_tray_label_name_the_action(page: ReceivePage) -> None:
    button = page.requests.request_button
    assert "Request a secret" in button.accessibleName()
    assert button.text().replace("&", "").startswith("Request a secret")
    assert "Ctrl+Shift+R" in button.toolTip()


def test_a_request_answered_from_another_installation_notifies_and_shows_the_answer_masked(
        qtbot: QtBot, ctx: UiContext, page: ReceivePage, isolated_home: Home, servers: RunningServer) -> None:
    notes: list[tuple[str, str]] = []
    ctx.notifier.notified.connect(lambda title, message, _level: notes.append((title, message)))
    card = make_request(qtbot, page)
    assert card.state == "pending" and private_key(ctx, card.request_id)
    answered = answer(isolated_home, card.link)
    assert answered.returncode == 0, answered.stderr
    qtbot.waitUntil(lambda: card.state == "opened", timeout=NET_MS)
    assert any(title == "Request answered" and LABEL in message for title, message in notes), notes
    view = card.secret_view
    assert view.has_secret and not view.shown and CANARY.decode() not in view.masked.text()
    qtbot.mouseClick(view.show_button, Qt.MouseButton.LeftButton)
    assert view.plain.toPlainText() == CANARY.decode()
    qtbot.mouseClick(view.show_button, Qt.MouseButton.LeftButton)
    assert card.receipts() and card.receipts()[0].startswith("Answered at")
    assert card.closable and not card.revoke_button.isEnabled() and card.link_field.text() == ""
    assert private_key(ctx, card.request_id) is None  # erased once the answer was opened
    assert [e for e in request_events(ctx) if e[0] != "alert"] == [
        ("request_created", "ok"), ("request_answered", "ok"), ("request_opened", "ok")]
    # The relay deleted its copy: a second answer is refused and raises no new answer here.
    again = answer(isolated_home, card.link, b"second answer")
    assert again.returncode != 0 and "answer" in again.stderr
    view.clear()
    assert find_canary([ctx.services.paths.data_dir.parent, isolated_home.root / "answerer-ots",
                        servers.data_dir], CANARY) == []


def test_a_file_answer_is_saved_in_the_receive_folder(qtbot: QtBot, ctx: UiContext, page: ReceivePage,
                                                      isolated_home: Home, tmp_path: Path) -> None:
    card = make_request(qtbot, page, "Signing key")
    source = tmp_path / "signing.key"
    source.write_bytes(b"\x00\x01key material\xff" * 100)
    assert answer(isolated_home, card.link, b"", "--file", str(source)).returncode == 0
    with qtbot.waitSignal(card.answer_shown, timeout=NET_MS) as shown:
        pass
    assert shown.args == ["file"]
    saved = card.saved_view.path
    assert saved is not None and saved.parent == page.save_folder and saved.name == "signing.key"
    assert saved.read_bytes() == source.read_bytes() and (saved.stat().st_mode & 0o777) == 0o600
    assert not card.secret_view.has_secret


def test_revoke_on_the_card_makes_ots_answer_fail_clearly(qtbot: QtBot, ctx: UiContext, page: ReceivePage,
                                                          isolated_home: Home) -> None:
    card = make_request(qtbot, page)
    qtbot.mouseClick(card.revoke_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: card.state == "revoked", timeout=NET_MS)
    assert "Revoked" in card.status.text() and card.closable
    assert private_key(ctx, card.request_id) is None
    refused = answer(isolated_home, card.link)
    assert refused.returncode != 0 and "withdrew this request" in refused.stderr, refused.stderr
    assert ("request_revoked", "ok") in request_events(ctx)


def test_bad_terms_are_named_in_the_form_and_nothing_is_made(qtbot: QtBot, ctx: UiContext,
                                                             page: ReceivePage) -> None:
    page.requests.open_form()
    form = page.requests.form
    form.label.setText(LABEL)
    form.networks.setText("10.0.0.0/33")
    qtbot.mouseClick(form.create_button, Qt.MouseButton.LeftButton)
    assert form.error.isVisible() and "10.0.0.0/33" in form.error.text()
    assert page.requests.request_cards() == [] and form.isVisible()


def test_an_expired_request_ends_its_card_and_erases_the_key(qtbot: QtBot, ctx: UiContext, page: ReceivePage,
                                                             isolated_home: Home) -> None:
    from tests.support.secret_requests import local_request_relay

    with local_request_relay(isolated_home.root / "clocked-relay") as relay:
        ctx.services.config = Config(relay_url=relay.url, clipboard_clear_s=30)
        card = make_request(qtbot, page)
        key_seen = private_key(ctx, card.request_id)
        relay.clock.now += 3600 + 1
        qtbot.waitUntil(lambda: card.state == "expired", timeout=NET_MS)
        assert key_seen and private_key(ctx, card.request_id) is None
        assert "Expired" in card.status.text()
        assert ("request_expired", "ok") in request_events(ctx)
        refused = answer(isolated_home, card.link)
        assert refused.returncode != 0 and "expired" in refused.stderr


def answer_in_chromium(link: str, profile: Path, secret: str) -> str:
    """The answer page in a real headless Chromium: type ``secret`` and Send; the page's final state.

    Run on a worker thread: Playwright's sync driver needs a thread without a running event
    loop, and this one's loop is the app's (qasync).
    """
    from playwright.sync_api import sync_playwright

    from tests.browser.support import launch, wait_state

    with sync_playwright() as driver:
        context = launch(driver, profile)
        try:
            tab = context.pages[0] if context.pages else context.new_page()
            tab.goto(link, wait_until="domcontentloaded")
            assert wait_state(tab, "ready", "damaged", "error", "unsupported") == "ready"
            tab.get_by_label("The secret").fill(secret)
            tab.get_by_role("button", name="Send").click()
            return wait_state(tab, "sent", "damaged", "error")
        finally:
            context.close()


def test_a_request_answered_from_chromium_notifies_and_shows_the_answer_masked(
        qtbot: QtBot, ctx: UiContext, page: ReceivePage, isolated_home: Home, servers: RunningServer,
        tmp_path: Path) -> None:
    import threading

    from tests.browser.support import CHROMIUM

    if not os.access(CHROMIUM, os.X_OK):  # pragma: no cover - CI installs it (.ci/system-deps.sh)
        pytest.skip(f"{CHROMIUM} is not installed (run make system-deps)")
    notes: list[str] = []
    ctx.notifier.notified.connect(lambda title, _message, _level: notes.append(title))
    card = make_request(qtbot, page)
    outcome: list[object] = []

    def browse() -> None:
        try:
            outcome.append(answer_in_chromium(card.link, tmp_path / "chromium-profile", CANARY.decode()))
        except BaseException as exc:  # handed to the test thread
            outcome.append(exc)

    worker = threading.Thread(target=browse, name="chromium-answer")
    worker.start()
    try:
        qtbot.waitUntil(lambda: bool(outcome), timeout=90_000)
    finally:
        worker.join(30)
    assert outcome == ["sent"], outcome
    qtbot.waitUntil(lambda: card.state == "opened", timeout=NET_MS)
    assert "Request answered" in notes
    view = card.secret_view
    assert view.has_secret and not view.shown
    qtbot.mouseClick(view.show_button, Qt.MouseButton.LeftButton)
    assert view.plain.toPlainText() == CANARY.decode()
    view.clear()
    assert private_key(ctx, card.request_id) is None
    assert find_canary([ctx.services.paths.data_dir.parent, servers.data_dir], CANARY) == []


def test_a_request_made_with_the_cli_gets_its_card_back_and_opens_in_the_app(
        qtbot: QtBot, ctx: UiContext, isolated_home: Home, servers: RunningServer, tmp_path: Path) -> None:
    import json

    env = {**os.environ, "OTS_HOME": str(ctx.services.paths.data_dir.parent)}
    made = subprocess.run([*OTS, "request", "--json", "--label", "Made in a terminal", "--relay",
                           str(servers.link_url)], capture_output=True, env=env, timeout=60, check=False,
                          start_new_session=True)
    assert made.returncode == 0, made.stderr
    row = json.loads(made.stdout.decode().splitlines()[0])
    pages = receive_page(ctx, qtbot, tmp_path / "downloads")
    page = next(pages)
    try:
        qtbot.waitUntil(lambda: len(page.requests.request_cards()) == 1, timeout=NET_MS)
        (card,) = page.requests.request_cards()
        assert card.request_id == row["id"] and card.link == "" and not card.link_field.isVisible()
        assert "Made in a terminal" in card.title.text() and card.state == "pending"
        assert answer(isolated_home, row["link"]).returncode == 0
        qtbot.waitUntil(lambda: card.state == "opened", timeout=NET_MS)
        assert card.secret_view.has_secret and not card.secret_view.shown
    finally:
        for _ in pages:
            pass


def test_a_second_answer_attempt_raises_an_alert_on_the_card(qtbot: QtBot, ctx: UiContext, page: ReceivePage,
                                                            isolated_home: Home) -> None:
    alerts: list[tuple[str, str]] = []
    ctx.notifier.notified.connect(lambda _title, message, level: alerts.append((level, message)))
    card = make_request(qtbot, page)
    watch = card._watch  # paused while both answers arrive, so that one look sees them both
    assert watch is not None
    watch.cancel()
    qtbot.waitUntil(watch.done, timeout=5000)
    assert answer(isolated_home, card.link).returncode == 0
    again = answer(isolated_home, card.link, b"a second answer")
    assert again.returncode != 0 and "already answered" in again.stderr
    card.start_watch()
    qtbot.waitUntil(lambda: card.state == "opened", timeout=NET_MS)
    assert any(level == "error" and LABEL in message and "again" in message for level, message in alerts), alerts
    assert any(line.startswith("Alert: someone tried to answer it again") for line in card.receipts())
    assert ("alert", "alert") in request_events(ctx)
    qtbot.mouseClick(card.secret_view.show_button, Qt.MouseButton.LeftButton)
    assert card.secret_view.plain.toPlainText() == CANARY.decode()  # the first answer, not the second


def test_a_file_answer_whose_folder_is_gone_is_saved_in_the_default_folder(
        qtbot: QtBot, ctx: UiContext, page: ReceivePage, isolated_home: Home, tmp_path: Path) -> None:
    from ots_desktop.ui.receive.saved_view import default_folder

    page.set_save_folder(tmp_path / "removed-folder")  # never made: the answer must not be lost for it
    card = make_request(qtbot, page, "Deploy key")
    source = tmp_path / "deploy.key"
    source.write_bytes(b"deploy key bytes")
    assert answer(isolated_home, card.link, b"", "--file", str(source)).returncode == 0
    qtbot.waitUntil(lambda: card.state == "opened", timeout=NET_MS)
    saved = card.saved_view.path
    assert saved is not None and saved.parent == default_folder() and saved.read_bytes() == b"deploy key bytes"
    saved.unlink()
