"""The scrollable list of share cards, newest on top."""

from __future__ import annotations

import itertools

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import QFrame, QLabel, QScrollArea, QVBoxLayout, QWidget

from ots_desktop.ui.send.card import ShareCard


class CardList(QScrollArea):
    """Holds the cards; a finished card goes away when its Close button is pressed."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWidgetResizable(True)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setAccessibleName("Shares")
        self.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # not a Tab stop itself; the cards' buttons are
        inner = QWidget(self)
        self._layout = QVBoxLayout(inner)
        self._layout.setContentsMargins(0, 0, 0, 0)
        self._empty = QLabel("Your shares appear here, newest first.", inner)
        self._empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        # Placeholder colour, not disabled text (1.6:1): the palette keeps it at 4.5:1 (see ui/contrast.py).
        self._empty.setForegroundRole(QPalette.ColorRole.PlaceholderText)
        self._layout.addWidget(self._empty)
        self._layout.addStretch(1)
        self.setWidget(inner)
        self._cards: list[ShareCard] = []
        self._stops: dict[ShareCard, list[QWidget]] = {}  # each card's Tab stops, in its own order

    def sizeHint(self) -> QSize:
        """Modest: the form above gets its room first, the cards take what is left."""
        return QSize(400, 160)

    def add(self, card: ShareCard) -> None:
        """Put ``card`` on top."""
        self._cards.insert(0, card)
        self._layout.insertWidget(0, card)
        self._stops[card] = _chain_of(card)
        # Newest on top, so its controls come first on Tab (by creation order they came last).
        for first, second in itertools.pairwise([w for c in self._cards for w in self._stops.get(c, [])]):
            QWidget.setTabOrder(first, second)
        self._empty.hide()
        card.close_requested.connect(lambda: self.remove(card))
        self.verticalScrollBar().setValue(0)

    def remove(self, card: ShareCard) -> None:
        """Take a card away (only one that may be closed)."""
        if card not in self._cards or not card.closable:
            return
        self._cards.remove(card)
        self._stops.pop(card, None)
        self._layout.removeWidget(card)
        card.hide()
        card.deleteLater()
        self._empty.setVisible(not self._cards)

    def cards(self) -> list[ShareCard]:
        """The cards, newest first."""
        return list(self._cards)


def _chain_of(card: QWidget) -> list[QWidget]:
    """The widgets in ``card`` that take Tab focus, in the order its focus chain has them."""
    stops: list[QWidget] = []
    widget: QWidget | None = card.nextInFocusChain()
    while widget is not None and widget is not card and card.isAncestorOf(widget):
        if widget.focusPolicy() & Qt.FocusPolicy.TabFocus:
            stops.append(widget)
        widget = widget.nextInFocusChain()
    return stops
