"""A readable message strip at the top of a page: info, success, warning or error."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QToolButton, QWidget

_COLOURS = {
    "info": ("#e8f0fe", "#1a3d7c"),
    "success": ("#e6f4ea", "#0d5223"),
    "warning": ("#fef7e0", "#6b4a00"),
    "error": ("#fce8e6", "#8c1d18"),
}


class Banner(QFrame):
    """Hidden until :meth:`show_message`; closes with its button or Esc on the page."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("banner")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.label = QLabel(self)
        self.label.setWordWrap(True)
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        close = QToolButton(self)
        close.setText("✕")
        close.setToolTip("Dismiss")
        close.setAccessibleName("Dismiss message")
        close.clicked.connect(self.hide)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(10, 6, 6, 6)
        layout.addWidget(self.label, 1)
        layout.addWidget(close, 0, Qt.AlignmentFlag.AlignTop)
        self.level = "info"
        self.hide()

    def show_message(self, text: str, level: str = "info") -> None:
        """Show ``text`` at ``level`` (info, success, warning, error)."""
        background, foreground = _COLOURS.get(level, _COLOURS["info"])
        self.level = level
        self.setStyleSheet(f"#banner {{ background: {background}; border: 1px solid {foreground}; "
                           f"border-radius: 4px; }} #banner QLabel {{ color: {foreground}; }}")
        self.label.setText(text)
        self.setAccessibleDescription(f"{level}: {text}")
        self.show()

    def error(self, text: str) -> None:
        """Show an error."""
        self.show_message(text, "error")

    def text(self) -> str:
        """The message shown (empty when hidden)."""
        return self.label.text() if self.isVisible() or not self.isHidden() else ""
