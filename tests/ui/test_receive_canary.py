"""Nothing received lands on disk except the file the person chose to save."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pytestqt.qtbot import QtBot

from PySide6.QtCore import Qt

from ots_desktop.ui.context import UiContext
from ots_desktop.ui.receive.page import ReceivePage
from ots_desktop.ui.receive.saved_view import default_folder
from tests.conftest import CANARY, Home
from tests.support.canary import find_canary
from tests.ui.receive_support import (
    NET_MS,
    accept_offer,
    make_link,
    press_receive,
    receive_page,
    send_path,
    send_text,
    type_code,
)


@pytest.fixture
def page(ctx: UiContext, qtbot: QtBot, isolated_home: Home) -> Iterator[ReceivePage]:
    downloads = isolated_home.home / "Downloads"
    downloads.mkdir()
    assert default_folder() == downloads
    yield from receive_page(ctx, qtbot, downloads)


def test_received_secrets_stay_off_disk_except_the_saved_file(qtbot: QtBot, ctx: UiContext, page: ReceivePage,
                                                              peer_ctx: UiContext, isolated_home: Home) -> None:
    view = page.secret_view
    # A text by code: shown, copied, then cleared.
    sent, code = send_text(peer_ctx, qtbot, CANARY)
    type_code(qtbot, page, code)
    with qtbot.waitSignal(page.received, timeout=NET_MS):
        press_receive(qtbot, page)
    qtbot.waitUntil(sent.done, timeout=NET_MS)
    qtbot.mouseClick(view.show_button, Qt.MouseButton.LeftButton)
    assert view.plain.toPlainText() == CANARY.decode()
    qtbot.mouseClick(view.copy_button, Qt.MouseButton.LeftButton)
    ctx.clipboard.clear_if_ours()
    # A text by link.
    with qtbot.waitSignal(page.received, timeout=NET_MS):
        page.open_link(make_link(peer_ctx, qtbot, CANARY + b"-by-link"))
    qtbot.mouseClick(view.show_button, Qt.MouseButton.LeftButton)
    assert view.plain.toPlainText() == CANARY.decode() + "-by-link"
    qtbot.mouseClick(view.clear_button, Qt.MouseButton.LeftButton)
    # A file by code, which the person saves on purpose.
    outbox = isolated_home.root / "outbox"
    outbox.mkdir()
    (outbox / "canary.env").write_bytes(b"TOKEN=" + CANARY + b"\n")
    sent, code = send_path(peer_ctx, qtbot, outbox / "canary.env")
    type_code(qtbot, page, code)
    with qtbot.waitSignal(page.received, timeout=NET_MS):
        press_receive(qtbot, page)
        accept_offer(qtbot, page)
    qtbot.waitUntil(sent.done, timeout=NET_MS)
    saved = isolated_home.home / "Downloads" / "canary.env"
    assert saved.read_bytes() == b"TOKEN=" + CANARY + b"\n"
    # The audit log is on disk already (SQLite may keep pages in a WAL); close it so every byte is in its files.
    ctx.services.close()
    hits = find_canary([isolated_home.ots_home, isolated_home.home], CANARY)
    assert hits, "the scan found not even the saved file"
    assert {hit.split(": ")[0] for hit in hits} == {str(saved)}
