"""The Settings page's audit forwarding box: destinations saved like other settings, a test event to a real
rsyslogd, the backlog and the last error."""

from __future__ import annotations

import asyncio
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from PySide6.QtCore import Qt

from ots_desktop.ui.context import UiContext
from ots_desktop.ui.settings_page import SettingsPage
from tests.conftest import Home
from tests.support.processes import wait_until
from tests.support.rfc5424 import parse
from tests.support.rsyslog import start_rsyslog
from tests.ui.conftest import make_context

WAIT_MS = 20_000


@pytest.fixture
def ctx(ui_loop: asyncio.AbstractEventLoop, isolated_home: Home, monkeypatch: pytest.MonkeyPatch,
        qtbot: QtBot) -> Iterator[UiContext]:
    context = make_context(isolated_home.ots_home, None, monkeypatch)
    yield context
    context.tasks.cancel_all()
    qtbot.waitUntil(lambda: not context.tasks.busy, timeout=10_000)
    context.events.close()
    context.services.close()


def test_a_collector_is_saved_and_gets_the_test_event(ctx: UiContext, qtbot: QtBot, tmp_path: Path) -> None:
    collector = start_rsyslog(tmp_path / "rsyslog")
    try:
        page = SettingsPage(ctx)
        qtbot.addWidget(page)
        page.forwarding.syslog_field.setText(collector.url)
        assert page.save()
        written = tomllib.loads(ctx.services.paths.config_file.read_text(encoding="utf-8"))
        assert written["audit_syslog"] == collector.url
        with qtbot.waitSignal(page.forwarding.tested, timeout=WAIT_MS) as done:
            qtbot.mouseClick(page.forwarding.test_button, Qt.MouseButton.LeftButton)
        assert done.args[0] == {collector.url: None}
        assert page.forwarding.status_label.text() == f"Test event delivered to {collector.url}."
        wait_until(lambda: bool(collector.raw_messages()), timeout=20, what="the test event at rsyslog")
        message = parse(collector.raw_messages()[0])
        assert message.msgid == "test_event" and message.sd["ots@32473"]["seq"] == "0"
    finally:
        collector.stop()
    with qtbot.waitSignal(page.forwarding.tested, timeout=WAIT_MS) as failed:
        page.forwarding.send_test()
    assert failed.args[0][collector.url] and "Not delivered" in page.forwarding.status_label.text()
    with qtbot.waitSignal(page.forwarding.status_shown, timeout=WAIT_MS) as shown:
        page.forwarding.refresh()
    assert shown.args[0].startswith(f"{collector.url}: ")


def test_a_plain_collector_off_this_machine_is_refused_on_its_field(ctx: UiContext, qtbot: QtBot) -> None:
    page = SettingsPage(ctx)
    qtbot.addWidget(page)
    page.forwarding.syslog_field.setText("tcp://10.20.30.40:514")
    assert not page.save()
    assert "The syslog collector" in page.banner.text() and "not encrypted" in page.banner.text()
    assert not ctx.services.paths.config_file.exists()
