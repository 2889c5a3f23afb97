"""Page shortcuts that must also work while the focus is in a text field.

Qt's line edits claim some Ctrl keys for editing (Ctrl+E moves to the end of the line on
X11), so a window shortcut on the same keys never fires while one has the focus. This filter
turns those claims down for the keys a page names.
"""

from __future__ import annotations

from collections.abc import Iterable

from PySide6.QtCore import QEvent, QObject
from PySide6.QtGui import QKeyEvent, QKeySequence
from PySide6.QtWidgets import QWidget


class PageShortcuts(QObject):
    """Lets ``keys`` through to the page's shortcuts from every text field it is installed on."""

    def __init__(self, keys: Iterable[QKeySequence], parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._keys = [QKeySequence(k) for k in keys]

    def install(self, fields: Iterable[QWidget]) -> None:
        """Watch these fields."""
        for field in fields:
            field.installEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        """Refuse the field's claim on our keys, so the shortcut gets them."""
        if event.type() == QEvent.Type.ShortcutOverride and isinstance(event, QKeyEvent):
            pressed = QKeySequence(event.keyCombination())
            if any(pressed.matches(key) == QKeySequence.SequenceMatch.ExactMatch for key in self._keys):
                event.ignore()
                return True
        return False
