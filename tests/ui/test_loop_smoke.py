"""The app's loop carries a wormhole transfer while Qt drives it (qasync + Twisted on one loop)."""

from __future__ import annotations

import asyncio

from pytestqt.qtbot import QtBot

from ots_desktop.channels.wormhole import ReceiveHooks, SendHooks
from ots_desktop.core.secret import SecretBuffer
from ots_desktop.ui.context import UiContext


def test_text_goes_through_on_the_qt_loop(qtbot: QtBot, ctx: UiContext, peer_ctx: UiContext, tmp_path) -> None:
    codes: list[str] = []
    sent = ctx.tasks.start(ctx.services.wormhole().send_text(SecretBuffer(b"smoke-secret"),
                                                              SendHooks(on_code=codes.append)))
    qtbot.waitUntil(lambda: bool(codes), timeout=20_000)
    got = peer_ctx.tasks.start(peer_ctx.services.wormhole().receive(codes[0], ReceiveHooks(out_dir=tmp_path)))
    qtbot.waitUntil(lambda: got.done() and sent.done(), timeout=20_000)
    received = got.result()
    assert received.text is not None and bytes(received.text.view()) == b"smoke-secret"
    assert isinstance(asyncio.get_event_loop(), object)
