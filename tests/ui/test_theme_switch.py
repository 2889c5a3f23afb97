"""The desktop switches between light and dark while the window is open.

The window re-derives its readable palette on ``ApplicationPaletteChange`` (main_window.py). Here the
desktop's switch is the application palette being replaced, as the platform theme does on a real desktop
(the offscreen platform has no theme of its own to switch). The ratios are checked after each switch,
borders from rendered pixels, with the checks of test_contrast.py.
"""

from __future__ import annotations

from pytestqt.qtbot import QtBot

from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication

from ots_desktop.ui.context import UiContext
from tests.ui.test_contrast import DARK, _check, _dark_palette
from tests.ui.window_support import main_window

Role = QPalette.ColorRole


def test_switching_light_dark_light_keeps_the_ratios(qtbot: QtBot, ctx: UiContext) -> None:
    light = QPalette(QApplication.palette())
    windows = main_window(qtbot, ctx)
    window = next(windows)
    try:
        _check(window, "light at start")
        placeholder_light = window.send_page.secret.edit.palette().color(Role.PlaceholderText)
        QApplication.setPalette(_dark_palette())
        qtbot.waitUntil(lambda: window.palette().color(Role.Window) == QColor(DARK[Role.Window]), timeout=5000)
        _check(window, "dark after the switch")
        # The placeholder was re-derived for the dark field, not kept from the light one.
        assert window.send_page.secret.edit.palette().color(Role.PlaceholderText) != placeholder_light
        QApplication.setPalette(light)
        qtbot.waitUntil(lambda: window.palette().color(Role.Window) == light.color(Role.Window), timeout=5000)
        _check(window, "light again")
    finally:
        QApplication.setPalette(light)
        for _ in windows:
            pass
