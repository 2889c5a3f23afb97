"""A masked one-line field for a secret (or a passphrase), with a Show toggle.

The text stays masked unless Show is on, input methods are told not to learn or
predict it, and :meth:`SecretField.take` moves it into a :class:`SecretBuffer` and
empties the field (undo history included). Line breaks pasted or dropped in are
kept, so a whole ``.env`` file fits.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QHBoxLayout, QLineEdit, QToolButton, QWidget

from ots_desktop.core.errors import InputError
from ots_desktop.core.policy import TEXT_MAX_BYTES
from ots_desktop.core.secret import SecretBuffer, wipe
from ots_desktop.core.sizes import format_size
from ots_desktop.ui.masked_edit import MaskedLineEdit

SENSITIVE_HINTS = Qt.InputMethodHint.ImhSensitiveData | Qt.InputMethodHint.ImhNoPredictiveText


class SecretField(QWidget):
    """A password-style line edit plus a Show button."""

    changed = Signal()

    def __init__(self, what: str, placeholder: str, parent: QWidget | None = None, *,
                 max_bytes: int = TEXT_MAX_BYTES, too_large: str = "") -> None:
        super().__init__(parent)
        self.what = what
        self.max_bytes = max_bytes
        self.too_large = too_large
        self.edit = MaskedLineEdit(self)  # Qt (and so the accessibility bus) sees bullets only
        self.edit.setInputMethodHints(SENSITIVE_HINTS)
        self.edit.setPlaceholderText(placeholder)
        self.edit.setAccessibleName(what[:1].upper() + what[1:])
        # One character more than fits: anything cut off is still reported as too large.
        self.edit.setMaxLength(max_bytes + 1)
        self.edit.textChanged.connect(lambda _text: self.changed.emit())
        self.show_toggle = QToolButton(self)
        self.show_toggle.setText("Show")
        self.show_toggle.setCheckable(True)
        self.show_toggle.setToolTip(f"Show or hide the {what}")
        self.show_toggle.setAccessibleName(f"Show the {what}")
        self.show_toggle.toggled.connect(self._toggle)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.edit, 1)
        layout.addWidget(self.show_toggle)
        # No focus proxy: Qt counts a proxied container as a Tab stop of its own, at the container's place in
        # the chain, and Tab from the control before it jumped back into the field.
        self.setFocusPolicy(Qt.FocusPolicy.NoFocus)

    def _toggle(self, shown: bool) -> None:
        # One toggle, "Show", pressed or not: its name never changes, its state says which (as a screen
        # reader expects of a toggle button; a name that flipped too read as "Hide the secret, pressed").
        self.edit.setEchoMode(QLineEdit.EchoMode.Normal if shown else QLineEdit.EchoMode.Password)

    def is_empty(self) -> bool:
        """Whether nothing was typed."""
        return not self.edit.text()

    def set_text(self, text: str) -> None:
        """Put ``text`` in the field, masked (a drop)."""
        self.show_toggle.setChecked(False)
        self.edit.setText(text)
        self.edit.setCursorPosition(len(text))

    def take(self) -> SecretBuffer:
        """Move the text into a wipeable buffer and empty the field.

        Raises InputError (and keeps the text) when it is empty or larger than ``max_bytes``.
        """
        text = self.edit.text()
        if not text:
            raise InputError(f"The {self.what} is empty.")
        try:
            raw = bytearray(text, "utf-8")
        except UnicodeEncodeError:
            raise InputError(f"The {self.what} holds characters that cannot be encoded.") from None
        finally:
            del text
        if len(raw) > self.max_bytes:
            wipe(raw)
            raise InputError(f"The {self.what} is larger than {format_size(self.max_bytes)}.{self.too_large}")
        self.clear()
        return SecretBuffer(raw, wipe_source=True)

    def restore(self, secret: SecretBuffer) -> bool:
        """Put a taken secret back (a share that failed before anything left); closes ``secret``.

        Nothing is put back over new text the user has typed since. True if it was restored.
        """
        with secret:
            if not self.is_empty() or secret.closed:
                return False
            self.set_text(secret.reveal_text())
        return True

    def clear(self) -> None:
        """Empty the field and hide it again (``setText`` also drops the undo history)."""
        self.edit.setText("")
        self.show_toggle.setChecked(False)
