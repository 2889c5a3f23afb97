"""The Activity page's table: real audit entries, filters, search, auto-refresh, and a log that cannot open."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import keyring.core
import pytest
from pytestqt.qtbot import QtBot

from PySide6.QtCore import Qt

from ots_desktop.core.audit.events import AuditEvent, Channel, EventType, Outcome, Reason
from ots_desktop.core.audit.keystore import KEYCHAIN_CALLS, FileKeyStore
from ots_desktop.core.audit.log import AuditLog
from ots_desktop.core.events import ChannelEvent, EventKind
from ots_desktop.core.paths import app_paths
from ots_desktop.core.secret import SecretBuffer
from ots_desktop.ui.activity.model import COLUMNS, ENTRY_ROLE, local_time
from ots_desktop.ui.activity.page import ActivityPage
from ots_desktop.ui.app import new_context
from ots_desktop.ui.context import UiContext
from ots_desktop.ui.services import Services
from tests.conftest import Home
from tests.support.audit import share_event
from tests.support.secret_service import SecretServiceSession
from tests.ui.conftest import make_context

WAIT_MS = 20_000


def close_context(context: UiContext, qtbot: QtBot) -> None:
    """Cancel what is left, then close the log (as the app does at quit)."""
    context.tasks.cancel_all()
    qtbot.waitUntil(lambda: not context.tasks.busy, timeout=10_000)
    context.events.close()
    context.services.close()


@pytest.fixture
def offline_ctx(ui_loop: asyncio.AbstractEventLoop, keychain: SecretServiceSession, isolated_home: Home,
                monkeypatch: pytest.MonkeyPatch, qtbot: QtBot) -> Iterator[UiContext]:
    """An installation with no server at all: the Activity page needs none."""
    context = make_context(isolated_home.ots_home, None, monkeypatch)
    yield context
    close_context(context, qtbot)


def open_audit(ctx: UiContext, qtbot: QtBot) -> AuditLog:
    task = ctx.tasks.start(ctx.services.audit())
    qtbot.waitUntil(task.done, timeout=WAIT_MS)
    log: AuditLog = task.result()
    return log


def finish(qtbot: QtBot, task: asyncio.Task[Any]) -> None:
    qtbot.waitUntil(task.done, timeout=WAIT_MS)


def shown_entries(page: ActivityPage) -> list[dict[str, Any]]:
    proxy = page.proxy
    return [proxy.data(proxy.index(row, 0), ENTRY_ROLE) for row in range(proxy.rowCount())]


def fill_log(log: AuditLog) -> None:
    """log_created (1), five link shares (2-6), a failed receive (7) and an alert (8)."""
    for n in range(2, 7):
        log.append(share_event(n))
    log.append(AuditEvent(EventType.RECEIVE_FAILED, outcome=Outcome.FAILED, reason=Reason.WRONG_CODE,
                          channel=Channel.WORMHOLE, label="from the build box"))
    log.append(AuditEvent(EventType.ALERT, outcome=Outcome.ALERT, reason=Reason.WRONG_PASSPHRASE,
                          channel=Channel.LINK, share_id="share0003"))


@pytest.fixture
def page(offline_ctx: UiContext, qtbot: QtBot) -> ActivityPage:
    widget = ActivityPage(offline_ctx)
    qtbot.addWidget(widget)
    return widget


def test_the_table_lists_every_entry_newest_first_with_local_times(page: ActivityPage, offline_ctx: UiContext,
                                                                    qtbot: QtBot) -> None:
    fill_log(open_audit(offline_ctx, qtbot))
    with qtbot.waitSignal(page.refreshed, timeout=WAIT_MS) as loaded:
        page.refresh()
    assert loaded.args == [8]
    rows = shown_entries(page)
    assert [row["seq"] for row in rows] == [8, 7, 6, 5, 4, 3, 2, 1]
    assert rows[-1]["event_type"] == "log_created"
    header = [page.model.headerData(i, Qt.Orientation.Horizontal) for i in range(len(COLUMNS))]
    assert header == ["#", "Time", "Event", "Outcome", "Channel", "Label", "Recipient", "Share id", "Reason"]
    proxy = page.proxy
    time_col = [key for key, _ in COLUMNS].index("ts_utc")
    cell = proxy.index(0, time_col)
    assert proxy.data(cell) == local_time(rows[0]["ts_utc"])
    assert proxy.data(cell, Qt.ItemDataRole.ToolTipRole) == f"UTC: {rows[0]['ts_utc']}"
    assert proxy.data(proxy.index(0, 2)) == "Alert"
    assert proxy.data(proxy.index(1, 8)) == "wrong code"
    assert page.count_label.text() == "8 entries"


def test_type_outcome_and_search_narrow_the_rows(page: ActivityPage, offline_ctx: UiContext, qtbot: QtBot) -> None:
    fill_log(open_audit(offline_ctx, qtbot))
    with qtbot.waitSignal(page.refreshed, timeout=WAIT_MS):
        page.refresh()
    page.type_combo.setCurrentIndex(page.type_combo.findData("share_created"))
    assert [row["seq"] for row in shown_entries(page)] == [6, 5, 4, 3, 2]
    page.search_field.setText("CONTRACTOR 4")  # case-insensitive, any column (here: recipient)
    assert [row["seq"] for row in shown_entries(page)] == [4]
    assert page.count_label.text() == "1 of 8 entries shown"
    page.type_combo.setCurrentIndex(page.type_combo.findData(""))
    page.search_field.setText("share0003")  # the share and the alert about it
    assert [row["seq"] for row in shown_entries(page)] == [8, 3]
    page.search_field.clear()
    page.outcome_combo.setCurrentIndex(page.outcome_combo.findData("failed"))
    assert [row["label"] for row in shown_entries(page)] == ["from the build box"]
    page.outcome_combo.setCurrentIndex(page.outcome_combo.findData("alert"))
    assert [row["seq"] for row in shown_entries(page)] == [8]
    page.search_field.setText("no such text anywhere")
    assert shown_entries(page) == []


def test_ctrl_f_focuses_the_search_box(page: ActivityPage, qtbot: QtBot) -> None:
    page.show()
    qtbot.waitExposed(page)
    page.activateWindow()
    qtbot.waitUntil(page.isActiveWindow, timeout=10_000)
    page.table.setFocus()
    qtbot.keyClick(page.table, Qt.Key.Key_F, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(page.search_field.hasFocus, timeout=5000)
    assert page.search_field.accessibleName() == "Search the audit log"


def test_the_page_loads_when_shown_and_follows_channel_events(page: ActivityPage, offline_ctx: UiContext,
                                                             qtbot: QtBot) -> None:
    log = open_audit(offline_ctx, qtbot)
    with qtbot.waitSignal(page.refreshed, timeout=WAIT_MS):
        page.show()
    assert page.model.rowCount() == 1
    log.append(share_event(2))
    assert page.model.rowCount() == 1  # not yet: only a channel event says the log changed
    offline_ctx.services.bus.publish(ChannelEvent(EventKind.CREATED, Channel.LINK, "share0002", "send"))
    offline_ctx.services.bus.publish(ChannelEvent(EventKind.WAITING, Channel.LINK, "share0002", "send"))
    qtbot.waitUntil(lambda: page.model.rowCount() == 2, timeout=WAIT_MS)
    assert shown_entries(page)[0]["label"] == "deploy token 2"


# -- a log that cannot open: the page fails closed ------------------------------------------------


@pytest.fixture
def unsafe_keychain(keychain: SecretServiceSession, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """keyring's 'fail' backend, as on a machine with no keychain at all."""
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.fail.Keyring")
    with KEYCHAIN_CALLS:
        keyring.core.init_backend()
    yield
    monkeypatch.delenv("PYTHON_KEYRING_BACKEND")
    with KEYCHAIN_CALLS:
        keyring.core.init_backend()


def assert_fails_closed(page: ActivityPage, qtbot: QtBot, *words: str) -> None:
    finish(qtbot, page.refresh())
    text = page.banner.text()
    assert page.banner.level == "error"
    assert text.startswith("The audit log cannot be opened:"), text
    assert "Traceback" not in text
    for word in words:
        assert word in text, text
    assert page.model.rowCount() == 0


def test_no_safe_keychain_shows_a_clear_message_and_nothing_else(
        ui_loop: asyncio.AbstractEventLoop, unsafe_keychain: None, isolated_home: Home,
        monkeypatch: pytest.MonkeyPatch, qtbot: QtBot) -> None:
    ctx = make_context(isolated_home.ots_home, None, monkeypatch)
    try:
        page = ActivityPage(ctx)
        qtbot.addWidget(page)
        assert_fails_closed(page, qtbot, "does not store secrets safely", "nothing is shared or received")
        page.lookup_panel.field.setText("sk_live_not_checked")
        finish(qtbot, page.lookup())
        assert page.lookup_panel.field.text() == ""
        assert page.banner.text().startswith("The audit log cannot be opened:")
        assert not page.lookup_panel.answer.isVisible()
        finish(qtbot, page.verify())
        assert page.banner.level == "error" and "cannot be opened" in page.banner.text()
    finally:
        close_context(ctx, qtbot)


def test_a_keystore_that_refuses_its_passphrase_fails_closed(
        ui_loop: asyncio.AbstractEventLoop, isolated_home: Home, qtbot: QtBot) -> None:
    paths = app_paths({"OTS_HOME": str(isolated_home.ots_home)})
    with SecretBuffer(b"right horse battery") as right:
        AuditLog.open(paths.ensure(), FileKeyStore(paths.keyfile, right), app_version="test").close()

    def wrong_passphrase(p: Any) -> FileKeyStore:
        with SecretBuffer(b"wrong horse battery") as wrong:
            return FileKeyStore(p.keyfile, wrong)

    ctx = new_context(Services(paths, keystore=wrong_passphrase))
    try:
        page = ActivityPage(ctx)
        qtbot.addWidget(page)
        assert_fails_closed(page, qtbot, "passphrase for the key file", "is wrong")
    finally:
        close_context(ctx, qtbot)


def test_a_deleted_log_is_not_silently_started_over(offline_ctx: UiContext, page: ActivityPage,
                                                    qtbot: QtBot) -> None:
    path = open_audit(offline_ctx, qtbot).store.path
    offline_ctx.services.close()
    for leftover in path.parent.glob(path.name + "*"):
        leftover.unlink()
    assert_fails_closed(page, qtbot, "is missing or empty, but the keychain holds log")
    assert not path.exists() or path.stat().st_size == 0
