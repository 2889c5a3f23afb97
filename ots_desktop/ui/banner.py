"""A readable message strip at the top of a page: info, success, warning or error."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QFrame, QHBoxLayout, QLabel, QToolButton, QWidget

from ots_desktop.ui.announce import announce
from ots_desktop.ui.contrast import banner_colours

LEVELS = ("info", "success", "warning", "error")


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
        app = QApplication.instance()
        if isinstance(app, QApplication):
            app.paletteChanged.connect(self._recolour)

    def show_message(self, text: str, level: str = "info") -> None:
        """Show ``text`` at ``level`` (info, success, warning, error)."""
        level = level if level in LEVELS else "info"
        self.level = level
        self._paint()
        self.label.setText(text)
        self.setAccessibleDescription(f"{level}: {text}")
        self.show()
        announce(self.label, f"{level}: {text}" if level in ("error", "warning") else text,
                 assertive=level in ("error", "warning"))

    def _paint(self) -> None:
        """Colours from the palette (ui/contrast.py): the window tinted with the level's hue, readable text."""
        background, foreground = banner_colours(QApplication.palette(), self.level)
        self.setStyleSheet(f"#banner {{ background: {background.name()}; border: 1px solid {foreground.name()}; "
                           f"border-radius: 4px; }} #banner QLabel {{ color: {foreground.name()}; }}")

    def _recolour(self, _palette: object = None) -> None:
        """A new desktop palette (dark mode switched on): the colours follow. (Qt sends child widgets under a
        style sheet no palette event; the application's signal always comes.)"""
        if not self.isHidden():
            self._paint()

    def error(self, text: str) -> None:
        """Show an error."""
        self.show_message(text, "error")

    def text(self) -> str:
        """The message shown (empty when hidden)."""
        return self.label.text() if self.isVisible() or not self.isHidden() else ""
