"""QR codes drawn in memory: segno writes a PNG into a buffer, Qt loads it from there. No file is written."""

from __future__ import annotations

import io

import segno

from PySide6.QtCore import Qt
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import QLabel, QSizePolicy, QWidget

QR_PIXELS = 168


def qr_pixmap(text: str, size: int = QR_PIXELS) -> QPixmap:
    """A QR code of ``text``, scaled to about ``size`` pixels square (null if segno cannot encode it)."""
    try:
        qr = segno.make(text, error="m")
    except (ValueError, segno.DataOverflowError):
        return QPixmap()
    modules = qr.symbol_size(border=2)[0]
    buffer = io.BytesIO()
    qr.save(buffer, kind="png", scale=max(1, size // modules), border=2)
    pixmap = QPixmap()
    pixmap.loadFromData(buffer.getvalue(), "PNG")
    buffer.close()
    return pixmap


class QrView(QLabel):
    """A square label showing the QR code of one text (a code URI or a link)."""

    def __init__(self, text: str = "", parent: QWidget | None = None, *, size: int = QR_PIXELS) -> None:
        super().__init__(parent)
        self._size = size
        self.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Fixed)
        self.setAccessibleName("QR code")
        self.setToolTip("Scan with a phone")
        if text:
            self.set_text(text)
        else:
            self.hide()

    def set_text(self, text: str) -> None:
        """Draw the QR code of ``text``; hidden when it cannot be drawn."""
        pixmap = qr_pixmap(text, self._size)
        self.setPixmap(pixmap)
        self.setVisible(not pixmap.isNull())

    def is_drawn(self) -> bool:
        """Whether a QR code is shown."""
        pixmap = self.pixmap()
        return pixmap is not None and not pixmap.isNull()
