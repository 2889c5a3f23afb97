"""What every share card has: a title, a one-line state, and a Close button once the share has ended."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QFont
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QToolButton, QVBoxLayout, QWidget

from ots_desktop.ui.announce import LiveLabel
from ots_desktop.ui.context import Level
from ots_desktop.ui.level_text import colour_text


def big_font(base: QFont, *, scale: float = 1.6, monospace: bool = False) -> QFont:
    """A larger, bold version of ``base`` (optionally monospace) for codes read aloud."""
    font = QFont(base)
    if monospace:
        font.setFamilies(["DejaVu Sans Mono", "Noto Sans Mono", "Monospace"])
        font.setStyleHint(QFont.StyleHint.Monospace)
    size = base.pointSizeF() if base.pointSizeF() > 0 else 10.0
    font.setPointSizeF(size * scale)
    font.setBold(True)
    return font


COPIED_MS = 2000  # how long a Copy button says "Copied"

class ShareCard(QFrame):
    """One share on the Send page. Subclasses fill :attr:`body` and call :meth:`finish` at the end."""

    finished = Signal(str)  # the final state
    close_requested = Signal()

    channel = ""

    def __init__(self, title: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setObjectName("shareCard")
        self.title = QLabel(title, self)
        title_font = QFont(self.title.font())
        title_font.setBold(True)
        self.title.setFont(title_font)
        self.title.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.status = LiveLabel("Share state", self)
        self.status.setWordWrap(True)
        self.close_button = QToolButton(self)
        self.close_button.setText("✕")
        self.close_button.setToolTip("Close this card")
        self.close_button.setAccessibleName(f"Close card: {title}")
        self.close_button.setEnabled(False)
        self.close_button.clicked.connect(self.close_requested.emit)
        header = QHBoxLayout()
        header.addWidget(self.title, 1)
        header.addWidget(self.close_button, 0, Qt.AlignmentFlag.AlignTop)
        self.body = QVBoxLayout()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(10, 8, 10, 10)
        layout.addLayout(header)
        layout.addWidget(self.status)
        layout.addLayout(self.body)
        self.state = "starting"
        self._finished = False
        self.setAccessibleName(title)

    @property
    def is_finished(self) -> bool:
        """Whether the share has ended."""
        return self._finished

    @property
    def closable(self) -> bool:
        """Whether the card may be closed: the share ended, or it can no longer be followed."""
        return self.close_button.isEnabled()

    def allow_close(self, allowed: bool) -> None:
        """Enable or disable the Close button (it is always enabled once the share has ended)."""
        self.close_button.setEnabled(allowed or self._finished)

    def _button(self, text: str, tip: str, slot: Callable[[], object]) -> QPushButton:
        """A card's action button: labelled for screen readers, never the dialog default."""
        button = QPushButton(text, self)
        button.setToolTip(tip)
        button.setAccessibleName(text)
        button.setAutoDefault(False)
        button.clicked.connect(slot)
        return button

    def set_state(self, state: str, text: str, level: Level = Level.INFO) -> None:
        """Show where the share stands."""
        self.state = state
        self.status.setText(text, assertive=level is Level.ERROR)
        colour_text(self.status, str(level))
        self.setAccessibleDescription(text)

    def finish(self, state: str, text: str, level: Level) -> None:
        """The share ended: show how, allow closing, tell the page. Later calls are ignored."""
        if self._finished:
            return
        self._finished = True
        self.set_state(state, text, level)
        self.close_button.setEnabled(True)
        self.ended()
        self.finished.emit(state)

    def ended(self) -> None:
        """Hook for subclasses: tidy up when the share ends (disable buttons, stop listening)."""

    def lay_out_link(self, link_field: QWidget, copy_button: QWidget, terms: QWidget, receipt: QWidget,
                     actions: tuple[QWidget, ...], qr: QWidget) -> None:
        """The link cards' body: the link and Copy, terms, receipts and actions, the QR code at the right."""
        link_row = QHBoxLayout()
        link_row.addWidget(link_field, 1)
        link_row.addWidget(copy_button)
        buttons = QHBoxLayout()
        for button in actions:
            buttons.addWidget(button)
        buttons.addStretch(1)
        left = QVBoxLayout()
        left.addLayout(link_row)
        left.addWidget(terms)
        left.addWidget(receipt)
        left.addLayout(buttons)
        left.addStretch(1)
        row = QHBoxLayout()
        row.addLayout(left, 1)
        row.addWidget(qr, 0, Qt.AlignmentFlag.AlignTop)
        self.body.addLayout(row)
