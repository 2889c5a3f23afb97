"""The files and folders waiting to be shared: name and size of each, with Remove and Clear."""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QEvent, QObject, Qt, Signal
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import QHBoxLayout, QListWidget, QListWidgetItem, QPushButton, QVBoxLayout, QWidget

from ots_desktop.core.sizes import format_size

MAX_ITEMS = 50
MAX_WALK = 20_000
VISIBLE_ROWS = 5


@dataclass(frozen=True)
class Queued:
    """One queued path and what the list shows for it."""

    path: Path
    is_folder: bool
    size: int
    files: int = 1

    def describe(self) -> str:
        """``report.pdf — 1.2 MiB`` or ``keys/ — folder, 3 files, 12 KiB``."""
        if self.is_folder:
            count = f"{self.files}+" if self.files >= MAX_WALK else str(self.files)
            return (f"{self.path.name}/ — folder, {count} file{'s' if self.files != 1 else ''}, "
                    f"{format_size(self.size)}")
        return f"{self.path.name} — {format_size(self.size)}"


def _folder_totals(folder: Path) -> tuple[int, int]:
    files = size = 0
    for root, _dirs, names in os.walk(folder):
        for name in names:
            try:
                info = os.lstat(os.path.join(root, name))
            except OSError:
                continue
            if stat.S_ISREG(info.st_mode):
                files += 1
                size += info.st_size
            if files >= MAX_WALK:
                return files, size
    return files, size


def inspect_path(path: Path) -> Queued:
    """What ``path`` is; raises ValueError with a sentence when it cannot be shared."""
    try:
        info = path.stat()
    except OSError as exc:
        raise ValueError(f"{path.name or path}: {exc.strerror or 'cannot be read'}.") from None
    if stat.S_ISDIR(info.st_mode):
        files, size = _folder_totals(path)
        return Queued(path, True, size, files)
    if not stat.S_ISREG(info.st_mode):
        raise ValueError(f"{path.name}: not a regular file or folder.")
    return Queued(path, False, info.st_size)


class FileQueue(QWidget):
    """The list of queued paths."""

    changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.list = QListWidget(self)
        self.list.setAccessibleName("Queued files")
        self.list.setSelectionMode(QListWidget.SelectionMode.ExtendedSelection)
        self.list.setMaximumHeight(self.list.fontMetrics().lineSpacing() * VISIBLE_ROWS + 8)
        self.remove_button = QPushButton("Re&move", self)
        self.remove_button.setToolTip("Take the selected items off the queue (Delete)")
        self.remove_button.setAccessibleName("Remove selected files")
        self.remove_button.setAutoDefault(False)
        self.remove_button.clicked.connect(self.remove_selected)
        self.clear_button = QPushButton("Clear all", self)
        self.clear_button.setAccessibleName("Remove all queued files")
        self.clear_button.setAutoDefault(False)
        self.clear_button.clicked.connect(self.clear)
        self.list.installEventFilter(self)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.remove_button)
        buttons.addWidget(self.clear_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.list)
        layout.addLayout(buttons)
        self._items: list[Queued] = []

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        """Delete or Backspace in the list removes the selected rows."""
        if (watched is self.list and event.type() == QEvent.Type.KeyPress and isinstance(event, QKeyEvent)
                and event.key() in (Qt.Key.Key_Delete, Qt.Key.Key_Backspace)):
            self.remove_selected()
            return True
        return super().eventFilter(watched, event)

    def add(self, paths: list[Path]) -> list[str]:
        """Queue ``paths`` (duplicates are skipped); returns a sentence for each one refused."""
        problems: list[str] = []
        for given in paths:
            path = Path(os.path.abspath(given))
            if any(item.path == path for item in self._items):
                continue
            if len(self._items) >= MAX_ITEMS:
                problems.append(f"At most {MAX_ITEMS} items can wait in the queue.")
                break
            try:
                queued = inspect_path(path)
            except ValueError as exc:
                problems.append(str(exc))
                continue
            self._items.append(queued)
            item = QListWidgetItem(queued.describe(), self.list)
            item.setToolTip(str(path))
            item.setData(Qt.ItemDataRole.UserRole, str(path))
        self.changed.emit()
        return problems

    def items(self) -> list[Queued]:
        """The queued paths, in order."""
        return list(self._items)

    def paths(self) -> list[Path]:
        """Just the paths."""
        return [item.path for item in self._items]

    def folders(self) -> list[Path]:
        """The queued folders (a link cannot carry them)."""
        return [item.path for item in self._items if item.is_folder]

    def remove(self, path: Path) -> None:
        """Take one path off the queue."""
        for row, item in enumerate(self._items):
            if item.path == path:
                del self._items[row]
                self.list.takeItem(row)
                self.changed.emit()
                return

    def remove_selected(self) -> None:
        """Take the selected rows off the queue."""
        for row in sorted((index.row() for index in self.list.selectedIndexes()), reverse=True):
            del self._items[row]
            self.list.takeItem(row)
        self.changed.emit()

    def clear(self) -> None:
        """Empty the queue."""
        self._items.clear()
        self.list.clear()
        self.changed.emit()

    def is_empty(self) -> bool:
        """Whether nothing is queued."""
        return not self._items
