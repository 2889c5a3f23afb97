"""The tray under a real X server with a tray host (Xvfb + trayer): menu, quick share, notifications."""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QApplication, QSystemTrayIcon

from ots_desktop.ui.context import Level, UiContext
from ots_desktop.ui.desktop_notify import service_name
from ots_desktop.ui.icons import TrayState
from ots_desktop.ui.main_window import MainWindow
from ots_desktop.ui.tray import Tray
from tests.support.processes import Service
from tests.ui.send_support import receive_link, wait_done


@pytest.fixture
def app_window(qtbot: QtBot, ctx: UiContext) -> Iterator[tuple[MainWindow, Tray]]:
    # Not handed to qtbot.addWidget: the receive page's session must close before the window goes.
    window = MainWindow(ctx)
    tray = Tray(ctx, window)
    qtbot.waitUntil(Tray.available, timeout=10_000)
    tray.show()
    window.keep_in_tray = True
    yield window, tray
    window.receive_page.shutdown()
    qtbot.waitUntil(lambda: window.receive_page.idle, timeout=20_000)
    tray.hide()
    window.keep_in_tray = False
    window.hide()
    window.deleteLater()


def _balloons() -> list[str]:
    return [w.metaObject().className() for w in QApplication.topLevelWidgets()
            if w.metaObject().className() == "QBalloonTip" and w.isVisible()]


def test_the_tray_is_available_and_its_menu_has_every_action(app_window: tuple[MainWindow, Tray],
                                                             qtbot: QtBot) -> None:
    _window, tray = app_window
    assert QSystemTrayIcon.isSystemTrayAvailable()
    qtbot.waitUntil(lambda: tray.icon.geometry().width() > 0, timeout=10_000)  # docked in trayer
    texts = [a.text() for a in tray.menu.actions() if not a.isSeparator()]
    assert texts == ["Share clipboard as link", "Share clipboard as code", "Receive…", "Request a secret…",
                     "Open ots-desktop", "Quit"]
    assert not tray.icon.icon().isNull()


def test_open_and_receive_actions_show_the_window(app_window: tuple[MainWindow, Tray], qtbot: QtBot) -> None:
    window, tray = app_window
    assert not window.isVisible()
    tray.open_action.trigger()
    qtbot.waitExposed(window)
    window.hide()
    tray.receive_action.trigger()
    qtbot.waitExposed(window)
    assert window.tabs.currentWidget() is window.receive_page
    window.hide()
    tray.request_action.trigger()
    qtbot.waitExposed(window)
    assert window.tabs.currentWidget() is window.receive_page
    assert window.receive_page.requests.form.isVisible()


def test_closing_the_window_keeps_the_app_in_the_tray(app_window: tuple[MainWindow, Tray], qtbot: QtBot) -> None:
    window, tray = app_window
    window.show()
    qtbot.waitExposed(window)
    with qtbot.waitSignal(tray.shown_message, timeout=5000) as shown:
        window.close()
    assert not window.isVisible()
    assert "still running" in shown.args[0]
    quits: list[bool] = []
    window.quit_requested.connect(lambda: quits.append(True))
    assert quits == []


def test_notifications_are_raised_in_the_tray(app_window: tuple[MainWindow, Tray], ctx: UiContext,
                                              qtbot: QtBot) -> None:
    _window, tray = app_window
    qtbot.waitUntil(lambda: tray.icon.geometry().width() > 0, timeout=10_000)
    with qtbot.waitSignal(tray.shown_message, timeout=5000) as shown:
        ctx.notifier.notify("ots-desktop alert", "Someone tried a wrong code.", Level.ERROR)
    assert shown.args == ["ots-desktop alert", "Someone tried a wrong code."]
    qtbot.waitUntil(lambda: bool(_balloons()), timeout=5000)
    assert tray.state is TrayState.ALERT
    tray.acknowledge()
    assert tray.state is TrayState.IDLE


def test_share_clipboard_as_code_from_the_tray(app_window: tuple[MainWindow, Tray], ctx: UiContext,
                                               qtbot: QtBot) -> None:
    window, tray = app_window
    QGuiApplication.clipboard().setText("sk_tray_code_share")
    tray.share_code_action.trigger()
    qtbot.waitExposed(window)
    assert window.tabs.currentWidget() is window.send_page
    qtbot.waitUntil(lambda: bool(window.send_page.cards()) and bool(window.send_page.cards()[0].code), timeout=30_000)
    qtbot.waitUntil(lambda: tray.state is TrayState.SHARING, timeout=10_000)


def test_share_clipboard_as_link_from_the_tray(app_window: tuple[MainWindow, Tray], ctx: UiContext,
                                               peer_ctx: UiContext, qtbot: QtBot, tmp_path: Path) -> None:
    window, tray = app_window
    QGuiApplication.clipboard().setText("sk_tray_link_share")
    tray.share_link_action.trigger()
    qtbot.waitUntil(lambda: bool(window.send_page.cards()) and bool(window.send_page.cards()[0].link), timeout=30_000)
    card = window.send_page.cards()[0]
    assert card.link.startswith("http://127.0.0.1:")
    qtbot.waitUntil(lambda: tray.state is TrayState.SHARING, timeout=10_000)
    # The link's life reaches the tray through the event bus: its reveal is a notification, its end idles the icon.
    shown: list[tuple[str, str]] = []
    tray.shown_message.connect(lambda title, message: shown.append((title, message)))
    got = receive_link(peer_ctx, card.link, tmp_path / "in")
    wait_done(qtbot, got)
    got.result().text.close()
    qtbot.waitUntil(lambda: any(title == "Link opened" for title, _m in shown), timeout=30_000)
    [(_title, message)] = [item for item in shown if item[0] == "Link opened"]
    assert re.fullmatch(r".+: opened at \d\d:\d\d from 127\.0\.0\.1\.", message), message
    qtbot.waitUntil(lambda: tray.state is TrayState.IDLE, timeout=30_000)


def test_an_empty_clipboard_is_a_clear_warning_not_a_share(app_window: tuple[MainWindow, Tray],
                                                          qtbot: QtBot) -> None:
    window, tray = app_window
    QGuiApplication.clipboard().clear()
    with qtbot.waitSignal(tray.shown_message, timeout=5000) as shown:
        tray.share_link_action.trigger()
    assert shown.args[0] == "Nothing to share"
    assert window.send_page.cards() == []


@pytest.fixture
def notification_server(tmp_path: Path) -> Iterator[Service]:
    """A real notification service (dunst) on this session's bus and X display, stopped by PID."""
    config = tmp_path / "dunstrc"
    config.write_text("[global]\n    history_length = 20\n", encoding="utf-8")
    server = Service("dunst", ["dunst", "-config", str(config)], env=dict(os.environ), log_dir=tmp_path)
    deadline = time.monotonic() + 15
    while service_name() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert service_name() == "dunst", server.log_text()
    yield server
    server.stop()


def _dunst_history() -> list[str]:
    done = subprocess.run(["dunstctl", "history"], capture_output=True, text=True, timeout=10, check=True)
    entries = json.loads(done.stdout)["data"][0]
    return [f"{e['summary']['data']}|{e['body']['data']}" for e in entries]


def test_notifications_go_through_the_desktops_service_when_it_has_one(
        app_window: tuple[MainWindow, Tray], ctx: UiContext, qtbot: QtBot, notification_server: Service) -> None:
    _window, tray = app_window
    with qtbot.waitSignal(tray.shown_message, timeout=15_000):
        ctx.notifier.notify("ots-desktop alert", "db password: someone tried a wrong passphrase (1×)", Level.ERROR)
    assert tray.last_route == "desktop" and tray.state is TrayState.ALERT
    assert not _balloons()
    subprocess.run(["dunstctl", "close-all"], check=True, timeout=10)
    qtbot.waitUntil(lambda: "ots-desktop alert|db password: someone tried a wrong passphrase (1×)"
                    in _dunst_history(), timeout=15_000)
    # The service goes away: the next one comes as a balloon from the tray, not lost.
    notification_server.stop()
    with qtbot.waitSignal(tray.shown_message, timeout=15_000):
        ctx.notifier.notify("Link opened", "api key: opened at 10:00 from 10.0.0.7.", Level.SUCCESS)
    assert tray.last_route == "balloon"
