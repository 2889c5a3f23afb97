"""One file transfer through the desktop app's own pages, in a process of its own (for bench_gui_transfer).

    python -m tests.benchmarks.gui_transfer_driver send FILE MAILBOX TRANSIT
    python -m tests.benchmarks.gui_transfer_driver receive CODE MAILBOX TRANSIT OUT_DIR

The app's event loop (qasync with Twisted on it), its Services, and the Send page (a queued
file, Share) or the Receive page (a typed code, Receive), on the offscreen platform. Prints
JSON lines: ``{"code": ...}`` (send), then ``{"seconds": ..., "max_stall_ms": ...}``, where
seconds runs from the moment the peer can start (the code is out, or Receive is pressed) to
the end, and max_stall_ms is the longest the loop went without running a 5 ms ticker.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from pathlib import Path

from PySide6.QtWidgets import QApplication

from ots_desktop import runtime
from ots_desktop.core.config import Config
from ots_desktop.ui.app import new_context
from ots_desktop.ui.qtloop import start_loop
from ots_desktop.ui.services import Services

TICK_S = 0.005


async def _ticker(worst: list[float]) -> None:
    last = time.perf_counter()
    while True:
        await asyncio.sleep(TICK_S)
        now = time.perf_counter()
        worst[0] = max(worst[0], now - last - TICK_S)
        last = now


def main(argv: list[str]) -> int:
    mode, target, mailbox, transit = argv[:4]
    app = QApplication([])
    loop = start_loop(app)
    services = Services()
    services.config = Config(mailbox_url=mailbox, transit_helper=transit)
    services.wormhole_overrides = {"peer_timeout_s": 120.0, "transfer_timeout_s": 120.0}
    ctx = new_context(services)
    worst = [0.0]
    done = asyncio.Event()
    started = [0.0]

    if mode == "send":
        from ots_desktop.ui.send.page import SendPage

        page = SendPage(ctx)
        page.show()
        page.add_paths([Path(target)])

        def poll() -> None:
            cards = page.cards()
            if cards and getattr(cards[0], "code", "") and not started[0]:
                started[0] = time.perf_counter()
                print(json.dumps({"code": cards[0].code}), flush=True)
            if cards and cards[0].is_finished:
                done.set()
        page.share()
    else:
        from ots_desktop.ui.receive.page import ReceivePage

        page = ReceivePage(ctx)
        page.set_save_folder(Path(argv[4]))
        page.show()
        page.field.setText(target)
        started[0] = time.perf_counter()
        page.receive()
        busy = [page.busy]

        def poll() -> None:
            if page.offer_prompt.waiting:
                page.offer_prompt.accept_button.click()  # the person says yes at once
            busy[0] = busy[0] or page.busy
            if busy[0] and not page.busy:  # received, or failed (the parent checks the bytes)
                done.set()

    async def run() -> float:
        ticker = asyncio.ensure_future(_ticker(worst))
        while not done.is_set():
            poll()
            await asyncio.sleep(0.02)
        ticker.cancel()
        return time.perf_counter() - started[0]

    seconds = loop.run_until_complete(run())
    print(json.dumps({"seconds": seconds, "max_stall_ms": worst[0] * 1000}), flush=True)
    ctx.tasks.cancel_all()
    runtime.shutdown(loop, exit_code=0)  # stops the reactor and its thread pool, as the app does at quit
    ctx.events.close()
    services.close()
    loop.close()  # joins qasync's worker threads before Qt goes away
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
