"""Helpers for the Send page tests: a page on the test installation, typing, drops, receiving."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from pytestqt.qtbot import QtBot

from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QApplication, QWidget

from ots_desktop.channels.link_receive import ReceiveOptions
from ots_desktop.channels.link_urls import parse_link
from ots_desktop.channels.wormhole import ReceiveHooks
from ots_desktop.ui.context import UiContext
from ots_desktop.ui.send.card import ShareCard
from ots_desktop.ui.send.link_card import LinkShareCard
from ots_desktop.ui.send.page import SendPage
from ots_desktop.ui.send.wormhole_card import WormholeShareCard

NETWORK_MS = 30_000


def new_page(qtbot: QtBot, ctx: UiContext, **kwargs: Any) -> SendPage:
    """A Send page on ``ctx``, shown, with ALERT/DELIVERED events turned into notifications as the window does."""
    page = SendPage(ctx, **kwargs)
    qtbot.addWidget(page)
    page.resize(760, 900)
    page.show()
    qtbot.waitExposed(page)
    ctx.events.event.connect(ctx.notifier.on_event)
    return page


def type_secret(qtbot: QtBot, page: SendPage, text: str) -> None:
    """Type ``text`` into the secret field with the keyboard."""
    page.secret.edit.setFocus()
    qtbot.keyClicks(page.secret.edit, text)


def click_share(qtbot: QtBot, page: SendPage) -> None:
    """Press the Share button."""
    qtbot.mouseClick(page.share_button, Qt.MouseButton.LeftButton)


def mime_with(*, text: str | None = None, paths: list[Path] | None = None, urls: list[str] | None = None,
              data: dict[str, bytes] | None = None) -> QMimeData:
    """Drag data as a file manager, an editor or a browser would offer it."""
    mime = QMimeData()
    if text is not None:
        mime.setText(text)
    qurls = [QUrl.fromLocalFile(str(p)) for p in paths or []] + [QUrl(u) for u in urls or []]
    if qurls:
        mime.setUrls(qurls)
    for kind, value in (data or {}).items():
        mime.setData(kind, value)
    return mime


def drag_enter(widget: QWidget, mime: QMimeData) -> bool:
    """Send a drag-enter; whether the widget accepted it."""
    # QDragEnterEvent takes a QPoint (PySide6 6.12 also converts a QPointF; 6.11 does not).
    event = QDragEnterEvent(QPoint(10, 10), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                            Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(widget, event)
    return event.isAccepted()


def drop(widget: QWidget, mime: QMimeData) -> bool:
    """Drag onto ``widget`` and drop there; whether the drop was taken."""
    if not drag_enter(widget, mime):
        return False
    event = QDropEvent(QPointF(10, 10), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                       Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(widget, event)
    return event.isAccepted()


def wormhole_cards(page: SendPage) -> list[WormholeShareCard]:
    """The page's wormhole cards, newest first."""
    return [c for c in page.cards() if isinstance(c, WormholeShareCard)]


def link_cards(page: SendPage) -> list[LinkShareCard]:
    """The page's link cards, newest first."""
    return [c for c in page.cards() if isinstance(c, LinkShareCard)]


def wait_code(qtbot: QtBot, page: SendPage, count: int = 1) -> list[WormholeShareCard]:
    """Wait until ``count`` wormhole cards show a code."""
    qtbot.waitUntil(lambda: len([c for c in wormhole_cards(page) if c.code]) >= count, timeout=NETWORK_MS)
    return wormhole_cards(page)


def wait_state(qtbot: QtBot, card: ShareCard, *states: str) -> None:
    """Wait until ``card`` is in one of ``states``."""
    qtbot.waitUntil(lambda: card.state in states, timeout=NETWORK_MS)


def receive_code(peer: UiContext, code: str, out_dir: Path, **hooks: Any) -> asyncio.Task[Any]:
    """The recipient's side of a wormhole share, on the peer installation."""
    out_dir.mkdir(parents=True, exist_ok=True)
    return peer.tasks.start(peer.services.wormhole().receive(code, ReceiveHooks(out_dir=out_dir, **hooks)),
                            on_error=lambda _text: None)


def receive_link(peer: UiContext, link: str, out_dir: Path, **options: Any) -> asyncio.Task[Any]:
    """The recipient's side of a link, on the peer installation."""
    out_dir.mkdir(parents=True, exist_ok=True)
    return peer.tasks.start(peer.services.link().receive(parse_link(link), ReceiveOptions(out_dir=out_dir, **options)),
                            on_error=lambda _text: None)


def deliver_text(qtbot: QtBot, card: WormholeShareCard, peer: UiContext, out_dir: Path) -> bytes:
    """The peer receives the card's code; once the card says delivered, the text the peer got."""
    got = receive_code(peer, card.code, out_dir)
    wait_state(qtbot, card, "delivered")
    wait_done(qtbot, got)
    received = got.result()
    assert received.text is not None
    try:
        return bytes(received.text.view())
    finally:
        received.text.close()


def wait_done(qtbot: QtBot, task: asyncio.Task[Any]) -> None:
    """Wait for a task to end (either way)."""
    qtbot.waitUntil(task.done, timeout=NETWORK_MS)


def notifications(ctx: UiContext) -> list[tuple[str, str, str]]:
    """Start collecting ``ctx``'s notifications into the returned list."""
    seen: list[tuple[str, str, str]] = []
    ctx.notifier.notified.connect(lambda title, message, level: seen.append((title, message, level)))
    return seen
