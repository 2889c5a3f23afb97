"""The desktop window starts (offscreen Qt)."""

from __future__ import annotations

from pytestqt.qtbot import QtBot

from ots_desktop import __version__
from ots_desktop.ui.app import MainWindow


def test_main_window_shows_the_version(qtbot: QtBot) -> None:
    window = MainWindow()
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    assert window.windowTitle() == "ots-desktop"
    assert __version__ in window.centralWidget().text()  # type: ignore[attr-defined]
