"""The peer of the cold-start benchmark: a bare PySide6 QMainWindow, quit after its first paint."""

from __future__ import annotations

import sys

from PySide6.QtCore import QTimer
from PySide6.QtGui import QPaintEvent
from PySide6.QtWidgets import QApplication, QLabel, QMainWindow


class Window(QMainWindow):
    """A window with one label that quits once painted."""

    def __init__(self) -> None:
        super().__init__()
        self.setCentralWidget(QLabel("bare window"))
        self.resize(760, 640)
        self._painted = False

    def paintEvent(self, event: QPaintEvent) -> None:
        super().paintEvent(event)
        if not self._painted:
            self._painted = True
            QTimer.singleShot(0, QApplication.quit)


def main() -> int:
    app = QApplication(sys.argv)
    window = Window()
    window.show()
    return app.exec()


if __name__ == "__main__":
    sys.exit(main())
