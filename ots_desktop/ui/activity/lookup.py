"""The "Was this secret shared?" box: a masked field whose text becomes a wipeable buffer at once.

The field is emptied the moment its text is taken; the secret then lives only in a
:class:`SecretBuffer` that the page closes after the lookup. The answer lists the
matching entries, never the secret.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from ots_desktop.core.secret import SecretBuffer
from ots_desktop.ui.activity.model import AuditTableModel
from ots_desktop.ui.announce import LiveLabel
from ots_desktop.ui.masked_edit import MaskedLineEdit


class LookupPanel(QGroupBox):
    """A password field, a Look up button and the entries that involve the pasted secret."""

    submitted = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Was this secret shared?", parent)
        self.field = MaskedLineEdit(self)  # bullets only in Qt, so not on the accessibility bus
        self.field.setInputMethodHints(Qt.InputMethodHint.ImhSensitiveData
                                       | Qt.InputMethodHint.ImhNoPredictiveText)
        self.field.setPlaceholderText("Paste a secret to check whether this log saw it")
        self.field.setAccessibleName("Secret to look up")
        self.field.setToolTip("The secret is compared by its keyed fingerprint and cleared from this "
                              "field right away; it is never stored.")
        self.field.setContextMenuPolicy(Qt.ContextMenuPolicy.NoContextMenu)
        self.button = QPushButton("&Look up", self)
        self.button.setAccessibleName("Look up the secret")
        self.button.setToolTip("Search the log for this secret's fingerprint (Enter)")
        self.answer = LiveLabel("Lookup answer", self)
        self.answer.setWordWrap(True)
        self.answer.hide()
        self.results = AuditTableModel(self)
        self.view = QTableView(self)
        self.view.setModel(self.results)
        self.view.setAccessibleName("Entries that involve the secret")
        self.view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.view.setTabKeyNavigation(False)  # arrows move between rows; Tab leaves for the next control
        self.view.verticalHeader().hide()
        self.view.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.view.horizontalHeader().setStretchLastSection(True)
        self.view.setMaximumHeight(140)
        self.view.hide()
        row = QHBoxLayout()
        row.addWidget(self.field, 1)
        row.addWidget(self.button)
        layout = QVBoxLayout(self)
        layout.addLayout(row)
        layout.addWidget(self.answer)
        layout.addWidget(self.view)
        self.field.returnPressed.connect(self.submitted)
        self.button.clicked.connect(self.submitted)

    def take_secret(self) -> SecretBuffer:
        """The field's text as a wipeable buffer; the field is empty afterwards."""
        text = self.field.text()
        self.field.clear()
        raw = bytearray(text.encode("utf-8"))
        del text
        return SecretBuffer(raw, wipe_source=True)

    def set_busy(self, busy: bool) -> None:
        """Disable the controls while a lookup runs."""
        self.button.setEnabled(not busy)
        self.field.setEnabled(not busy)
        if not busy:
            self.field.setFocus()

    def show_matches(self, rows: list[dict[str, Any]]) -> None:
        """Show the answer: how many entries involve the secret, and which (newest first)."""
        self.results.set_entries(list(reversed(rows)))
        if rows:
            count = "1 entry involves" if len(rows) == 1 else f"{len(rows)} entries involve"
            self.answer.setText(f"Yes: {count} this secret.")
        else:
            self.answer.setText("No: no entry in this log involves this secret.")
        self.answer.show()
        self.view.setVisible(bool(rows))

    def clear_answer(self) -> None:
        """Forget the last answer."""
        self.results.set_entries([])
        self.answer.hide()
        self.view.hide()
