"""A received text secret on screen: masked until asked for, copied with hints, wiped on Clear.

While masked, the widgets hold no copy of the secret at all: the masked field shows
dots of a neutral filler, and the text reaches a widget only while Show is on. The
secret itself stays in its :class:`SecretBuffer` until Clear closes it.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, QPoint, Qt, Signal
from PySide6.QtGui import QFontDatabase, QKeyEvent, QKeySequence
from PySide6.QtWidgets import (
    QApplication,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMenu,
    QPlainTextEdit,
    QPushButton,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from ots_desktop.core.secret import SecretBuffer
from ots_desktop.ui.clipboard import SecureClipboard

MASK_CHARS = 24
SENSITIVE_HINTS = Qt.InputMethodHint.ImhSensitiveData | Qt.InputMethodHint.ImhNoPredictiveText


def _describe(secret: SecretBuffer) -> str:
    view = secret.view()
    try:
        size = len(view)
        # Counted in place: a bytes() copy would leave the secret behind in freed memory.
        breaks = sum(1 for byte in view if byte == 0x0A)
        lines = breaks + (1 if size and view[size - 1] != 0x0A else 0)
    finally:
        view.release()
    what = f"{size:,} byte{'s' if size != 1 else ''}"
    if lines > 1:
        what += f", {lines} lines"
    return what


class SecretView(QWidget):
    """Show, copy and clear one text secret. Owns the buffer it is given."""

    copied = Signal()
    cleared = Signal()

    def __init__(self, clipboard: SecureClipboard, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._clipboard = clipboard
        self._secret: SecretBuffer | None = None
        self.setAccessibleName("Received secret")
        self.masked = QLineEdit(self)
        self.masked.setReadOnly(True)
        self.masked.setEchoMode(QLineEdit.EchoMode.Password)
        self.masked.setInputMethodHints(SENSITIVE_HINTS)
        self.masked.setAccessibleName("Received secret, hidden")
        self.masked.setContextMenuPolicy(Qt.ContextMenuPolicy.NoContextMenu)
        self.plain = QPlainTextEdit(self)
        self.plain.setReadOnly(True)
        self.plain.setInputMethodHints(SENSITIVE_HINTS)
        self.plain.setAccessibleName("Received secret, shown")
        self.plain.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.plain.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        clipboard.guard_selection(self.plain, lambda: self.plain.textCursor().hasSelection())  # never PRIMARY
        # The system's copy keys and the context menu copy the selection with the hints and the timer too.
        self.plain.installEventFilter(self)
        self.plain.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.plain.customContextMenuRequested.connect(self._context_menu)
        # The masked line sits at the top at its own height: stretched to the box's, its dots floated
        # in the middle of a large empty frame, easy to miss.
        self._masked_page = QWidget(self)
        masked_layout = QVBoxLayout(self._masked_page)
        masked_layout.setContentsMargins(0, 0, 0, 0)
        masked_layout.addWidget(self.masked)
        masked_layout.addStretch(1)
        self.stack = QStackedWidget(self)
        self.stack.addWidget(self._masked_page)
        self.stack.addWidget(self.plain)
        self.info = QLabel(self)
        self.show_button = QPushButton("&Show", self)
        self.show_button.setCheckable(True)
        self.show_button.setAccessibleName("Show the secret")
        self.show_button.toggled.connect(self.set_shown)
        self.copy_button = QPushButton("&Copy", self)
        self.copy_button.setAccessibleName("Copy the secret")
        self.copy_button.setToolTip("Copy to the clipboard; it is cleared again after a while")
        self.copy_button.clicked.connect(self.copy)
        self.clear_button = QPushButton("C&lear", self)
        self.clear_button.setAccessibleName("Clear the secret")
        self.clear_button.setToolTip("Wipe the secret from this window")
        self.clear_button.clicked.connect(self.clear)
        buttons = QHBoxLayout()
        buttons.addWidget(self.info, 1)
        buttons.addWidget(self.show_button)
        buttons.addWidget(self.copy_button)
        buttons.addWidget(self.clear_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.stack, 1)
        layout.addLayout(buttons)
        layout.addStretch(0)  # takes the room the one masked line leaves, so the buttons stay under it
        # In screen order: the secret, then the buttons under it.
        for first, second in ((self.masked, self.plain), (self.plain, self.show_button),
                              (self.show_button, self.copy_button), (self.copy_button, self.clear_button)):
            QWidget.setTabOrder(first, second)
        self.focus_after_clear: QWidget | None = None  # where the keyboard goes when Clear disables itself
        self._update()

    # -- state ---------------------------------------------------------------------

    @property
    def has_secret(self) -> bool:
        """Whether a secret is held (and not cleared yet)."""
        return self._secret is not None and not self._secret.closed

    @property
    def shown(self) -> bool:
        """Whether the secret is visible in clear."""
        return self.stack.currentWidget() is self.plain

    def set_secret(self, secret: SecretBuffer) -> None:
        """Hold ``secret`` (now owned by this view), masked."""
        self.clear()
        self._secret = secret
        self.masked.setText("•" * MASK_CHARS)
        self.info.setText(f"Text secret, {_describe(secret)}. Hidden until you press Show.")
        self._update()
        self.show()

    def set_shown(self, shown: bool) -> None:
        """Reveal the text (multi-line text keeps its lines) or hide it again."""
        if shown and self.has_secret:
            assert self._secret is not None
            text, escaped = self._secret.reveal_text_escaped()
            self.plain.setPlainText(text)
            del text
            if escaped:
                self.info.setText(f"Text secret, {_describe(self._secret)}. It is not valid UTF-8: invalid bytes "
                                  "show as \\xNN, and Copy copies that form.")
            self.stack.setCurrentWidget(self.plain)
        else:
            self.plain.clear()
            self.stack.setCurrentWidget(self._masked_page)
        # Shown, the text gets the page's room; hidden, the box is one line high with its buttons under it.
        self.stack.setMaximumHeight(16_777_215 if self.shown else self.masked.sizeHint().height())
        if self.show_button.isChecked() != self.shown:
            self.show_button.setChecked(self.shown)  # one toggle named Show: pressed while shown

    def copy(self) -> None:
        """Copy the secret, marked for password managers and cleared after the configured time."""
        if not self.has_secret:
            return
        assert self._secret is not None
        self._clipboard.copy(self._secret.reveal_text_escaped()[0])
        self.copied.emit()

    def copy_selection(self) -> None:
        """Copy what is selected in the shown secret (all of it when nothing is), with hints and the timer."""
        cursor = self.plain.textCursor()
        if not cursor.hasSelection():
            self.copy()
            return
        # The selection is already text in the widget (shown on request); it goes to the clipboard the
        # same way as Copy, marked for password managers and cleared after the configured time.
        self._clipboard.copy(cursor.selectedText().replace("\u2029", "\n"))
        self.copied.emit()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        """Ctrl+C (Cmd+C, Ctrl+Insert) in the shown secret: :meth:`copy_selection`, not Qt's plain copy."""
        # getattr: Qt still delivers events while the view is being torn down, after its attributes are gone.
        plain = getattr(self, "plain", None)
        if plain is not None and watched is plain and event.type() == QEvent.Type.KeyPress \
                and isinstance(event, QKeyEvent) and event.matches(QKeySequence.StandardKey.Copy):
            self.copy_selection()
            return True
        return False

    def _context_menu(self, position: QPoint) -> None:
        menu = QMenu(self.plain)
        menu.addAction("&Copy", self.copy_selection)
        menu.addAction("Select &All", self.plain.selectAll)
        menu.exec(self.plain.viewport().mapToGlobal(position))

    def clear(self) -> None:
        """Wipe the widgets and the buffer."""
        had = self._secret is not None
        focused = QApplication.focusWidget()
        keep_focus = focused is not None and self.isAncestorOf(focused)
        self.set_shown(False)
        self.plain.clear()
        self.masked.clear()
        self.info.clear()
        if self._secret is not None:
            self._secret.close()
            self._secret = None
        self._update()
        if keep_focus and self.focus_after_clear is not None:  # Clear, Show and Copy are disabled now
            self.focus_after_clear.setFocus(Qt.FocusReason.OtherFocusReason)
        if had:
            self.cleared.emit()

    def _update(self) -> None:
        held = self.has_secret
        for widget in (self.show_button, self.copy_button, self.clear_button):
            widget.setEnabled(held)
        if not held:
            self.info.setText("No secret held.")
