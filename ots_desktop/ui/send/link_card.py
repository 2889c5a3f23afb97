"""The card of one one-time link: the link (Copy, QR), its terms, and a live receipt with Revoke.

The receipt comes from polling the relay's status with the share's status token
(:meth:`LinkChannel.watch`): each reveal with its time and address, wrong passphrases,
attempts from networks that are not allowed, and how the link ended. The link holds
the key: it is shown to the sender here and never logged.
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QLabel, QLineEdit, QWidget

from ots_desktop.channels.link_types import SentLink
from ots_desktop.core.errors import OtsError
from ots_desktop.core.messages import sentence
from ots_desktop.core.times import local_clock, parse_rfc3339
from ots_desktop.ui.announce import LiveLabel, announce, expose_value
from ots_desktop.ui.context import Level, UiContext
from ots_desktop.ui.send.link_like_card import LinkLikeCard
from ots_desktop.ui.send.qr import QrView
from ots_desktop.ui.tasks import describe_error

if TYPE_CHECKING:
    from ots_desktop.channels.link_status import WatchUpdate

WATCH_INTERVAL_S = 2.0
SLOW_WATCH_INTERVAL_S = 10.0
SLOW_WATCH_AFTER_S = 3600.0
WATCH_MARGIN_S = 300.0
# After a relay outage the receipt resumes by itself: tried again after 2 s, then less often, up to a minute.
RETRY_FIRST_MS = 2000
RETRY_MAX_MS = 60_000
RESTORED_NOTE = ("Made before ots-desktop last started. The link itself is not kept (it holds the key); "
                 "its receipt and Revoke are.")
_ENDINGS = {
    "revealed": ("Opened: the link is used up and no longer works.", Level.SUCCESS),
    "expired": ("Expired: the link no longer works.", Level.WARNING),
    "revoked": ("Revoked: the link no longer works.", Level.WARNING),
    "burned": ("Destroyed after too many wrong passphrases: the link no longer works.", Level.ERROR),
}


def _moment(stamp: str) -> datetime | None:
    try:
        return parse_rfc3339(stamp).astimezone()
    except ValueError:
        return None


def _address(text: str) -> str:
    text = text.strip()[:100]
    return text if text and text.isprintable() else "an unknown address"


def _times(n: int) -> str:
    return "once" if n == 1 else "twice" if n == 2 else f"{n} times"


def terms(sent: SentLink) -> str:
    """``Opens once · expires 16:05 (3 Mar) · passphrase needed``."""
    moment = _moment(sent.expires_at)
    when = f"{moment:%H:%M} ({moment.day} {moment:%b})" if moment is not None else sent.expires_at
    parts = [f"Opens {_times(sent.max_views)}", f"expires {when}"]
    if sent.needs_passphrase:
        parts.append("passphrase needed")
    return " · ".join(parts)


class LinkShareCard(LinkLikeCard):
    """Shows one link and follows it on the relay until it ends. Call :meth:`start_watch`."""

    channel = "link"

    def __init__(self, ctx: UiContext, sent: SentLink, title: str, parent: QWidget | None = None) -> None:
        super().__init__(title, parent)
        self.ctx = ctx
        self.sent = sent
        self._receipts: list[str] = []
        self._reveals = 0
        self._watch: asyncio.Task[Any] | None = None
        self._retry_ms = RETRY_FIRST_MS
        self._retry = QTimer(self)
        self._retry.setSingleShot(True)
        self._retry.timeout.connect(self.start_watch)

        self.link_field = QLineEdit(sent.link, self)
        self.link_field.setReadOnly(True)
        self.link_field.setCursorPosition(0)
        self.link_field.setAccessibleName("One-time link")
        self.copy_button = self._button("Copy link", "Copy the link (the clipboard clears itself)", self.copy_link)
        self.terms_label = QLabel(terms(sent), self)
        expose_value(self.terms_label, "Link terms")
        self.receipt_label = LiveLabel("Receipt", self)
        self.receipt_label.setWordWrap(True)
        self.receipt_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.receipt_label.hide()
        self.revoke_button = self._button("Revoke", "Make the link stop working now", self.revoke)
        self.follow_button = self._button("Check again", "Ask the relay about this link again", self.start_watch)
        self.follow_button.hide()
        self.qr = QrView(sent.link, self)

        self.lay_out_link(self.link_field, self.copy_button, self.terms_label, self.receipt_label,
                          (self.revoke_button, self.follow_button), self.qr)
        self.restored = not sent.link
        if self.restored:
            for widget in (self.link_field, self.copy_button, self.qr):
                widget.hide()
            self.terms_label.setText(f"{terms(sent)}\n{RESTORED_NOTE}")
        self.set_state("pending", "Waiting for the link to be opened.")

    @property
    def link(self) -> str:
        """The link (it holds the key)."""
        return self.sent.link

    @property
    def share_id(self) -> str:
        """The share's id (no key)."""
        return self.sent.share_id

    def receipts(self) -> list[str]:
        """What the relay reported so far, one line each."""
        return list(self._receipts)

    # -- following the link ---------------------------------------------------------------

    def start_watch(self, *, interval_s: float | None = None) -> None:
        """Poll the relay until the link ends or its expiry has long passed (long-lived links less often)."""
        if self.is_finished or (self._watch is not None and not self._watch.done()):
            return
        self.follow_button.hide()
        self.allow_close(False)
        moment = _moment(self.sent.expires_at)
        remaining = max((moment - datetime.now().astimezone()).total_seconds() if moment is not None else 0.0, 0.0)
        if interval_s is None:
            interval_s = WATCH_INTERVAL_S if remaining <= SLOW_WATCH_AFTER_S else SLOW_WATCH_INTERVAL_S
        try:
            channel = self.ctx.services.link()
        except OtsError as exc:
            self._watch_failed(describe_error(exc))
            return
        self._watch = self.ctx.tasks.start(
            channel.watch(self.share_id, timeout_s=remaining + WATCH_MARGIN_S, on_update=self._on_update,
                          interval_s=interval_s),
            on_error=self._watch_failed)

    def _watch_failed(self, text: str) -> None:
        if self.is_finished:
            return
        seconds = self._retry_ms // 1000
        self.set_state(self.state, f"Cannot follow this link right now: {sentence(text)} Trying again in "
                       f"{seconds} s.", Level.WARNING)
        self.follow_button.show()
        self.allow_close(True)
        self._retry.start(self._retry_ms)
        self._retry_ms = min(self._retry_ms * 2, RETRY_MAX_MS)

    def _on_update(self, update: WatchUpdate) -> None:
        self._retry_ms = RETRY_FIRST_MS  # the relay answers again
        if self.state == "pending" and self.status.text().startswith("Cannot follow"):
            self.set_state("pending", "Waiting for the link to be opened.")
        if update.kind == "revealed" and update.reveal is not None:
            self._reveals += 1
            # Receipts are the card's; notifications and the tray follow the event bus (Notifier.on_event).
            at, where = local_clock(update.reveal.at), _address(update.reveal.remote_addr)
            self._add_receipt(f"Revealed at {at} from {where}")
            if update.status.views_left > 0:
                self.set_state("pending", f"Opened {_times(self._reveals)}; it still opens "
                               f"{_times(update.status.views_left)}.", Level.SUCCESS)
        elif update.kind == "failed_attempts":
            self._add_receipt(f"{update.count} wrong passphrase attempt{'s' if update.count > 1 else ''}")
        elif update.kind == "blocked_attempts":
            self._add_receipt(f"{update.count} attempt{'s' if update.count > 1 else ''} from a network that is "
                              "not allowed")
        elif update.kind == "ended":
            self._ended(update.status.state)

    def _add_receipt(self, line: str) -> None:
        self._receipts.append(line)
        self.receipt_label.setText("\n".join(self._receipts), quiet=True)
        self.receipt_label.show()
        announce(self.receipt_label, line)  # the new line, not the whole list again

    def _ended(self, state: str) -> None:
        text, level = _ENDINGS.get(state, (f"Ended ({state}).", Level.INFO))
        if state == "expired" and self._reveals:
            text, level = "Expired after being opened: the link no longer works.", Level.SUCCESS
        self.finish(state, text, level)

    # -- buttons --------------------------------------------------------------------------

    def link_text(self) -> str:
        """The link Copy link copies."""
        return self.sent.link

    async def _revoke(self) -> None:
        _record, state, revoked_now = await self.ctx.services.link().revoke(self.share_id)
        self._ended("revoked" if revoked_now else state)

