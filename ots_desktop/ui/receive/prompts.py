"""Inline questions a receive may ask while it runs: a link's passphrase, a wormhole's verification words,
whether to take an offered file.

Each panel stays hidden until a receive awaits it, and answers through an asyncio
future, so the transfer simply waits for the person at the keyboard.
"""

from __future__ import annotations

import asyncio

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from ots_desktop.core.secret import SecretBuffer
from ots_desktop.core.sizes import format_size
from ots_desktop.ui.masked_edit import MaskedLineEdit
from ots_desktop.ui.receive.secret_view import SENSITIVE_HINTS


class _Question(QFrame):
    """A hidden panel that answers one awaited question at a time."""

    def __init__(self, parent: QWidget | None) -> None:
        super().__init__(parent)
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self._answer: asyncio.Future[object] | None = None
        self.hide()

    @property
    def waiting(self) -> bool:
        """Whether a receive is waiting for an answer."""
        return self._answer is not None and not self._answer.done()

    async def _ask(self) -> object:
        self._answer = asyncio.get_running_loop().create_future()
        self.show()
        self._focus()
        try:
            return await self._answer
        finally:
            self._answer = None
            self._reset()
            self.hide()

    def _give(self, value: object) -> None:
        if self._answer is not None and not self._answer.done():
            self._answer.set_result(value)

    def _yes_or_no(self, labels: list[QLabel], yes: tuple[str, str], no: tuple[str, str],
                   ) -> tuple[QPushButton, QPushButton]:
        """Lay out ``labels`` over two buttons, (text, accessible name) each, answering True and False."""
        buttons = []
        for (text, name), value in ((yes, True), (no, False)):
            button = QPushButton(text, self)
            button.setAccessibleName(name)
            button.clicked.connect(lambda _checked=False, v=value: self._give(v))
            buttons.append(button)
        row = QHBoxLayout()
        row.addStretch(1)
        row.addWidget(buttons[0])
        row.addWidget(buttons[1])
        layout = QVBoxLayout(self)
        for label in labels:
            layout.addWidget(label)
        layout.addLayout(row)
        QWidget.setTabOrder(buttons[0], buttons[1])
        return buttons[0], buttons[1]

    def _focus(self) -> None:
        """Put the keyboard focus on the panel's first control."""

    def _reset(self) -> None:
        """Forget what the panel showed or was given."""


class PassphrasePrompt(_Question):
    """Asks for a link's passphrase in a password field (never echoed, never predicted)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setAccessibleName("Passphrase for the link")
        self.label = QLabel("This link is protected by a passphrase. Ask the sender for it (not by the same "
                            "channel as the link) and type it here.", self)
        self.label.setWordWrap(True)
        self.field = MaskedLineEdit(self)  # bullets only in Qt, so not on the accessibility bus
        self.field.setInputMethodHints(SENSITIVE_HINTS)
        self.field.setAccessibleName("Passphrase")
        self.field.setPlaceholderText("Passphrase")
        self.field.setContextMenuPolicy(Qt.ContextMenuPolicy.NoContextMenu)
        self.label.setBuddy(self.field)
        self.unlock_button = QPushButton("&Unlock", self)
        self.unlock_button.setAccessibleName("Open the link with this passphrase")
        self.cancel_button = QPushButton("Cancel", self)
        self.cancel_button.setAccessibleName("Do not open the link")
        self.field.returnPressed.connect(self.submit)
        self.unlock_button.clicked.connect(self.submit)
        self.cancel_button.clicked.connect(self.cancel)
        row = QHBoxLayout()
        row.addWidget(self.field, 1)
        row.addWidget(self.unlock_button)
        row.addWidget(self.cancel_button)
        layout = QVBoxLayout(self)
        layout.addWidget(self.label)
        layout.addLayout(row)
        QWidget.setTabOrder(self.field, self.unlock_button)
        QWidget.setTabOrder(self.unlock_button, self.cancel_button)
        self.cancelled = False

    async def ask(self) -> SecretBuffer | None:
        """The passphrase typed (a buffer the caller wipes), or None when cancelled."""
        self.cancelled = False
        answer = await self._ask()
        return answer if isinstance(answer, SecretBuffer) else None

    def submit(self) -> None:
        """Hand over what was typed; an empty field asks again."""
        if not self.waiting:
            return
        text = self.field.text()
        self.field.clear()
        if not text:
            self.field.setFocus()
            return
        secret = SecretBuffer(bytearray(text.encode("utf-8")), wipe_source=True)
        del text
        self._give(secret)

    def cancel(self) -> None:
        """Give up on this link for now (it stays unopened)."""
        self.cancelled = True
        self._give(None)

    def _focus(self) -> None:
        self.field.setFocus()

    def _reset(self) -> None:
        self.field.clear()


class VerifyPrompt(_Question):
    """Shows the verification words; the person confirms they match the sender's, or rejects."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setAccessibleName("Verification words")
        intro = QLabel("Compare these words with the sender (on the phone, or in person). Confirm only if they "
                       "match exactly: different words mean someone is in between.", self)
        intro.setWordWrap(True)
        self.words = QLabel(self)
        self.words.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.words.setStyleSheet("font-weight: bold;")
        self.words.setWordWrap(True)
        self.confirm_button, self.reject_button = self._yes_or_no(
            [intro, self.words], ("Words &match", "Confirm: the words match, receive"),
            ("Words &differ", "Reject: the words differ, stop"))

    async def confirm(self, words: str) -> bool:
        """True once the person confirms ``words`` match; False if they reject them."""
        self.words.setText(words)
        self.words.setAccessibleName(f"Verification words: {words}")
        return bool(await self._ask())

    def _focus(self) -> None:
        self.reject_button.setFocus()

    def _reset(self) -> None:
        self.words.clear()


class OfferPrompt(_Question):
    """Before a file or folder is taken: its name and size, and Receive or Decline (nothing is written before)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setAccessibleName("Incoming file")
        self.label = QLabel(self)
        self.label.setWordWrap(True)
        self.label.setTextFormat(Qt.TextFormat.PlainText)
        self.accept_button, self.decline_button = self._yes_or_no(
            [self.label], ("&Receive it", "Receive this file"), ("&Decline", "Decline this file; the sender is told"))

    async def accept(self, kind: str, name: str, size: int) -> bool:
        """True once the person chose to receive the ``kind`` (file or folder) ``name`` of ``size`` bytes."""
        self.label.setText(f"The sender offers the {kind} \u201c{name}\u201d ({format_size(size)}). Receive it?")
        return bool(await self._ask())

    def _focus(self) -> None:
        self.accept_button.setFocus()

    def _reset(self) -> None:
        self.label.clear()
