"""What a screen reader hears of the code field's suggestion list.

Qt keeps pop-up windows out of the accessibility tree (the application lists only its other
windows), and the keyboard focus stays in the field while the list is open, so the list itself
is never read. Instead, while it is open, the field's accessible description says how many
suggestions there are and names the first few, that summary is announced when the list opens
or changes, and each suggestion is announced as the arrow keys highlight it.
"""

from __future__ import annotations

from shiboken6 import isValid

from PySide6.QtCore import QEvent, QModelIndex, QObject, Slot
from PySide6.QtWidgets import QCompleter, QLineEdit

from ots_desktop.ui.announce import announce

NAMED = 5  # suggestions named in the summary


def summary(first: list[str], count: int) -> str:
    """``3 suggestions: 7-aardvark-, 7-absurd-, 7-accrue-. Down arrow to choose one.``"""
    if count <= 0:
        return ""
    listed = ", ".join(first[:NAMED]) + (", and more" if count > len(first[:NAMED]) else "")
    noun = "suggestion" if count == 1 else "suggestions"
    return f"{count} {noun}: {listed}. Down arrow to choose one."


class CompletionSpeech(QObject):
    """Describes and announces ``completer``'s open list from ``field`` (see the module's note)."""

    def __init__(self, field: QLineEdit, completer: QCompleter, parent: QObject | None = None) -> None:
        super().__init__(parent if parent is not None else field)  # Qt owns it (see CodeCompleter)
        self.field = field
        self.completer = completer
        self._caption = field.accessibleDescription()
        self._said = ""
        popup = completer.popup()
        assert popup is not None
        self.popup = popup
        popup.installEventFilter(self)
        model = completer.completionModel()
        # Declared slots (@Slot), not dynamic ones: PySide adds a dynamic slot to the class's
        # meta-object on connect, and one of those was once called by an index that meta-object
        # no longer had, as a page was torn down ("Slot 'CompletionSpeech::' not found").
        for signal in (model.modelReset, model.layoutChanged, model.rowsInserted, model.rowsRemoved):
            signal.connect(self._changed)
        # The index form comes before the text form, which the field takes up (its list then changes).
        completer.highlighted[QModelIndex].connect(self._highlighted)  # type: ignore[index]  # stubs lack overloads

    def text(self) -> str:
        """The summary of the list as it stands (empty when it is closed or empty)."""
        if not isValid(self.popup) or not self.popup.isVisible():
            return ""
        model = self.completer.completionModel()
        rows = model.rowCount()
        return summary([str(model.index(row, 0).data()) for row in range(min(NAMED, rows))], rows)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        popup = getattr(self, "popup", None)  # gone while Qt tears the page down
        if watched is not popup or popup is None:
            return False
        if event.type() == QEvent.Type.Show:
            self._changed()
        elif event.type() == QEvent.Type.Hide and isValid(self.field):
            self._said = ""
            self.field.setAccessibleDescription(self._caption)
        return False

    @Slot()
    def _changed(self) -> None:
        if not hasattr(self, "field") or not isValid(self.field):
            return  # the page is being torn down (the list empties as it goes)
        said = self.text()
        if said == self._said:
            return
        self._said = said
        self.field.setAccessibleDescription(said or self._caption)
        announce(self.field, said)

    @Slot(QModelIndex)
    def _highlighted(self, current: QModelIndex) -> None:
        if current.isValid():
            rows = current.model().rowCount()
            announce(self.field, f"{current.data()}, {current.row() + 1} of {rows}")
