"""The window's tabs, each page in a scroll area: a page that does not fit (a small screen, a scale factor
of 2) scrolls instead of being clipped or pushing the window off the screen.

Callers see the pages themselves: ``widget``, ``currentWidget``, ``setCurrentWidget`` and ``indexOf`` speak
of the page, not of the scroll area around it. Whatever gets the keyboard focus is scrolled into view.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QFrame, QScrollArea, QTabWidget, QWidget


class PageArea(QScrollArea):
    """One page, scrolled when the window is smaller than the page's minimum size."""

    def __init__(self, page: QWidget, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWidgetResizable(True)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # the page's controls are the Tab stops, not the area
        self.setWidget(page)


class PageTabs(QTabWidget):
    """A tab widget whose pages scroll (see the module's note)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        app = QApplication.instance()
        if isinstance(app, QApplication):
            app.focusChanged.connect(self._focus_changed)

    def insert_page(self, index: int, page: QWidget, title: str) -> None:
        """Put ``page`` (in its scroll area) at ``index``."""
        self.insertTab(index, PageArea(page, self), title)

    def widget(self, index: int) -> QWidget | None:  # type: ignore[override]
        """The page at ``index`` (not its scroll area)."""
        found = super().widget(index)
        return found.widget() if isinstance(found, PageArea) else found

    def currentWidget(self) -> QWidget | None:  # type: ignore[override]
        """The page shown."""
        return self.widget(self.currentIndex())

    def indexOf(self, page: QWidget) -> int:  # type: ignore[override]
        """The index of ``page`` (or of its scroll area); -1 when it is not here."""
        for index in range(self.count()):
            if page is self.widget(index) or page is super().widget(index):
                return index
        return -1

    def setCurrentWidget(self, page: QWidget) -> None:  # type: ignore[override]
        """Show ``page``."""
        index = self.indexOf(page)
        if index >= 0:
            self.setCurrentIndex(index)

    def _focus_changed(self, _old: QWidget | None, new: QWidget | None) -> None:
        if new is None:
            return
        area = super().currentWidget()
        page = area.widget() if isinstance(area, PageArea) else None
        if isinstance(area, PageArea) and page is not None and page.isAncestorOf(new):
            area.ensureWidgetVisible(new, 8, 8)
