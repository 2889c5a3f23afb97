"""The live card of one secret request: its link (Copy, QR), its state, Revoke, and the answer once it comes.

The card follows the request on the relay through :mod:`ots_desktop.channels.request_flow`
(which audits each answer, alert and ending once, and erases the private key when the
request ends). When the answer is in, it is fetched at once (the relay deletes it in the
same step), a notification says so, and a text lands masked in a :class:`SecretView`
(Copy with the clipboard's hints and auto-clear); a file is saved in the Receive page's
folder. The link holds the key: it is shown here and never logged or kept.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import QLabel, QLineEdit, QWidget

from ots_desktop.channels.link_errors import LinkFailure
from ots_desktop.core import private_files
from ots_desktop.core.errors import OtsError
from ots_desktop.core.messages import sentence
from ots_desktop.core.times import local_clock
from ots_desktop.ui.context import Level, UiContext
from ots_desktop.ui.receive.saved_view import SavedView, default_folder
from ots_desktop.ui.receive.secret_view import SecretView
from ots_desktop.ui.send.link_card import RETRY_FIRST_MS, RETRY_MAX_MS, WATCH_INTERVAL_S
from ots_desktop.ui.send.link_like_card import LinkLikeCard
from ots_desktop.ui.send.qr import QrView

if TYPE_CHECKING:
    from ots_desktop.channels.request_client import OpenedAnswer, RequestClient, RequestStatus
    from ots_desktop.core.audit.log import AuditLog
    from ots_desktop.core.envelope import Opened
    from ots_desktop.core.request_records import RequestRecords

FILE_NAME = "answer.bin"
PENDING_TEXT = "Pending: waiting for the answer. Send the link to the person who has the secret."
RESTORED_NOTE = "Made earlier (here or with `ots request`). The link itself is not kept (it holds the key)."
_ENDINGS = {
    "opened": ("Opened: the answer was collected and is gone from the relay.", Level.SUCCESS),
    "expired": ("Expired: nobody answered; the relay holds nothing for it any more.", Level.WARNING),
    "revoked": ("Revoked: the link no longer takes an answer.", Level.WARNING),
}
_ALERTS = {"second_answer": "someone tried to answer it again; the relay refused it (only the first answer counts).",
           "blocked": "an answer came from a network the request does not allow; the relay refused it."}


def _where(text: str | None) -> str:
    text = (text or "").strip()[:100]
    return text if text and text.isprintable() else "an unknown address"


class RequestCard(LinkLikeCard):
    """Shows one request and follows it until it ends. Call :meth:`start_watch`."""

    channel = "request"
    answer_shown = Signal(str)  # "text" or "file"

    def __init__(self, ctx: UiContext, request_id: str, link: str, expires_at: str, title: str,
                 save_folder: Callable[[], Path], parent: QWidget | None = None) -> None:
        super().__init__(title, parent)
        self.ctx = ctx
        self.request_id = request_id
        self.link = link
        self.label = title
        self.expires_at = expires_at
        self.interval_s = WATCH_INTERVAL_S
        self._save_folder = save_folder
        self._watch: asyncio.Task[Any] | None = None
        self._retry_ms = RETRY_FIRST_MS
        self._retry = QTimer(self)
        self._retry.setSingleShot(True)
        self._retry.timeout.connect(self.start_watch)
        self._receipts: list[str] = []

        self.link_field = QLineEdit(link, self)
        self.link_field.setReadOnly(True)
        self.link_field.setCursorPosition(0)
        self.link_field.setAccessibleName("Request link")
        self.copy_button = self._button("Copy link", "Copy the request link (the clipboard clears itself)",
                                        self.copy_link)
        self.terms_label = QLabel(f"One answer · expires {local_clock(expires_at)}", self)
        self.terms_label.setAccessibleName("Request terms")
        self.receipt_label = QLabel(self)
        self.receipt_label.setWordWrap(True)
        self.receipt_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.receipt_label.setAccessibleName("Request receipt")
        self.receipt_label.hide()
        self.revoke_button = self._button("Revoke", "Withdraw the request: its link takes no answer any more",
                                          self.revoke)
        self.follow_button = self._button("Check again", "Ask the relay about this request again", self.start_watch)
        self.follow_button.hide()
        self.qr = QrView(link, self)
        self.secret_view = SecretView(ctx.clipboard, self)
        self.secret_view.setAccessibleName("Answer")
        self.secret_view.hide()
        self.saved_view = SavedView(self)

        self.lay_out_link(self.link_field, self.copy_button, self.terms_label, self.receipt_label,
                          (self.revoke_button, self.follow_button), self.qr)
        self.body.addWidget(self.secret_view)
        self.body.addWidget(self.saved_view)
        if not link:
            for widget in (self.link_field, self.copy_button, self.qr):
                widget.hide()
            self.terms_label.setText(f"{self.terms_label.text()}\n{RESTORED_NOTE}")
        self.set_state("pending", PENDING_TEXT)

    def receipts(self) -> list[str]:
        """What the relay reported so far, one line each."""
        return list(self._receipts)

    # -- following the request --------------------------------------------------------------

    def start_watch(self) -> None:
        """Poll the relay until the answer is in (then open it) or the request ends."""
        if self.is_finished or (self._watch is not None and not self._watch.done()):
            return
        self.follow_button.hide()
        self.allow_close(False)
        self._watch = self.ctx.tasks.start(self._follow(), on_error=self._watch_failed)

    async def _log_records_client(self) -> tuple[AuditLog, RequestRecords, RequestClient]:
        """The audit log, this installation's request records, and a client for this request's relay."""
        services = self.ctx.services
        log = await services.audit()
        records = services.requests()
        record = records.get(self.request_id)
        if record is None:
            raise OtsError(f"no request {self.request_id} was made with this installation")
        return log, records, services.request_client(record.relay_url)

    async def _follow(self) -> None:
        from ots_desktop.channels.request_flow import open_request, request_status

        log, records, client = await self._log_records_client()
        async with client:
            while True:
                try:
                    _, status = await request_status(client, log, log.keystore, records, self.request_id,
                                                     self._notice)
                except LinkFailure as exc:
                    if exc.state in _ENDINGS:  # the relay reports the request gone
                        self._ended(exc.state)
                        return
                    raise
                self._recovered()
                if status.state == "answered":
                    self.set_state("answered", "Answered: collecting the answer…", Level.SUCCESS)
                    result = await open_request(client, log, log.keystore, records, self.request_id)
                    if result is not None:
                        self._deliver(*result)
                        return
                elif status.state != "pending":
                    self._ended(status.state)
                    return
                await asyncio.sleep(self.interval_s)

    def _recovered(self) -> None:
        self._retry_ms = RETRY_FIRST_MS
        if self.state == "pending" and self.status.text().startswith("Cannot follow"):
            self.set_state("pending", PENDING_TEXT)

    def _watch_failed(self, text: str) -> None:
        if self.is_finished:
            return
        seconds = self._retry_ms // 1000
        self.set_state(self.state, f"Cannot follow this request right now: {sentence(text)} Trying again in "
                       f"{seconds} s.", Level.WARNING)
        self.follow_button.show()
        self.allow_close(True)
        self._retry.start(self._retry_ms)
        self._retry_ms = min(self._retry_ms * 2, RETRY_MAX_MS)

    def _notice(self, what: str, status: RequestStatus) -> None:
        """request_flow's report of an answer or an alert (each once; it has audited them already)."""
        if what == "answered":
            line = f"Answered at {local_clock(status.answered_at or '')} from {_where(status.answered_from)}"
            self._add_receipt(line)
            self.ctx.notifier.notify("Request answered", f"{self.label}: {line[0].lower()}{line[1:]}.",
                                     Level.SUCCESS)
        elif what in _ALERTS:
            self._add_receipt(f"Alert: {_ALERTS[what]}")
            self.ctx.notifier.notify("ots-desktop alert", f"{self.label}: {_ALERTS[what]}", Level.ERROR)

    def _add_receipt(self, line: str) -> None:
        self._receipts.append(line)
        self.receipt_label.setText("\n".join(self._receipts))
        self.receipt_label.show()

    def _deliver(self, opened: Opened, fetched: OpenedAnswer) -> None:
        from ots_desktop.channels.safe_files import check_name, create_unique
        from ots_desktop.core.secret import SecretBuffer

        with opened:
            kind = str(opened.meta.get("type", "text"))
            if kind == "file":
                # The answer is already gone from the relay: whatever its name or the folder, it is saved.
                try:
                    name = check_name(opened.meta.get("name", FILE_NAME))
                except OtsError:
                    name = FILE_NAME
                folder = self._save_folder()
                saved = create_unique(folder if folder.is_dir() else default_folder(), name)
                with private_files.private_stream(saved, create=False) as handle:
                    handle.write(opened.plaintext.view())
                self.saved_view.set_saved(saved, len(opened.plaintext))
                text = f"Opened: the answer was saved in {saved.parent}; it is gone from the relay."
            else:
                view = opened.plaintext.view()
                self.secret_view.set_secret(SecretBuffer(view))
                view.release()
                text = "Opened: the answer is below, hidden until you press Show; it is gone from the relay."
        self.finish("opened", text, Level.SUCCESS)
        self.answer_shown.emit(kind)

    def _ended(self, state: str) -> None:
        text, level = _ENDINGS.get(state, (f"Ended ({state}).", Level.INFO))
        self.finish(state, text, level)

    # -- buttons ------------------------------------------------------------------------------

    def link_text(self) -> str:
        """The link Copy link copies."""
        return self.link

    async def _revoke(self) -> None:
        from ots_desktop.channels.request_flow import revoke_request

        log, records, client = await self._log_records_client()
        async with client:
            state, revoked_now = await revoke_request(client, log, log.keystore, records, self.request_id)
        if self._watch is not None:
            self._watch.cancel()
        self._ended("revoked" if revoked_now else state)

    def ended(self) -> None:
        """The request is over: nothing left to copy, scan or revoke (an answer stays, with its Clear)."""
        super().ended()
        self.link_field.clear()  # the link holds the key, and it opens nothing any more
