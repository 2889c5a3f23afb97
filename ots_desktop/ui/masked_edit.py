"""A password line edit whose Qt text is only placeholder bullets, so no secret reaches the a11y bus.

Qt's QLineEdit tells the accessibility bus about every edit (AT-SPI ``object:text-changed``)
with the characters themselves, even in password mode: each typed character, and the whole
text when the field is cleared. Any client on the bus would get the secret. Here the QLineEdit
underneath holds one bullet per character while the characters stay in this object, so what
Qt announces is bullets (a screen reader says "bullet" per key, as for any password field).

Typing, input methods, paste (the shortcut, middle-click PRIMARY, the context menu), drops,
Backspace/Delete with or without a selection and the word and line deletions are mirrored
here. Undo and redo do nothing while masked (the history would be bullets). With the echo
mode set to Normal (a Show toggle) the field holds the real text, which is then on screen and
on the bus too: the user asked to see it, and a screen-reader user needs to hear it.
"""

from __future__ import annotations

from PySide6.QtCore import QMimeData, Qt
from PySide6.QtGui import (
    QClipboard,
    QContextMenuEvent,
    QDropEvent,
    QGuiApplication,
    QInputMethodEvent,
    QKeyEvent,
    QKeySequence,
    QMouseEvent,
)
from PySide6.QtWidgets import QLineEdit, QMenu, QWidget

BULLET = "\u2022"

_DELETE_BACK = (QKeySequence.StandardKey.DeleteStartOfWord,)
_DELETE_FORWARD = (QKeySequence.StandardKey.DeleteEndOfWord, QKeySequence.StandardKey.DeleteEndOfLine)
_IGNORED = (QKeySequence.StandardKey.Undo, QKeySequence.StandardKey.Redo, QKeySequence.StandardKey.Copy,
            QKeySequence.StandardKey.Cut)


class MaskedLineEdit(QLineEdit):
    """A QLineEdit in password mode whose Qt-side text is bullets; :meth:`text` gives the real text."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._chars: list[str] = []
        super().setEchoMode(QLineEdit.EchoMode.Password)

    # -- the real text -------------------------------------------------------------------------

    def masked(self) -> bool:
        """Whether the field holds bullets (not shown)."""
        return self.echoMode() != QLineEdit.EchoMode.Normal

    def text(self) -> str:  # type: ignore[override]
        """The real text (Qt's own copy is bullets while masked)."""
        return "".join(self._chars) if self.masked() else super().text()

    def setText(self, text: str) -> None:  # type: ignore[override]
        """Replace the whole text (drops the undo history)."""
        if self.masked():
            self._chars = list(text)[: self.maxLength()]
            super().setText(BULLET * len(self._chars))
        else:
            self._chars = []
            super().setText(text)

    def clear(self) -> None:
        """Empty the field."""
        self.setText("")

    def setEchoMode(self, mode: QLineEdit.EchoMode) -> None:  # type: ignore[override]
        """Switch between masked (bullets) and Normal (the real text in Qt)."""
        if mode == self.echoMode():
            return
        cursor = self.cursorPosition()
        real = self.text()
        # Qt counts UTF-16 units; the bullets, one per character: a character past U+FFFF is two units.
        if self.masked():
            cursor = len(real[:cursor].encode("utf-16-le")) // 2
        else:
            cursor = len(real.encode("utf-16-le")[: cursor * 2].decode("utf-16-le", "ignore"))
        super().setEchoMode(mode)
        self.setText(real)
        del real
        self.setCursorPosition(cursor)

    # -- edits, mirrored -----------------------------------------------------------------------

    def _span(self) -> tuple[int, int]:
        if self.hasSelectedText():
            start = self.selectionStart()
            return start, start + len(self.selectedText())
        pos = self.cursorPosition()
        return pos, pos

    def _replace(self, start: int, end: int, new: str) -> None:
        """Put ``new`` in place of characters ``start:end``, Qt seeing bullets only."""
        if self.isReadOnly():
            return
        room = self.maxLength() - (len(self._chars) - (end - start))
        added = list(new.replace("\r\n", "\n"))[: max(room, 0)]
        if start == end and not added:
            return
        self._chars[start:end] = added
        if end > start:
            super().setSelection(start, end - start)
        else:
            super().setCursorPosition(start)
        super().insert(BULLET * len(added))  # replaces the selection; emits textEdited/textChanged

    def insert(self, text: str) -> None:  # type: ignore[override]
        """Insert at the cursor, over the selection."""
        if not self.masked():
            super().insert(text)
            return
        self._replace(*self._span(), text)

    def paste(self, mode: QClipboard.Mode = QClipboard.Mode.Clipboard) -> None:  # type: ignore[override]
        """Insert the clipboard's (or PRIMARY's) text."""
        text = QGuiApplication.clipboard().text(mode)
        if text:
            self.insert(text)
        del text

    def _delete(self, forward: bool, to_edge: bool) -> None:
        start, end = self._span()
        if start == end:
            if forward:
                end = len(self._chars) if to_edge else min(end + 1, len(self._chars))
            else:
                start = 0 if to_edge else max(start - 1, 0)
        self._replace(start, end, "")

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if not self.masked() or self.isReadOnly():
            super().keyPressEvent(event)
            return
        if event.matches(QKeySequence.StandardKey.Paste):
            self.paste()
        elif any(event.matches(key) for key in _IGNORED):
            pass
        elif any(event.matches(key) for key in _DELETE_BACK):
            self._delete(forward=False, to_edge=True)
        elif any(event.matches(key) for key in _DELETE_FORWARD):
            self._delete(forward=True, to_edge=True)
        elif event.key() == Qt.Key.Key_Backspace:
            self._delete(forward=False, to_edge=False)
        elif event.key() == Qt.Key.Key_Delete and not event.modifiers() & Qt.KeyboardModifier.ShiftModifier:
            self._delete(forward=True, to_edge=False)
        elif event.key() == Qt.Key.Key_Insert and event.modifiers() & Qt.KeyboardModifier.ShiftModifier:
            self.paste()
        elif (event.text() and event.text().isprintable()
              and not event.modifiers() & (Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.AltModifier
                                           | Qt.KeyboardModifier.MetaModifier)):
            self.insert(event.text())
        else:
            super().keyPressEvent(event)  # moving, selecting, Enter: nothing that edits
            return
        event.accept()

    def inputMethodEvent(self, event: QInputMethodEvent) -> None:
        if not self.masked():
            super().inputMethodEvent(event)
            return
        commit = event.commitString()
        if commit:
            self.insert(commit)
        event.accept()

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        if (self.masked() and event.button() == Qt.MouseButton.MiddleButton
                and QGuiApplication.clipboard().supportsSelection() and not self.isReadOnly()):
            self.deselect()
            self.setCursorPosition(self.cursorPositionAt(event.position().toPoint()))
            self.paste(QClipboard.Mode.Selection)
            event.accept()
            return
        super().mouseReleaseEvent(event)

    def dropEvent(self, event: QDropEvent) -> None:
        mime: QMimeData = event.mimeData()
        if not self.masked() or not mime.hasText():
            super().dropEvent(event)
            return
        self.deselect()
        self.setCursorPosition(self.cursorPositionAt(event.position().toPoint()))
        text = mime.text()
        self.insert(text)
        del text
        event.acceptProposedAction()

    def contextMenuEvent(self, event: QContextMenuEvent) -> None:
        if not self.masked() or self.contextMenuPolicy() != Qt.ContextMenuPolicy.DefaultContextMenu:
            super().contextMenuEvent(event)
            return
        menu = QMenu(self)
        menu.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        editable = not self.isReadOnly()
        paste = menu.addAction("&Paste", self.paste)
        paste.setEnabled(editable and bool(QGuiApplication.clipboard().mimeData().hasText()))
        delete = menu.addAction("Delete", lambda: self._delete(forward=True, to_edge=False))
        delete.setEnabled(editable and self.hasSelectedText())
        menu.addSeparator()
        select = menu.addAction("Select All", self.selectAll)
        select.setEnabled(bool(self._chars))
        menu.popup(event.globalPos())
