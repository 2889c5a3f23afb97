"""What a screen reader hears of labels that carry a value and of status changes.

A label that shows a value (a wormhole code, a link's terms, a state line) has the value as its
accessible name and what it is as its description, so the value is in the accessibility tree
(a fixed name such as "Wormhole code" would hide it). A status line also announces each new
text (Qt's announcement event, AT-SPI ``object:announcement``): politely for progress, and
assertively for errors, which interrupt what is being read.
"""

from __future__ import annotations

from PySide6.QtGui import QAccessible, QAccessibleAnnouncementEvent
from PySide6.QtWidgets import QLabel, QWidget


def announce(widget: QWidget, text: str, *, assertive: bool = False) -> None:
    """Have assistive technology say ``text`` (from ``widget``); nothing when no client listens."""
    if not text or not QAccessible.isActive():
        return
    event = QAccessibleAnnouncementEvent(widget, text)
    event.setPoliteness(QAccessible.AnnouncementPoliteness.Assertive if assertive
                        else QAccessible.AnnouncementPoliteness.Polite)
    QAccessible.updateAccessibility(event)


def expose_value(label: QLabel, caption: str) -> QLabel:
    """Let ``label``'s text be its accessible name, ``caption`` (what the value is) its description."""
    label.setAccessibleName("")
    label.setAccessibleDescription(caption)
    return label


class LiveLabel(QLabel):
    """A status line: its text is its accessible name, and each new text is announced."""

    def __init__(self, caption: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        expose_value(self, caption)

    def setText(self, text: str, *, assertive: bool = False, quiet: bool = False) -> None:  # type: ignore[override]
        """Show ``text``; announce it unless ``quiet`` (or unchanged), assertively for an error."""
        changed = text != self.text()
        super().setText(text)
        if changed and not quiet:
            announce(self, text, assertive=assertive)
