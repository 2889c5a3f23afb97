"""Every page and state of the desktop app, rendered on the real X server.

In the test run the pictures go to a temporary folder and are only checked for being
drawn. ``make screenshots`` sets ``APP_SCREENSHOTS_DIR=docs/screenshots`` and runs this
module alone, which refreshes the committed ``app-*.png`` files the README shows; it runs it again with
``QT_SCALE_FACTOR=2`` and ``APP_SCREENSHOTS_SUFFIX=-2x`` for the ``app-*-2x.png`` variants.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QWidget

from ots_desktop.ui.context import UiContext
from ots_desktop.ui.main_window import MainWindow
from ots_desktop.ui.tray import Tray
from tests.support.audit import attacker

NET_MS = 30_000
NAMES = ("app-send", "app-share-code", "app-share-link", "app-receive", "app-received-secret", "app-activity",
         "app-activity-tampered", "app-settings", "app-tray-menu")


@pytest.fixture
def out_dir(tmp_path: Path) -> Path:
    target = os.environ.get("APP_SCREENSHOTS_DIR")
    folder = Path(target) if target else tmp_path / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture
def pair(qtbot: QtBot, ctx: UiContext, peer_ctx: UiContext, tmp_path: Path) -> Iterator[tuple[MainWindow,
                                                                                               MainWindow]]:
    windows = []
    for context, name in ((ctx, "alice"), (peer_ctx, "bob")):
        window = MainWindow(context)
        (tmp_path / f"{name}-downloads").mkdir()
        window.receive_page.set_save_folder(tmp_path / f"{name}-downloads")
        window.resize(820, 700)
        window.show()
        qtbot.waitExposed(window)
        windows.append(window)
    yield windows[0], windows[1]
    for window in windows:
        window.receive_page.shutdown()
        qtbot.waitUntil(lambda w=window: w.receive_page.idle, timeout=NET_MS)
        window.hide()
        window.deleteLater()


SUFFIX = os.environ.get("APP_SCREENSHOTS_SUFFIX", "")


def _save(widget: QWidget, folder: Path, name: str) -> Path:
    widget.repaint()
    path = folder / f"{name}{SUFFIX}.png"
    assert widget.grab().save(str(path), "PNG"), f"could not write {path}"
    return path


def test_every_page_and_state_renders(pair: tuple[MainWindow, MainWindow], qtbot: QtBot, out_dir: Path) -> None:
    alice, bob = pair
    send = alice.send_page
    send.options.label.setText("prod DB password for Sam")
    send.focus_secret()
    qtbot.keyClicks(send.secret.edit, "correct-horse-battery-staple")
    _save(alice, out_dir, "app-send")

    send.share()
    qtbot.waitUntil(lambda: bool(send.cards()) and bool(send.cards()[0].code), timeout=NET_MS)
    _save(alice, out_dir, "app-share-code")
    code = send.cards()[0].code

    bob.show_receive()
    nameplate, words = code.split("-", 1)
    qtbot.keyClicks(bob.receive_page.field, nameplate + "-")
    qtbot.waitUntil(lambda: bob.receive_page.completion.words_ready, timeout=NET_MS)
    qtbot.keyClicks(bob.receive_page.field, words)
    _save(bob, out_dir, "app-receive")
    bob.receive_page.completion.completer.popup().hide()  # a click would only close the popup
    qtbot.mouseClick(bob.receive_page.receive_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: bob.receive_page.secret_view.has_secret, timeout=NET_MS)
    qtbot.waitUntil(lambda: send.cards()[0].state == "delivered", timeout=NET_MS)
    _save(bob, out_dir, "app-received-secret")
    bob.receive_page.secret_view.clear()

    send.options.set_channel("link")
    send.focus_secret()
    qtbot.keyClicks(send.secret.edit, "sk_live_51HxExample")
    send.share()
    qtbot.waitUntil(lambda: len(send.cards()) == 2 and bool(send.cards()[0].link), timeout=NET_MS)
    bob.receive_page.open_link(send.cards()[0].link)
    qtbot.waitUntil(lambda: send.cards()[0].state == "revealed", timeout=NET_MS)
    bob.receive_page.secret_view.clear()
    _save(alice, out_dir, "app-share-link")

    alice.tabs.setCurrentWidget(alice.activity_page)
    qtbot.waitUntil(lambda: alice.activity_page.model.rowCount() >= 4, timeout=NET_MS)
    with qtbot.waitSignal(alice.activity_page.verified, timeout=NET_MS):
        alice.activity_page.verify()
    _save(alice, out_dir, "app-activity")
    log = alice.ctx.services.audit_if_open()
    assert log is not None
    with attacker(log.store.path) as db:
        db.execute("UPDATE entries SET body = replace(body, 'prod DB password', 'test DB password') WHERE seq = 2")
    with qtbot.waitSignal(alice.activity_page.verified, timeout=NET_MS):
        alice.activity_page.verify()
    assert alice.activity_page.banner.level == "error"
    _save(alice, out_dir, "app-activity-tampered")

    alice.tabs.setCurrentWidget(alice.settings_page)
    qtbot.waitUntil(alice.settings_page.isVisible, timeout=NET_MS)
    _save(alice, out_dir, "app-settings")

    tray = Tray(alice.ctx, alice)
    tray.menu.popup(QPoint(600, 30))
    qtbot.waitExposed(tray.menu)
    _save(tray.menu, out_dir, "app-tray-menu")
    tray.menu.hide()

    for name in NAMES:
        image = QImage(str(out_dir / f"{name}{SUFFIX}.png"))
        assert not image.isNull() and image.width() > 100 and image.height() > 50, name
        # Drawn, not blank: many colours over a grid of samples.
        colours = {image.pixel(x, y) for x in range(0, image.width(), 7) for y in range(0, image.height(), 7)}
        assert len(colours) > 3, f"{name} is blank"
