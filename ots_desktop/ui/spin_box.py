"""A spin box whose border people can see (WCAG 2.1 non-text contrast, 3:1).

Styles draw a spin box's frame in a shade of their own (Fusion: the window colour made 40 % darker,
about 2:1 on white), which the derived palette (ui/contrast.py) does not reach, and a style sheet
border would shrink the arrow buttons to a few pixels. So the style draws the box as usual and the
border is drawn over its frame in the palette's Dark colour, which the window derives to reach 3:1
against the field and the window. With the keyboard focus the style's own focus frame shows instead.
"""

from __future__ import annotations

from PySide6.QtCore import QRectF
from PySide6.QtGui import QPainter, QPaintEvent, QPalette, QPen
from PySide6.QtWidgets import QSpinBox, QWidget

RADIUS = 2.0


class FramedSpinBox(QSpinBox):
    """A QSpinBox with its border in the palette's (derived) Dark colour."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)

    def paintEvent(self, event: QPaintEvent) -> None:
        super().paintEvent(event)
        if self.hasFocus():
            return
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setPen(QPen(self.palette().color(QPalette.ColorRole.Dark), 1.0))
        painter.drawRoundedRect(QRectF(self.rect()).adjusted(0.5, 0.5, -0.5, -0.5), RADIUS, RADIUS)
        painter.end()
