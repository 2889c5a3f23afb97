"""Where received files go: the folder chooser before a receive, the saved path after it."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QStandardPaths, Qt, QUrl, Signal
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import QFileDialog, QHBoxLayout, QLabel, QPushButton, QWidget


def default_folder() -> Path:
    """The user's Downloads folder if it exists, else the home folder."""
    location = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.DownloadLocation)
    if location and Path(location).is_dir():
        return Path(location)
    return Path.home()


class FolderChooser(QWidget):
    """Shows the folder received files are saved in, with "Save to…" to pick another."""

    changed = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.folder = default_folder()
        self.label = QLabel(self)
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.button = QPushButton("Save &to…", self)
        self.button.setAccessibleName("Choose the folder for received files")
        self.button.clicked.connect(self.choose)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.label, 1)
        layout.addWidget(self.button)
        self._show()

    def set_folder(self, folder: Path) -> None:
        """Save received files in ``folder`` from now on."""
        self.folder = folder
        self._show()
        self.changed.emit(str(folder))

    def choose(self) -> None:
        """Ask for a folder with the platform's dialog."""
        chosen = QFileDialog.getExistingDirectory(self, "Save received files in", str(self.folder))
        if chosen:
            self.set_folder(Path(chosen))

    def _show(self) -> None:
        self.label.setText(f"Files and folders are saved in {self.folder}")
        self.label.setAccessibleName(f"Save folder: {self.folder}")


class SavedView(QWidget):
    """What was saved, and a button that opens the folder holding it."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.path: Path | None = None
        self.label = QLabel(self)
        self.label.setWordWrap(True)
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.open_button = QPushButton("Open &folder", self)
        self.open_button.setAccessibleName("Open the folder holding what was received")
        self.open_button.clicked.connect(self.open_folder)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.label, 1)
        layout.addWidget(self.open_button)
        self.hide()

    def set_saved(self, path: Path, size: int) -> None:
        """Show ``path`` (a file, or a received folder) and its size."""
        self.path = path
        what = "folder" if path.is_dir() else "file"
        self.label.setText(f"Saved the {what} {path} ({size:,} bytes).")
        self.show()

    def clear(self) -> None:
        """Forget the last saved path."""
        self.path = None
        self.label.clear()
        self.hide()

    def folder(self) -> Path | None:
        """The folder to open: a received folder itself, or the folder holding a received file."""
        if self.path is None:
            return None
        return self.path if self.path.is_dir() else self.path.parent

    def open_folder(self) -> bool:
        """Open the folder in the file manager; False if the desktop could not."""
        folder = self.folder()
        return folder is not None and QDesktopServices.openUrl(QUrl.fromLocalFile(str(folder)))
