"""Accessible names that match what is on screen (WCAG 2.5.3, label in name).

A person using speech input says what they see ("click Browse"); a screen-reader user hears
the name. So a control's accessible name is its visible label, and a longer explanation
written as its name moves to its description. Controls Qt adds by itself (the clear button
inside a text field) get a name too.
"""

from __future__ import annotations

from PySide6.QtWidgets import QAbstractButton, QLineEdit, QTableView, QToolButton, QWidget


def visible_label(button: QAbstractButton) -> str:
    """The button's text as seen: mnemonic ampersands dropped, a trailing ellipsis too."""
    text = button.text().replace("&&", "\0").replace("&", "").replace("\0", "&").strip()
    return text.rstrip("\u2026").rstrip(".").strip()


def name_controls(root: QWidget) -> None:
    """Give every control under ``root`` a name that holds its visible label (see the module's note)."""
    for button in root.findChildren(QAbstractButton):
        label = visible_label(button)
        name = button.accessibleName()
        if not label or not label[0].isalnum() or label.lower() in name.lower():
            continue  # no text, a symbol (its name says what it does), or already fine
        if name and not button.accessibleDescription():
            button.setAccessibleDescription(name)
        button.setAccessibleName(label)
    for field in root.findChildren(QLineEdit):
        if field.isClearButtonEnabled():
            for clear in field.findChildren(QToolButton):
                if not clear.accessibleName():
                    clear.setAccessibleName(f"Clear {field.accessibleName() or 'the field'}".strip())
    for table in root.findChildren(QTableView):
        table.setCornerButtonEnabled(False)  # the header corner's select-all button: unnamed and of no use here
        owner = table.accessibleName() or "table"
        for header, what in ((table.horizontalHeader(), "column headers"), (table.verticalHeader(), "row headers")):
            if not header.accessibleName():
                header.setAccessibleName(f"{owner}, {what}")
