"""Shared steps of the Receive page tests: a shown page, and a peer that sends by code or by link."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pytestqt.qtbot import QtBot

from PySide6.QtCore import Qt

from ots_desktop.channels.link import LinkPolicy, SentLink
from ots_desktop.channels.wormhole import SendHooks
from ots_desktop.core.secret import SecretBuffer
from ots_desktop.ui.context import UiContext
from ots_desktop.ui.receive.page import ReceivePage

NET_MS = 30_000


def receive_page(ctx: UiContext, qtbot: QtBot, folder: Path) -> Iterator[ReceivePage]:
    """A shown Receive page saving into ``folder``; at the end its session is closed and waited for."""
    ctx.events.event.connect(ctx.notifier.on_event)  # as the main window does
    # Not handed to qtbot.addWidget: qtbot would delete the page before its session is closed.
    page = ReceivePage(ctx)
    folder.mkdir(parents=True, exist_ok=True)
    page.set_save_folder(folder)
    page.resize(700, 600)
    page.show()
    qtbot.waitExposed(page)
    page.activateWindow()
    yield page
    page.shutdown()
    qtbot.waitUntil(lambda: page.idle, timeout=NET_MS)
    page.close()
    page.deleteLater()


def send_text(peer: UiContext, qtbot: QtBot, secret: bytes) -> tuple[asyncio.Task[Any], str]:
    """Start a wormhole text share on ``peer``; returns the task and its code."""
    codes: list[str] = []
    task = peer.tasks.start(peer.services.wormhole().send_text(SecretBuffer(secret), SendHooks(on_code=codes.append)))
    qtbot.waitUntil(lambda: bool(codes) or task.done(), timeout=NET_MS)
    assert codes, f"the sender got no code: {task.exception() if task.done() else 'still running'}"
    return task, codes[0]


def send_path(peer: UiContext, qtbot: QtBot, path: Path) -> tuple[asyncio.Task[Any], str]:
    """Start a wormhole file (or folder) share on ``peer``; returns the task and its code."""
    codes: list[str] = []
    task = peer.tasks.start(peer.services.wormhole().send_path(path, SendHooks(on_code=codes.append)))
    qtbot.waitUntil(lambda: bool(codes) or task.done(), timeout=NET_MS)
    assert codes, f"the sender got no code: {task.exception() if task.done() else 'still running'}"
    return task, codes[0]


def make_link(peer: UiContext, qtbot: QtBot, secret: bytes, *, passphrase: bytes | None = None,
              file: Path | None = None) -> str:
    """A one-time link made by ``peer`` on the test relay."""
    channel = peer.services.link()
    relay = peer.services.relay_url()
    phrase = SecretBuffer(passphrase) if passphrase is not None else None
    if file is not None:
        coro = channel.send_file(file, relay, LinkPolicy(), passphrase=phrase)
    else:
        coro = channel.send_text(SecretBuffer(secret), relay, LinkPolicy(), passphrase=phrase)
    task = peer.tasks.start(coro)
    qtbot.waitUntil(task.done, timeout=NET_MS)
    sent: list[SentLink] = task.result()
    return sent[0].link


def type_code(qtbot: QtBot, page: ReceivePage, text: str) -> None:
    """Type into the code field as a person would (the field gets the focus first)."""
    page.focus_code()
    qtbot.keyClicks(page.field, text)


def press_receive(qtbot: QtBot, page: ReceivePage) -> None:
    """Click Receive."""
    qtbot.mouseClick(page.receive_button, Qt.MouseButton.LeftButton)


def wait_done(qtbot: QtBot, page: ReceivePage) -> None:
    """Wait until the receive has ended (either way)."""
    qtbot.waitUntil(lambda: not page.busy, timeout=NET_MS)


def completions(page: ReceivePage) -> list[str]:
    """What the code completer offers now."""
    return list(page.completion.model.stringList())


def audit_entries(ctx: UiContext, qtbot: QtBot, event_type: str) -> list[dict[str, Any]]:
    """The audit log's entries of one type, as the app holds it."""
    task = ctx.tasks.start(ctx.services.audit())
    qtbot.waitUntil(task.done, timeout=NET_MS)
    entries: list[dict[str, Any]] = task.result().entries(event_type=event_type)
    return entries


def accept_offer(qtbot: QtBot, page: ReceivePage, *, take: bool = True) -> str:
    """Answer the "receive this file?" question (Receive it, or Decline); what it said."""
    prompt = page.offer_prompt
    qtbot.waitUntil(lambda: prompt.waiting and prompt.isVisible(), timeout=NET_MS)
    asked = prompt.label.text()
    qtbot.mouseClick(prompt.accept_button if take else prompt.decline_button, Qt.MouseButton.LeftButton)
    return asked
