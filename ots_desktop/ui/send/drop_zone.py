"""Where files, folders and text are dropped (or files chosen) to be shared.

Files and folders from this computer go to the queue; dropped text goes into the
masked secret field, never into a label or a log. Anything else (pictures, web
addresses, files on other machines) is refused before the drop, with a reason.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from PySide6.QtCore import QMimeData, Qt, Signal
from PySide6.QtGui import QDragEnterEvent, QDragMoveEvent, QDropEvent
from PySide6.QtWidgets import QFileDialog, QFrame, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

IDLE_STYLE = "#dropZone { border: 2px dashed palette(mid); border-radius: 8px; }"
HOVER_STYLE = ("#dropZone { border: 2px dashed palette(highlight); border-radius: 8px; "
               "background: palette(alternate-base); }")


@dataclass(frozen=True)
class DropContent:
    """What a drag carries, as far as sharing goes: local paths, or text, or the reason it is refused."""

    paths: list[Path] = field(default_factory=list)
    has_text: bool = False
    refusal: str = ""

    @property
    def acceptable(self) -> bool:
        """Whether the drop can be taken."""
        return not self.refusal


def read_drop(mime: QMimeData) -> DropContent:
    """Sort a drag's data into paths, text or a refusal (the text itself is read only on drop)."""
    if mime.hasUrls() and mime.urls():
        urls = mime.urls()
        if all(url.isLocalFile() for url in urls):
            return DropContent(paths=[Path(url.toLocalFile()) for url in urls])
        return DropContent(refusal="Only files and folders on this computer can be dropped here; paste text "
                                   "into the secret field instead.")
    if mime.hasText() and mime.text():
        return DropContent(has_text=True)
    return DropContent(refusal="This cannot be shared: drop files, a folder or text.")


class DropZone(QFrame):
    """The drop target, with Choose files… and Choose folder… buttons."""

    paths_dropped = Signal(list)  # list[Path]
    text_dropped = Signal(str)
    refused = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("dropZone")
        self.setAcceptDrops(True)
        self.setStyleSheet(IDLE_STYLE)
        self.setAccessibleName("Drop zone")
        self.setAccessibleDescription("Drop files, a folder or text to share")
        hint = QLabel("Drop files, a folder or text here", self)
        hint.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.choose_files_button = QPushButton("Choose &files…", self)
        self.choose_files_button.setAccessibleName("Choose files to share")
        self.choose_files_button.setAutoDefault(False)
        self.choose_files_button.clicked.connect(self.choose_files)
        self.choose_folder_button = QPushButton("Choose f&older…", self)
        self.choose_folder_button.setAccessibleName("Choose a folder to share")
        self.choose_folder_button.setAutoDefault(False)
        self.choose_folder_button.clicked.connect(self.choose_folder)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.choose_files_button)
        buttons.addWidget(self.choose_folder_button)
        buttons.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addWidget(hint)
        layout.addLayout(buttons)

    def _hover(self, on: bool) -> None:
        self.setStyleSheet(HOVER_STYLE if on else IDLE_STYLE)

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        """Accept local files, folders and text; refuse the rest, saying why."""
        content = read_drop(event.mimeData())
        if content.acceptable and _as_copy(event):
            self._hover(True)
        else:
            event.ignore()
            self.refused.emit(content.refusal or MOVE_ONLY)

    def dragMoveEvent(self, event: QDragMoveEvent) -> None:
        """Keep accepting what was accepted on entry."""
        if not (read_drop(event.mimeData()).acceptable and _as_copy(event)):
            event.ignore()

    def dragLeaveEvent(self, event: object) -> None:
        """Back to the idle look."""
        self._hover(False)

    def dropEvent(self, event: QDropEvent) -> None:
        """Hand the paths to the queue or the text to the secret field."""
        self._hover(False)
        mime = event.mimeData()
        content = read_drop(mime)
        if not content.acceptable:
            event.ignore()
            self.refused.emit(content.refusal)
            return
        if not _as_copy(event):
            event.ignore()
            self.refused.emit(MOVE_ONLY)
            return
        if content.paths:
            self.paths_dropped.emit(content.paths)
        else:
            self.text_dropped.emit(mime.text())

    def choose_files(self) -> None:
        """Pick files with the file dialog."""
        names, _filter = QFileDialog.getOpenFileNames(self, "Choose files to share")
        if names:
            self.paths_dropped.emit([Path(name) for name in names])

    def choose_folder(self) -> None:
        """Pick a folder (it goes by wormhole code, as a zip)."""
        name = QFileDialog.getExistingDirectory(self, "Choose a folder to share")
        if name:
            self.paths_dropped.emit([Path(name)])


MOVE_ONLY = "Only a copy can be dropped here: the original must stay where it is."


def _as_copy(event: QDropEvent) -> bool:
    """Accept the drop as a copy, never a move (a file manager would delete the original); False if it cannot be."""
    if not event.possibleActions() & Qt.DropAction.CopyAction:
        return False
    event.setDropAction(Qt.DropAction.CopyAction)
    event.accept()
    return True
