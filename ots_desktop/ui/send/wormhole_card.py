"""The card of one share by wormhole code: the code (large, QR, Copy, Speak), then its live state.

The code is shown here and nowhere else: not in a log, not in a notification. The
card follows the share through the channel's hooks (code, verifier, progress) and
the event stream (connected), and ends with the result of the send itself.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QVBoxLayout, QWidget

from ots_desktop.channels.failures import ChannelFailure
from ots_desktop.channels.wormhole import SendHooks
from ots_desktop.core.audit.events import Channel
from ots_desktop.core.events import ChannelEvent, EventKind
from ots_desktop.core.failures import RETRY_REASONS
from ots_desktop.core.messages import sentence
from ots_desktop.core.secret import SecretBuffer
from ots_desktop.core.sizes import format_size
from ots_desktop.ui.announce import expose_value
from ots_desktop.ui.context import Level, UiContext
from ots_desktop.ui.send.card import COPIED_MS, ShareCard, big_font
from ots_desktop.ui.send.code_words import code_groups, display_code, qr_uri
from ots_desktop.ui.send.qr import QrView

if TYPE_CHECKING:
    # QtTextToSpeech loads Qt Multimedia: only when a code is first spoken.
    from ots_desktop.ui.send.speech import Speaker

SendCall = Callable[[SendHooks], Awaitable[str]]


class WormholeShareCard(ShareCard):
    """Shows and follows one wormhole share. Call :meth:`start` with the send to run."""

    channel = "wormhole"
    code_ready = Signal(str)  # the code, once the mailbox gave one
    retry_requested = Signal()  # Retry pressed: the page starts the same share again, on a new card

    def __init__(self, ctx: UiContext, title: str, *, verify: bool = False, speaker: Speaker | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(title, parent)
        self.ctx = ctx
        self.verify = verify
        self._code = ""
        self._share_id: str | None = None
        self._task: asyncio.Task[Any] | None = None
        self._verdict: asyncio.Future[bool] | None = None
        self._speaker = speaker
        self._kept: SecretBuffer | None = None  # the secret, held for Retry until the share ends for good
        self._retryable = False

        self.code_label = QLabel("Getting a code…", self)
        self.code_label.setFont(big_font(self.font(), monospace=True))
        self.code_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.code_label.setWordWrap(True)
        expose_value(self.code_label, "Wormhole code")
        self.qr = QrView(parent=self)
        self.copy_button = self._button("Copy code", "Copy the code (the clipboard clears itself)", self.copy_code)
        self.speak_button = self._button("Speak", "Read the code aloud, word by word", self.speak_code)
        self.cancel_button = self._button("Cancel", "Stop this share; nothing more is sent", self.cancel)
        self.retry_button = self._button("Retry", "Share the same secret again, with a new code", self.retry)
        self.retry_button.hide()
        self.copy_button.setEnabled(False)
        self.speak_button.setEnabled(False)
        self.speak_button.setVisible(speaker is not None and speaker.available)

        self.verifier_label = QLabel(self)
        self.verifier_label.setFont(big_font(self.font(), scale=1.25, monospace=True))
        self.verifier_label.setWordWrap(True)
        expose_value(self.verifier_label, "Verification words")
        self.confirm_button = self._button("Words match", "Both sides see the same words: send", self.confirm)
        self.reject_button = self._button("Words differ", "The words differ: stop, nothing is sent",
                                          self.reject)
        self.verify_box = QWidget(self)
        verify_layout = QVBoxLayout(self.verify_box)
        verify_layout.setContentsMargins(0, 0, 0, 0)
        verify_layout.addWidget(self.verifier_label)
        verify_buttons = QHBoxLayout()
        verify_buttons.addWidget(self.confirm_button)
        verify_buttons.addWidget(self.reject_button)
        verify_buttons.addStretch(1)
        verify_layout.addLayout(verify_buttons)
        self.verify_box.hide()

        self.progress = QProgressBar(self)
        self.progress.setRange(0, 1000)
        self.progress.setAccessibleName("Transfer progress")
        self.progress.hide()

        left = QVBoxLayout()
        left.addWidget(self.code_label)
        buttons = QHBoxLayout()
        for button in (self.copy_button, self.speak_button, self.cancel_button, self.retry_button):
            buttons.addWidget(button)
        buttons.addStretch(1)
        left.addLayout(buttons)
        left.addWidget(self.verify_box)
        left.addWidget(self.progress)
        left.addStretch(1)
        row = QHBoxLayout()
        row.addLayout(left, 1)
        row.addWidget(self.qr, 0, Qt.AlignmentFlag.AlignTop)
        self.body.addLayout(row)
        self.set_state("starting", "Connecting to the mailbox…")
        ctx.events.event.connect(self._on_event)
        self.close_requested.connect(self._drop_kept)

    # -- what the page and the tests read ------------------------------------------------

    @property
    def code(self) -> str:
        """The wormhole code, once the mailbox gave one (empty before)."""
        return self._code

    @property
    def share_id(self) -> str | None:
        """The share's id in the audit log, once known."""
        return self._share_id

    @property
    def verifying(self) -> bool:
        """Whether the card waits for the user to compare the words."""
        return self._verdict is not None and not self._verdict.done()

    # -- running -----------------------------------------------------------------------

    def hooks(self, *, with_progress: bool = False) -> SendHooks:
        """The hooks this card takes part in the share through."""
        return SendHooks(on_code=self._got_code, confirm=self._confirm if self.verify else None,
                         progress=self._progress if with_progress else None, on_share=self._on_share,
                         on_mailbox=self._mailbox)

    def start(self, send: SendCall, *, with_progress: bool = False, retry: bool = False,
              kept: SecretBuffer | None = None) -> None:
        """Run ``send`` (a channel's send with these hooks) and follow it to the end.

        With ``retry``, a failure of the network or of patience offers Retry; ``kept`` is the secret
        that Retry shares again (this card wipes it when the share ends any other way, or is closed).
        """
        self._retryable = retry
        self._kept = kept
        self._task = self.ctx.tasks.start(self._run(send, with_progress), on_error=self._failed)

    async def _run(self, send: SendCall, with_progress: bool) -> None:
        try:
            await send(self.hooks(with_progress=with_progress))
        except asyncio.CancelledError:
            self._retryable = False
            self.finish("cancelled", "Cancelled: nothing more will be sent.", Level.WARNING)
            raise
        except ChannelFailure as exc:
            self._retryable = self._retryable and exc.reason in RETRY_REASONS
            raise
        except Exception:
            self._retryable = False
            raise
        self._retryable = False
        self.finish("delivered", "Delivered.", Level.SUCCESS)

    def _failed(self, text: str) -> None:
        tail = " Retry shares it again with a new code." if self._retryable else ""
        self.finish("failed", sentence(text) + tail, Level.ERROR)
        if self._retryable:
            self.retry_button.show()
            self.retry_button.setEnabled(True)
        else:
            self._drop_kept()

    def retry(self) -> None:
        """Start the same share again on a new card (which takes over the kept secret)."""
        if not self._retryable:
            return
        self._retryable = False
        self._kept = None  # the new card holds it now
        self.retry_button.setEnabled(False)
        self.retry_button.hide()
        self.retry_requested.emit()

    def _drop_kept(self) -> None:
        if self._kept is not None:
            self._kept.close()
            self._kept = None

    def _on_share(self, share_id: str) -> None:
        self._share_id = share_id

    def _got_code(self, code: str) -> None:
        self._code = code
        self.code_label.setText(display_code(code))
        self.qr.set_text(qr_uri(code, self.ctx.services.config.mailbox_url))
        self.copy_button.setEnabled(True)
        self.speak_button.setEnabled(True)
        self.set_state("waiting", "Waiting for the other side to type the code.")
        self.code_ready.emit(code)

    def _mailbox(self, up: bool) -> None:
        if self.state not in ("waiting", "mailbox-down"):
            return
        if up:
            self.set_state("waiting", "Waiting for the other side to type the code.")
        else:
            self.set_state("mailbox-down", "The mailbox cannot be reached right now. The code stays valid; "
                           "ots-desktop keeps reconnecting.", Level.WARNING)

    def _on_event(self, event: object) -> None:
        if not isinstance(event, ChannelEvent) or event.channel != Channel.WORMHOLE or event.direction != "send":
            return
        if self._share_id is None or event.share_id != self._share_id:
            return
        if event.kind is EventKind.CONNECTED and not self.verify:
            self.set_state("connected", "The other side is connected: sending…")

    async def _confirm(self, verifier: str) -> bool:
        words, _, rest = verifier.partition(" (")
        self._verdict = asyncio.get_running_loop().create_future()
        self.verifier_label.setText(words)
        self.verifier_label.setToolTip(rest.rstrip(")"))
        self.verify_box.show()
        self.confirm_button.setFocus()
        self.set_state("verifying", "Compare these words with the other side. Send only if they see the same.",
                       Level.WARNING)
        try:
            return await self._verdict
        finally:
            self._verdict = None
            self.verify_box.hide()

    def confirm(self) -> None:
        """The words match: go on."""
        if self._verdict is not None and not self._verdict.done():
            self._verdict.set_result(True)
            self.set_state("connected", "Words confirmed: sending…")

    def reject(self) -> None:
        """The words differ: stop, nothing is sent."""
        if self._verdict is not None and not self._verdict.done():
            self._verdict.set_result(False)

    def _progress(self, done: int, total: int) -> None:
        self.progress.show()
        self.progress.setValue(done * 1000 // total if total else 1000)
        self.set_state("sending", f"Sending: {format_size(done)} of {format_size(total)}.")

    # -- buttons ------------------------------------------------------------------------

    def copy_code(self) -> None:
        """Copy the code (with the clipboard's secret hints and auto-clear)."""
        if not self._code:
            return
        self.ctx.clipboard.copy(self._code)
        self.copy_button.setText("Copied")
        QTimer.singleShot(COPIED_MS, self, lambda: self.copy_button.setText("Copy code"))

    def speak_code(self) -> None:
        """Read the code aloud, one group at a time."""
        if self._code and self._speaker is not None:
            self._speaker.speak(code_groups(self._code))

    def cancel(self) -> None:
        """Stop the share (the channel records it as cancelled)."""
        if self._task is not None and not self._task.done():
            self._task.cancel()

    def ended(self) -> None:
        """The code is dead now: no more copying, speaking or scanning it."""
        self.ctx.events.event.disconnect(self._on_event)
        if not self._retryable:
            self._drop_kept()
        for button in (self.copy_button, self.speak_button, self.cancel_button):
            button.setEnabled(False)
        self.cancel_button.hide()
        self.qr.hide()
        self.verify_box.hide()
        self.code_label.setEnabled(False)
        if not self._code:
            self.code_label.setText("No code was handed out.")
