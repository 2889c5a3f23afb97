"""Text coloured for a message level (success, warning, error) that keeps up with the desktop's palette.

The colour comes from the palette (ui/contrast.py ``level_colour``). A style sheet fixes it at the
moment it is set, and Qt sends a child widget under a style sheet no palette event, so each coloured
widget has a small helper that sets the colour again when the application's palette changes (dark
mode switched on or off).
"""

from __future__ import annotations

from PySide6.QtCore import QObject, Qt
from PySide6.QtWidgets import QApplication, QWidget

from ots_desktop.ui.contrast import level_style


class _LevelText(QObject):
    """Keeps its parent widget's text in the colour of ``level`` (none: the style's own)."""

    def __init__(self, widget: QWidget) -> None:
        super().__init__(widget)
        self.widget = widget
        self.level = ""
        app = QApplication.instance()
        if isinstance(app, QApplication):
            app.paletteChanged.connect(self.apply)

    def apply(self, _palette: object = None) -> None:
        self.widget.setStyleSheet(level_style(self.level) if self.level else "")


def colour_text(widget: QWidget, level: str | None) -> None:
    """Colour ``widget``'s text for ``level`` ("info", "success", "warning", "error"; None or "" for the
    default), now and after every change of the desktop palette."""
    helper = widget.findChild(_LevelText, "", Qt.FindChildOption.FindDirectChildrenOnly)
    if not isinstance(helper, _LevelText):
        helper = _LevelText(widget)
    helper.level = str(level or "")
    helper.apply()
