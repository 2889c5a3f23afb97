"""The Receive page: one field for a wormhole code (completed as it is typed) or a one-time link.

A text secret lands in a :class:`SecretView`, masked; a file or a folder is saved in
the chosen folder, with progress. Every failure (a wrong code, a wrong passphrase, a
link already opened, an unreachable server, a malformed code or link) ends in a
readable banner and a state line saying what happened. The code or link is cleared
from the field as soon as the receive takes it; a code comes back after a failure of the
network or of waiting, to be tried again.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import QCheckBox, QHBoxLayout, QLabel, QLineEdit, QProgressBar, QPushButton, QVBoxLayout, QWidget

from ots_desktop.channels.link_errors import LinkFailure
from ots_desktop.channels.link_urls import ParsedLink, is_link, parse_link
from ots_desktop.channels.wormhole import CodeEntry, ReceiveHooks, WormholeChannel
from ots_desktop.core import codes
from ots_desktop.core.errors import InputError
from ots_desktop.core.events import ChannelEvent, EventKind
from ots_desktop.core.messages import sentence
from ots_desktop.core.secret import SecretBuffer
from ots_desktop.core.sizes import TransferRate, format_size
from ots_desktop.ui.announce import LiveLabel
from ots_desktop.ui.banner import Banner
from ots_desktop.ui.context import Level, UiContext
from ots_desktop.ui.receive.code_completer import CodeCompleter
from ots_desktop.ui.receive.prompts import OfferPrompt, PassphrasePrompt, VerifyPrompt
from ots_desktop.ui.receive.requests import RequestPanel
from ots_desktop.ui.receive.saved_view import FolderChooser, SavedView
from ots_desktop.ui.receive.secret_view import SENSITIVE_HINTS, SecretView
from ots_desktop.ui.receive.status import IDLE_STATE, NOT_A_CODE, can_retry, describe, percent
from ots_desktop.ui.tasks import describe_error


class ReceivePage(QWidget):
    """Receive a secret by wormhole code or one-time link."""

    received = Signal(str)  # the channel: "wormhole" or "link"

    def __init__(self, ctx: UiContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.setAccessibleName("Receive")
        self._task: asyncio.Task[None] | None = None
        self._channel = ""
        self._got_something = False
        self._cancel_safe = False
        self._rate: TransferRate | None = None
        self._typed_code = ""
        self._entry: CodeEntry | None = None
        self.banner = Banner(self)
        self._build_entry()
        self.verify_box = QCheckBox("Compare &verification words with the sender first (codes only)", self)
        self.verify_box.setAccessibleName("Compare verification words before receiving")
        self.verify_prompt = VerifyPrompt(self)
        self.passphrase_prompt = PassphrasePrompt(self)
        self.offer_prompt = OfferPrompt(self)
        self.folder_chooser = FolderChooser(self)
        self.state = LiveLabel("Receive state", self)
        self.state.setText(IDLE_STATE, quiet=True)
        self.state.setWordWrap(True)
        self.progress = QProgressBar(self)
        self.progress.setAccessibleName("Receive progress")
        self.progress.setRange(0, 100)
        self.progress.hide()
        self.secret_view = SecretView(ctx.clipboard, self)
        self.secret_view.hide()
        self.saved_view = SavedView(self)
        self.requests = RequestPanel(ctx, lambda: self.save_folder, self)
        layout = QVBoxLayout(self)
        layout.addWidget(self.banner)
        layout.addLayout(self._entry_row)
        layout.addWidget(self.verify_box)
        layout.addWidget(self.verify_prompt)
        layout.addWidget(self.passphrase_prompt)
        layout.addWidget(self.offer_prompt)
        layout.addWidget(self.folder_chooser)
        layout.addWidget(self.state)
        layout.addWidget(self.progress)
        layout.addWidget(self.secret_view, 1)
        layout.addWidget(self.saved_view)
        layout.addWidget(self.requests, 1)
        layout.addStretch(0)
        self._tab_order()
        for keys, action in ((QKeySequence("Ctrl+L"), self.focus_code),
                             (QKeySequence(Qt.Key.Key_Escape), self._escape)):
            shortcut = QShortcut(keys, self)
            shortcut.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            shortcut.activated.connect(action)
        ctx.events.event.connect(self._on_event)
        self.secret_view.cleared.connect(self._secret_cleared)
        self.secret_view.focus_after_clear = self.field
        self._set_busy(False)

    def _build_entry(self) -> None:
        self.field = QLineEdit(self)
        self.field.setPlaceholderText("7-crossover-clockwork   or   https://relay.example/s/…#…")
        self.field.setAccessibleName("Wormhole code or link")
        self.field.setInputMethodHints(SENSITIVE_HINTS)
        self.field.setClearButtonEnabled(True)
        self.field.returnPressed.connect(self._return_pressed)
        label = QLabel("Code or &link:", self)
        label.setBuddy(self.field)
        self.receive_button = QPushButton("&Receive", self)
        self.receive_button.setAccessibleName("Receive")
        self.receive_button.setDefault(True)
        self.receive_button.clicked.connect(self.receive)
        self.cancel_button = QPushButton("Cancel", self)
        self.cancel_button.setAccessibleName("Cancel the receive")
        self.cancel_button.clicked.connect(self.cancel)
        self.completion = CodeCompleter(self.field, self.ctx.services.wormhole, self.ctx.tasks, self,
                                        words=lambda: self.ctx.services.config.code_length)
        self.completion.unavailable.connect(self._completion_unavailable)
        self._entry_row = QHBoxLayout()
        self._entry_row.addWidget(label)
        self._entry_row.addWidget(self.field, 1)
        self._entry_row.addWidget(self.receive_button)
        self._entry_row.addWidget(self.cancel_button)

    def _tab_order(self) -> None:
        chain: list[QWidget] = [self.field, self.receive_button, self.cancel_button, self.verify_box,
                                self.verify_prompt.confirm_button, self.verify_prompt.reject_button,
                                self.passphrase_prompt.field, self.passphrase_prompt.unlock_button,
                                self.passphrase_prompt.cancel_button, self.folder_chooser.button,
                                self.secret_view.masked, self.secret_view.plain, self.secret_view.show_button,
                                self.secret_view.copy_button, self.secret_view.clear_button,
                                self.saved_view.open_button]
        for first, second in itertools.pairwise(chain):
            QWidget.setTabOrder(first, second)

    # -- public API ------------------------------------------------------------------

    @property
    def busy(self) -> bool:
        """Whether a receive is running (until its outcome is on the page)."""
        return self._task is not None

    @property
    def idle(self) -> bool:
        """Nothing running: no receive, and no code entry session open, opening or closing."""
        return not self.busy and self.completion.idle

    @property
    def save_folder(self) -> Path:
        """Where files and folders are saved."""
        return self.folder_chooser.folder

    def set_save_folder(self, folder: Path) -> None:
        """Save received files and folders in ``folder``."""
        self.folder_chooser.set_folder(folder)

    def focus_code(self) -> None:
        """Put the keyboard focus in the code field (this also starts code completion)."""
        self.field.setFocus(Qt.FocusReason.ShortcutFocusReason)
        self.completion.start(retry=True)

    def open_link(self, text: str) -> None:
        """Fill in ``text`` (a link, or a code) and receive it."""
        if self.busy:
            self.banner.show_message("A receive is still running: wait for it to end, or cancel it first.",
                                     Level.WARNING)
            return
        self.field.setText(text)
        self.receive()

    def receive(self) -> None:
        """Receive what the field holds: a link, or a wormhole code."""
        if self.busy:
            return
        text = self.field.text().strip()
        if not text:
            self._fail("Type the wormhole code you were given (like 7-crossover-clockwork), or paste a one-time "
                       "link.")
            return
        if is_link(text):
            self.completion.clear_field()
            try:
                link = parse_link(text)
            except InputError as exc:
                self._fail(describe_error(exc))
                return
            finally:
                del text
            self._begin("link", "Opening the link…")
            self._run(self._receive_link(link))
            return
        try:
            code, mailbox = codes.code_and_mailbox(text)
        except InputError as exc:
            self._fail(NOT_A_CODE if exc.message == codes.NOT_A_CODE else sentence(exc.message))
            return
        finally:
            del text
        folder = self.save_folder
        if not folder.is_dir():
            self._fail(f"The folder {folder} does not exist: choose another one with Save to….")
            return
        self.completion.clear_field()
        self._typed_code = code  # given back after a failure that the same code may overcome
        # Completion runs on the configured mailbox; a scanned code that names another one meets there.
        own = mailbox is not None and mailbox != self.ctx.services.config.mailbox_url
        unheld = None if own else self.completion.nobody_holds(code)
        taken = None if own else self.completion.take(code)
        self._begin("wormhole", "Connecting to the mailbox…")
        if unheld or own:
            self.banner.show_message(unheld or f"This code names its own mailbox, {mailbox}: meeting the sender "
                                     "there.", "warning" if unheld else "info")
        # A session already on the mailbox can be cancelled at any point; a fresh one once it is connected.
        self._set_cancel_safe(taken is not None)
        self._entry = taken[1] if taken is not None else None
        self._run(self._receive_code(code, taken, folder, mailbox if own else None))

    def cancel(self) -> None:
        """Stop the running receive; nothing more is received."""
        if self._task is not None and not self._task.done() and self._cancel_safe:
            self._task.cancel()

    def shutdown(self) -> None:
        """Wipe what the page holds and close the code entry session (at quit)."""
        self.cancel()
        self.completion.shutdown()
        self.secret_view.clear()
        self.requests.shutdown()
        self.completion.clear_field()

    # -- running a receive ---------------------------------------------------------------

    def _run(self, coro: Coroutine[Any, Any, None]) -> None:
        task = self.ctx.tasks.start(coro, on_error=self._fail)
        self._task = task
        task.add_done_callback(self._finished)

    async def _receive_code(self, code: str, taken: tuple[WormholeChannel, CodeEntry] | None, folder: Path,
                            mailbox: str | None) -> None:
        confirm = self.verify_prompt.confirm if self.verify_box.isChecked() else None
        hooks = ReceiveHooks(out_dir=folder, confirm=confirm, progress=self._on_progress, accept=self._accept)
        if taken is not None:
            channel, entry = taken
            result = await channel.receive(entry, hooks)
        else:
            result = await self.ctx.services.wormhole(mailbox_url=mailbox).receive(code, hooks)
        self._show(result.text, result.path, result.size)

    async def _receive_link(self, link: ParsedLink) -> None:
        async def ask() -> SecretBuffer | None:
            self.state.setText("Waiting for the passphrase…")
            return await self.passphrase_prompt.ask()

        def wrong(failure: LinkFailure) -> None:
            # Asked again, saying how many tries are left; the link was not consumed.
            self.banner.error(sentence(failure.message))

        try:
            from ots_desktop.channels.link_receive import ReceiveOptions  # aiohttp: loaded on first use

            options = ReceiveOptions(out_dir=self.save_folder, ask_passphrase=ask, on_wrong_passphrase=wrong)
            try:
                result = await self.ctx.services.link().receive(link, options)
            except InputError:
                if not self.passphrase_prompt.cancelled:
                    raise
                self.state.setText("Cancelled: the link was not opened, and it still works.")
                self.progress.hide()
                return
        finally:
            link.close()
        self._show(result.text, result.path, result.size)
        if result.views_left > 0:
            views = f"{result.views_left} more time{'s' if result.views_left != 1 else ''}"
            self.state.setText(f"{self.state.text()} The link can be opened {views}.")

    async def _accept(self, kind: str, name: str, size: int) -> bool:
        self.state.setText(f"Offered: {name} ({format_size(size)}).")
        taken = await self.offer_prompt.accept(kind, name, size)
        self._rate = TransferRate(size)
        return taken

    def _on_progress(self, done: int, total: int) -> None:
        self.progress.setRange(0, 100)
        self.progress.setValue(percent(done, total))
        self.progress.show()
        if self._rate is not None:
            self.state.setText(f"Receiving: {self._rate.describe(done)}", quiet=True)  # the bar has the figure

    def _show(self, text: SecretBuffer | None, path: Path | None, size: int) -> None:
        self._got_something = True
        self.banner.hide()
        if text is not None:
            self.secret_view.set_secret(text)
            self.state.setText("Received a text secret. It stays hidden until you press Show.")
            self.progress.hide()
        elif path is not None:
            self.saved_view.set_saved(path, size)
            self.progress.setRange(0, 100)
            self.progress.setValue(100)
            self.progress.show()
            self.state.setText(f"Received and saved in {path.parent}.")

    # -- page state --------------------------------------------------------------------------

    def _begin(self, channel: str, state: str) -> None:
        self._channel = channel
        self._got_something = False
        self._cancel_safe = True
        self.banner.hide()
        self.secret_view.clear()
        self.secret_view.hide()
        self.saved_view.clear()
        self.progress.setRange(0, 0)  # busy until the first progress report
        self.progress.show()
        self.state.setText(state)
        self._set_busy(True)

    def _finished(self, task: asyncio.Task[None]) -> None:
        if task is not self._task:
            return
        self._task = None
        self._rate = None
        entry, self._entry = self._entry, None
        if entry is not None and task.cancelled():
            # Cancelled before the channel took charge of the session: close it here (closing twice is harmless).
            self.ctx.tasks.start(entry.session.close())
        if task.cancelled():
            self.state.setText("Cancelled: nothing was received.")
            self.progress.hide()
        self._set_busy(False)
        if not task.cancelled() and can_retry(task.exception()) and self._channel == "wormhole":
            self.field.setText(self._typed_code)
            self.state.setText(f"{self.state.text()} The code is back in the box: press Receive to try again.")
        if not task.cancelled() and task.exception() is None and self._got_something:
            self.received.emit(self._channel)

    def _secret_cleared(self) -> None:
        if not self.busy:  # the state line spoke of a secret here: not any more
            self.state.setText("The secret was cleared from this window.")
            self.secret_view.hide()

    def _fail(self, text: str) -> None:
        message = sentence(text)
        self.banner.error(message)
        self.state.setText(f"Failed: {message}", assertive=True)
        self.progress.hide()

    def _set_busy(self, busy: bool) -> None:
        self.field.setReadOnly(busy)  # read-only, not disabled: the keyboard focus stays in the field
        self.receive_button.setEnabled(not busy)
        self.verify_box.setEnabled(not busy)
        self.folder_chooser.button.setEnabled(not busy)
        self._set_cancel_safe(busy and self._cancel_safe)

    def _set_cancel_safe(self, safe: bool) -> None:
        self._cancel_safe = safe
        self.cancel_button.setEnabled(safe)

    def _on_event(self, event: object) -> None:
        if not isinstance(event, ChannelEvent) or event.direction != "receive" or not self.busy:
            return
        if event.channel != self._channel:
            return
        if event.kind in (EventKind.WAITING, EventKind.CONNECTED):
            self._set_cancel_safe(True)
        if event.kind is EventKind.FAILED:
            return  # the banner and the state line come from the error itself
        text = describe(event)
        if text is not None:
            self.state.setText(text)

    def _completion_unavailable(self, reason: str) -> None:
        if self.busy or (self.banner.isVisible() and self.banner.level == str(Level.ERROR)):
            return  # the running (or just failed) receive reports the same trouble in its own words
        why = reason.strip().rstrip(".")
        self.banner.show_message(f"Code completion is off: {why}. You can still type the whole code and press Enter; "
                                 "links do not need the mailbox.", Level.WARNING)

    def _return_pressed(self) -> None:
        # Enter on the completion list takes the suggestion (the completer handles it); Enter in the field
        # receives only a whole code: half a code would use up the sender's code with a wrong-code alert.
        problem = self.completion.incomplete(self.field.text())
        if problem is not None:
            self.banner.show_message(problem, "warning")
            self.completion.sync(self.field.text())
            return
        self.receive()

    def _escape(self) -> None:
        if self.busy:
            self.cancel()
        else:
            self.banner.hide()
