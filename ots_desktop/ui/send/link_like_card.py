"""What the two cards of a link on a relay share: the sent link's card and the request card.

Each has the link with Copy link, Revoke, "Check again" and the QR code, and ends the same way:
nothing left to copy, scan, follow or revoke.
"""

from __future__ import annotations

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QLineEdit, QPushButton, QWidget

from ots_desktop.core.messages import sentence
from ots_desktop.ui.context import Level, UiContext
from ots_desktop.ui.send.card import COPIED_MS, ShareCard


class LinkLikeCard(ShareCard):
    """A share card for a link: subclasses build the widgets below and say how to revoke."""

    ctx: UiContext
    link_field: QLineEdit
    copy_button: QPushButton
    revoke_button: QPushButton
    follow_button: QPushButton
    qr: QWidget
    _retry: QTimer

    def link_text(self) -> str:
        """The link Copy link puts on the clipboard."""
        raise NotImplementedError

    async def _revoke(self) -> None:
        """Ask the relay to end it now, then end the card."""
        raise NotImplementedError

    def copy_link(self) -> None:
        """Copy the link (with the clipboard's secret hints and auto-clear)."""
        self.ctx.clipboard.copy(self.link_text())
        self.copy_button.setText("Copied")
        QTimer.singleShot(COPIED_MS, self, lambda: self.copy_button.setText("Copy link"))

    def revoke(self) -> None:
        """End it now: the link stops working."""
        if self.is_finished:
            return
        self.revoke_button.setEnabled(False)
        self.set_state(self.state, "Revoking…")
        self.ctx.tasks.start(self._revoke(), on_error=self._revoke_failed)

    def _revoke_failed(self, text: str) -> None:
        if self.is_finished:
            return
        self.revoke_button.setEnabled(True)
        self.set_state(self.state, f"Could not revoke: {sentence(text)}", Level.ERROR)

    def ended(self) -> None:
        """Over: nothing left to copy, scan, follow or revoke."""
        self._retry.stop()
        for button in (self.copy_button, self.revoke_button, self.follow_button):
            button.setEnabled(False)
        self.follow_button.hide()
        self.qr.hide()
        self.link_field.setEnabled(False)
