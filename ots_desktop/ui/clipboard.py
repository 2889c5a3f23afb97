"""Copying secrets: password-manager hints on every copy, and clearing only our own value.

The clipboard keeps a SHA-256 of what we put there, not the value, so the check
"is it still ours?" holds no second copy of the secret. Clipboard managers that honour
the hints (KDE Klipper, Windows clipboard history, macOS pasteboard tools) skip it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable

from PySide6.QtCore import QByteArray, QMimeData, QObject, QTimer, Signal
from PySide6.QtGui import QClipboard, QGuiApplication

from ots_desktop.core.secret import SecretBuffer
from ots_desktop.ui.clipboard_hints import hint_types, install_pasteboard_converter

# The password hint under the name this system's clipboard managers read (ui/clipboard_hints.py).
HINT_TYPES: dict[str, bytes] = hint_types()


def _digest(text: str) -> bytes:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).digest()


class SecureClipboard(QObject):
    """Copy with hints; clear after ``timeout_s`` (0: never) and on quit, if it still holds our value."""

    cleared = Signal()

    def __init__(self, timeout_s: int, clipboard: QClipboard | None = None) -> None:
        super().__init__()
        install_pasteboard_converter()
        self._clipboard = clipboard or QGuiApplication.clipboard()
        self._ours: bytes | None = None
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self.clear_if_ours)
        self.timeout_s = timeout_s

    def copy(self, text: str, *, secret: bool = True) -> None:
        """Put ``text`` on the clipboard; a secret gets the hints and the clear timer."""
        data = QMimeData()
        data.setText(text)
        if secret:
            for mime, value in HINT_TYPES.items():
                data.setData(mime, QByteArray(value))
        self._clipboard.setMimeData(data, QClipboard.Mode.Clipboard)
        if not secret:
            return
        self._ours = _digest(text)
        if self.timeout_s > 0:
            self._timer.start(self.timeout_s * 1000)

    def holds_ours(self) -> bool:
        """Whether the clipboard still holds the last secret we copied."""
        return self._ours is not None and _digest(self._clipboard.text(QClipboard.Mode.Clipboard)) == self._ours

    def clear_if_ours(self) -> bool:
        """Clear the clipboard unless the user copied something else since; True if cleared.

        The X11 selection (PRIMARY, pasted with the middle button) is cleared too when it holds the same value.
        """
        self._timer.stop()
        ours = self.holds_ours()
        if self._ours is not None and self._selection_digest() == self._ours:
            self._clipboard.clear(QClipboard.Mode.Selection)
        self._ours = None
        if ours:
            self._clipboard.clear(QClipboard.Mode.Clipboard)
            self.cleared.emit()
        return ours

    def _selection_digest(self) -> bytes | None:
        if not self._clipboard.supportsSelection():
            return None
        text = self._clipboard.text(QClipboard.Mode.Selection)
        return _digest(text) if text else None

    def take_text(self) -> SecretBuffer | None:
        """Take the clipboard's text to share it: the clipboard is emptied at once, and PRIMARY too if it
        holds the same text. None when there is no text (nothing is cleared then)."""
        text = self._clipboard.text(QClipboard.Mode.Clipboard)
        if not text.strip():
            return None
        digest = _digest(text)
        raw = bytearray(text.encode("utf-8", "surrogatepass"))
        del text
        if self._selection_digest() == digest:
            self._clipboard.clear(QClipboard.Mode.Selection)
        self._clipboard.clear(QClipboard.Mode.Clipboard)
        if self._ours == digest:
            self._ours = None
            self._timer.stop()
        return SecretBuffer(raw, wipe_source=True)

    def guard_selection(self, widget: QObject, has_selection: Callable[[], bool]) -> None:
        """Keep text selected in ``widget``, a secret shown in clear, out of PRIMARY, for the widget's life.

        X11 hands whatever is selected to any middle-click, with no password-manager hints and no
        timeout; Qt sets it when a selection ends. Whenever this app owns PRIMARY while the widget
        has a selection (``has_selection``), it is given up again (after Qt finished setting it).
        """
        _SelectionGuard(self._clipboard, widget, has_selection)

    @property
    def pending(self) -> bool:
        """Whether a clear is scheduled."""
        return self._timer.isActive()


class _SelectionGuard(QObject):
    """Gives up PRIMARY taken for a selection in its parent widget; goes away with it (and so does the link)."""

    def __init__(self, clipboard: QClipboard, widget: QObject, has_selection: Callable[[], bool]) -> None:
        super().__init__(widget)
        self._clipboard = clipboard
        self._has_selection = has_selection
        clipboard.selectionChanged.connect(self.changed)

    def changed(self) -> None:
        if self._clipboard.ownsSelection() and self._has_selection():
            QTimer.singleShot(0, self, self.drop)

    def drop(self) -> None:
        if self._clipboard.ownsSelection() and self._clipboard.text(QClipboard.Mode.Selection):
            self._clipboard.clear(QClipboard.Mode.Selection)
