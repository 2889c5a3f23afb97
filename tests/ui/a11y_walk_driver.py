"""Two whole app windows in a process of their own, walked state by state (for test_atspi_walk).

    QT_LINUX_ACCESSIBILITY_ALWAYS_ON=1 python -m tests.ui.a11y_walk_driver

The sender's window ("alice") and the recipient's ("bob") run on real servers (their URLs come in
``OTS_WALK_MAILBOX``, ``OTS_WALK_TRANSIT`` and ``OTS_WALK_RELAY``; each installation has its own
home under ``OTS_WALK_ROOT``) and the keychain on the session bus. Commands, one a line on stdin:

- ``secret TEXT``: the secret to share (a canary the test then looks for on the bus);
- ``step NAME``: bring the windows into the state NAME (see ``STEPS``), then print one JSON line
  ``{"done": NAME, "values": [...], "announced": [[TEXT, POLITENESS], ...], "controls": [...]}``:
  the value-bearing texts the state shows, the status changes that led to it (1 polite,
  2 assertive), and every visible control with its visible label and its accessible name.

Prints ``{"ready": true}`` once both windows are up; a failed step prints ``{"failed": ...}``.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QSocketNotifier, Qt
from PySide6.QtGui import QAccessible
from PySide6.QtTest import QTest
from PySide6.QtWidgets import (
    QAbstractButton,
    QAbstractItemView,
    QAbstractSpinBox,
    QApplication,
    QComboBox,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QTabBar,
    QTextEdit,
    QWidget,
)

from ots_desktop.core.config import Config
from ots_desktop.core.paths import app_paths
from ots_desktop.ui.a11y import visible_label
from ots_desktop.ui.app import new_context
from ots_desktop.ui.main_window import MainWindow
from ots_desktop.ui.qtloop import start_loop
from ots_desktop.ui.send.link_card import LinkShareCard
from ots_desktop.ui.send.wormhole_card import WormholeShareCard
from ots_desktop.ui.services import Services
from tests.support.audit import attacker

APP_NAME = "ots-a11y-walk"
WAIT_S = 40.0
POLITE, ASSERTIVE = 1, 2
Report = dict[str, Any]


def _name(widget: QWidget) -> str:
    iface = QAccessible.queryAccessibleInterface(widget)
    return iface.text(QAccessible.Text.Name) if iface is not None else ""


def _plain(text: str) -> str:
    """A label's text as seen: mnemonic ampersands dropped, a trailing colon too."""
    return text.replace("&&", "\0").replace("&", "").replace("\0", "&").strip().rstrip(":").strip()


def controls(window: QWidget) -> list[Report]:
    """Every visible control of ``window``: its kind, visible label (empty when it has none) and accessible name."""
    buddies = [(label.buddy(), label) for label in window.findChildren(QLabel)
               if label.buddy() is not None and label.isVisible()]
    found: list[Report] = []
    for widget in window.findChildren(QWidget):
        if not widget.isVisible() or widget.window() is not window:
            continue
        if isinstance(widget, QLineEdit) and isinstance(widget.parent(), (QAbstractSpinBox, QComboBox)):
            continue  # the editor inside a spin or combo box: the box is the control
        if isinstance(widget, QHeaderView):
            continue  # a table's headers: the table is the control
        if isinstance(widget, QAbstractButton):
            label = visible_label(widget)
            found.append({"kind": type(widget).__name__, "label": label if label[:1].isalnum() else "",
                          "name": _name(widget)})
        elif isinstance(widget, QTabBar):
            iface = QAccessible.queryAccessibleInterface(widget)
            for index in range(widget.count()):
                tab = iface.child(index) if iface is not None else None
                found.append({"kind": "tab", "label": _plain(widget.tabText(index)),
                              "name": tab.text(QAccessible.Text.Name) if tab is not None else ""})
        elif isinstance(widget, (QLineEdit, QPlainTextEdit, QTextEdit, QAbstractSpinBox, QComboBox,
                                 QAbstractItemView)):
            label = next((_plain(lab.text()) for owner, lab in buddies if owner is widget), "")
            found.append({"kind": type(widget).__name__, "label": label, "name": _name(widget)})
    return found


class Walk:
    """The two windows and the steps that move them from state to state."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.secret = ""
        self.alice = self._window("alice")
        self.bob = self._window("bob")
        self.link = ""

    def _window(self, who: str) -> MainWindow:
        services = Services(app_paths({"OTS_HOME": str(self.root / who / "ots")}))
        services.config = Config(mailbox_url=os.environ["OTS_WALK_MAILBOX"],
                                 transit_helper=os.environ["OTS_WALK_TRANSIT"],
                                 relay_url=os.environ["OTS_WALK_RELAY"], clipboard_clear_s=30)
        services.wormhole_overrides = {"peer_timeout_s": 30.0, "transfer_timeout_s": 30.0}
        window = MainWindow(new_context(services))
        window.setWindowTitle(f"ots-desktop ({who})")
        downloads = self.root / who / "downloads"
        downloads.mkdir(parents=True, exist_ok=True)
        window.receive_page.set_save_folder(downloads)
        window.resize(820, 700)
        window.show()
        return window

    async def until(self, condition: Callable[[], object], what: str) -> None:
        deadline = time.monotonic() + WAIT_S
        while not condition():
            if time.monotonic() > deadline:
                raise TimeoutError(f"no {what} within {WAIT_S} s")
            await asyncio.sleep(0.02)

    async def activate(self, window: MainWindow) -> None:
        """Bring ``window`` to the front with the keyboard focus, as a click on it would."""
        window.raise_()
        window.activateWindow()
        await self.until(window.isActiveWindow, "an active window")

    async def type(self, field: QLineEdit, text: str) -> None:
        """Type ``text`` into ``field`` with the keyboard. With a client on the accessibility bus, Qt first
        offers each key to the bus's listeners and delivers it when they have answered: wait for the text."""
        before = len(field.text())
        QTest.keyClicks(field, text)
        await self.until(lambda: len(field.text()) >= before + len(text), "the typed text")

    def report(self, values: list[str], announced: list[tuple[str, int]]) -> Report:
        return {"values": values, "announced": announced,
                "controls": controls(self.alice) + controls(self.bob)}

    def snapshot(self) -> Report:
        """What the windows say (for a failed step's report)."""
        return {who: {"cards": [card.status.text() for card in window.send_page.cards()],
                      "banners": [page.banner.text() for page in (window, window.send_page, window.receive_page,
                                                                  window.activity_page)],
                      "receive": window.receive_page.state.text(), "send": window.send_page.busy_label.text()}
                for who, window in (("alice", self.alice), ("bob", self.bob))}

    # -- the states ---------------------------------------------------------------------

    async def send(self) -> Report:
        self.alice.tabs.setCurrentWidget(self.alice.send_page)
        await self.until(self.alice.send_page.isVisible, "Send page")
        return self.report([], [])

    async def code(self) -> Report:
        send = self.alice.send_page
        send.options.label.setText("Walk code share")
        await self.activate(self.alice)
        send.focus_secret()
        await self.type(send.secret.edit, self.secret)
        send.share()
        await self.until(lambda: bool(send.cards()) and bool(send.cards()[0].code), "wormhole code")
        card = send.cards()[0]
        assert isinstance(card, WormholeShareCard)
        return self.report([card.code_label.text(), card.status.text()], [(card.status.text(), POLITE)])

    async def completion(self) -> Report:
        page = self.bob.receive_page
        self.bob.show_receive()
        await self.activate(self.bob)
        nameplate = self.alice.send_page.cards()[0].code.split("-", 1)[0]
        await self.type(page.field, nameplate + "-")
        await self.until(lambda: page.completion.words_ready and page.completion.popup.isVisible(),
                         "word suggestions")
        speech, popup = page.completion.speech, page.completion.popup
        opened = speech.text()
        model = speech.completer.completionModel()
        rows = model.rowCount()
        shown = [str(model.index(row, 0).data()) for row in range(min(3, rows))]
        # The arrow keys move through the list; the field shows the highlighted suggestion meanwhile.
        for row in (0, 1):
            QTest.keyClick(popup, Qt.Key.Key_Down)
            await self.until(lambda row=row: page.field.text() == shown[row] and popup.isVisible(),
                             "a highlighted word")
        return self.report(shown, [(opened, POLITE), (f"{shown[0]}, 1 of {rows}", POLITE),
                                   (f"{shown[1]}, 2 of {rows}", POLITE)])

    async def received(self) -> Report:
        page, card = self.bob.receive_page, self.alice.send_page.cards()[0]
        nameplate, words = card.code.split("-", 1)
        # Back to the number (the session keeps the nameplate it claimed: retyping the number would start a
        # second session, and a third side crowds the code), then the words, typed.
        page.field.setText(f"{nameplate}-")
        await self.type(page.field, words)
        page.completion.popup.hide()  # a click would only close the list
        QTest.mouseClick(page.receive_button, Qt.MouseButton.LeftButton)
        await self.until(lambda: page.secret_view.has_secret and card.state == "delivered", "delivery")
        return self.report([page.state.text(), card.status.text()],
                           [(page.state.text(), POLITE), (card.status.text(), POLITE)])

    async def link(self) -> Report:
        self.bob.receive_page.secret_view.clear()
        send = self.alice.send_page
        send.options.set_channel("link")
        send.options.label.setText("Walk link share")
        await self.activate(self.alice)
        send.focus_secret()
        await self.type(send.secret.edit, self.secret)
        send.share()
        await self.until(lambda: len(send.cards()) == 2 and bool(send.cards()[0].link), "link")
        card = send.cards()[0]
        assert isinstance(card, LinkShareCard)
        self.link = card.link
        return self.report([card.terms_label.text(), card.status.text()], [(card.status.text(), POLITE)])

    async def receipt(self) -> Report:
        card = self.alice.send_page.cards()[0]
        assert isinstance(card, LinkShareCard)
        page = self.bob.receive_page
        page.open_link(self.link)
        await self.until(lambda: card.state == "revealed" and bool(card.receipts()) and page.secret_view.has_secret,
                         "receipt")
        receipt = card.receipts()[-1]
        return self.report([receipt, card.status.text(), page.state.text()],
                           [(receipt, POLITE), (card.status.text(), POLITE), (page.state.text(), POLITE)])

    async def receive_error(self) -> Report:
        page = self.bob.receive_page
        page.secret_view.clear()
        page.open_link(self.link)  # used up: the relay refuses it
        await self.until(lambda: not page.busy and page.state.text().startswith("Failed"), "refusal")
        return self.report([page.state.text(), page.banner.text()],
                           [(page.state.text(), ASSERTIVE), (f"error: {page.banner.text()}", ASSERTIVE)])

    async def activity(self) -> Report:
        page = self.alice.activity_page
        self.alice.tabs.setCurrentWidget(page)
        await self.until(lambda: page.model.rowCount() >= 4, "log entries")
        await page.verify()
        await self.until(lambda: page.banner.level == "success" and page.banner.isVisible(), "verification")
        return self.report([page.banner.text(), page.count_label.text()],
                           [("Verifying the audit log\u2026", POLITE), (page.banner.text(), POLITE)])

    async def banner(self) -> Report:
        page = self.alice.activity_page
        log = self.alice.ctx.services.audit_if_open() if self.alice.ctx is not None else None
        assert log is not None
        with attacker(log.store.path) as db:
            db.execute("UPDATE entries SET body = replace(body, 'Walk code share', 'Walk c0de share') WHERE seq = 2")
        await page.verify()
        await self.until(lambda: page.banner.level == "error" and page.banner.isVisible(), "error banner")
        return self.report([page.banner.text()], [(f"error: {page.banner.text()}", ASSERTIVE)])

    async def settings(self) -> Report:
        page = self.alice.settings_page
        self.alice.tabs.setCurrentWidget(page)
        await self.until(lambda: page.backend_label.text() != "Checking\u2026" and bool(page.store_label.text()),
                         "keychain check")
        return self.report([page.backend_label.text(), page.store_label.text()], [])


STEPS: dict[str, Callable[[Walk], Awaitable[Report]]] = {
    "send": Walk.send, "code": Walk.code, "completion": Walk.completion, "received": Walk.received,
    "link": Walk.link, "receipt": Walk.receipt, "receive-error": Walk.receive_error, "activity": Walk.activity,
    "banner": Walk.banner, "settings": Walk.settings,
}


def emit(record: Report) -> None:
    sys.stdout.write(json.dumps(record, ensure_ascii=False) + "\n")
    sys.stdout.flush()


def main() -> int:
    app = QApplication([APP_NAME])
    app.setApplicationName(APP_NAME)
    loop = start_loop(app)
    walk = Walk(Path(os.environ["OTS_WALK_ROOT"]))
    running: set[asyncio.Task[None]] = set()

    async def step(name: str) -> None:
        try:
            emit({"done": name, **await STEPS[name](walk)})
        except Exception as exc:  # the test shows why the step failed
            emit({"failed": name, "why": f"{type(exc).__name__}: {exc}", "seen": walk.snapshot()})

    def on_stdin() -> None:
        line = sys.stdin.readline()
        if not line:
            loop.stop()
            return
        word, _, rest = line.strip().partition(" ")
        if word == "secret":
            walk.secret = rest
            emit({"done": "secret"})
        elif word == "step":
            task = asyncio.ensure_future(step(rest))
            running.add(task)
            task.add_done_callback(running.discard)

    notifier = QSocketNotifier(sys.stdin.fileno(), QSocketNotifier.Type.Read)
    notifier.activated.connect(on_stdin)
    emit({"ready": True})
    loop.run_forever()
    for window in (walk.alice, walk.bob):
        window.receive_page.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
