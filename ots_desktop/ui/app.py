"""``ots-desktop``: start the desktop app."""

from __future__ import annotations

import sys

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QLabel, QMainWindow

from ots_desktop import __version__
from ots_desktop.core.hardening import harden_process


class MainWindow(QMainWindow):
    """The main window. Sending, receiving and the audit view arrive here."""

    def __init__(self) -> None:
        super().__init__()
        self.setWindowTitle("ots-desktop")
        label = QLabel(f"ots-desktop {__version__}\n\nUse the `ots` command to review the audit log.")
        label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.setCentralWidget(label)
        self.resize(520, 360)


def main(argv: list[str] | None = None) -> int:
    """Console-script entry point."""
    harden_process()
    app = QApplication(sys.argv if argv is None else argv)
    app.setApplicationName("ots-desktop")
    app.setApplicationVersion(__version__)
    window = MainWindow()
    window.show()
    return int(app.exec())
