"""Copying secrets: password-manager hints on every copy, and clearing only our own value.

The clipboard keeps a SHA-256 of what we put there, not the value, so the check
"is it still ours?" holds no second copy of the secret. Clipboard managers that honour
the hints (KDE Klipper, Windows clipboard history, macOS pasteboard tools) skip it.
"""

from __future__ import annotations

import hashlib

from PySide6.QtCore import QByteArray, QMimeData, QObject, QTimer, Signal
from PySide6.QtGui import QClipboard, QGuiApplication

# KDE (and others on Linux), Windows, macOS: "this is a password, do not keep it".
HINT_TYPES: dict[str, bytes] = {
    "x-kde-passwordManagerHint": b"secret",
    "ExcludeClipboardContentFromMonitorProcessing": b"\x01\x00\x00\x00",
    "CanIncludeInClipboardHistory": b"\x00\x00\x00\x00",
    "CanUploadToCloudClipboard": b"\x00\x00\x00\x00",
    "org.nspasteboard.ConcealedType": b"",
}


def _digest(text: str) -> bytes:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).digest()


class SecureClipboard(QObject):
    """Copy with hints; clear after ``timeout_s`` (0: never) and on quit, if it still holds our value."""

    cleared = Signal()

    def __init__(self, timeout_s: int, clipboard: QClipboard | None = None) -> None:
        super().__init__()
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
        """Clear the clipboard unless the user copied something else since; True if cleared."""
        self._timer.stop()
        ours = self.holds_ours()
        self._ours = None
        if ours:
            self._clipboard.clear(QClipboard.Mode.Clipboard)
            self.cleared.emit()
        return ours

    @property
    def pending(self) -> bool:
        """Whether a clear is scheduled."""
        return self._timer.isActive()
