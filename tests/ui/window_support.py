"""The main window for a test, and answers to the modal dialogs it opens."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from pytestqt.qtbot import QtBot

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QWidget

from ots_desktop.ui.context import UiContext
from ots_desktop.ui.main_window import MainWindow

WAIT_MS = 15_000


def main_window(qtbot: QtBot, ctx: UiContext) -> Iterator[MainWindow]:
    """A shown, active main window on ``ctx``; its receive session is closed and waited for at the end."""
    window = MainWindow(ctx)
    window.show()
    qtbot.waitExposed(window)
    window.activateWindow()
    yield window
    window.receive_page.shutdown()
    qtbot.waitUntil(lambda: window.receive_page.idle, timeout=20_000)
    window.hide()
    window.deleteLater()


class ModalAnswer:
    """Answers the next modal dialog of type ``kind`` with ``answer`` (polled every 50 ms while it runs)."""

    def __init__(self, kind: type[QWidget], answer: Callable[[QWidget], str]) -> None:
        self.seen: list[str] = []
        self._kind = kind
        self._answer = answer
        self._timer = QTimer()
        self._timer.timeout.connect(self._poll)
        self._timer.start(50)

    def _poll(self) -> None:
        dialog = QApplication.activeModalWidget()
        if isinstance(dialog, self._kind):
            self.seen.append(self._answer(dialog))

    def wait(self, qtbot: QtBot) -> list[str]:
        """Wait until a dialog was answered; what each answer returned."""
        qtbot.waitUntil(lambda: bool(self.seen), timeout=WAIT_MS)
        self._timer.stop()
        return self.seen
