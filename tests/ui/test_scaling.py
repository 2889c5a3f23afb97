"""The window on small and scaled screens: it opens inside the screen, its minimum size fits a 1366x768 laptop
at 1x, and at QT_SCALE_FACTOR=2 on a 1400x1000 screen the pages scroll (the focused Share button is brought
into view) instead of being clipped.

The 2x case runs in its own process on its own Xvfb (a scale factor is fixed when Qt starts).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from pytestqt.qtbot import QtBot

from ots_desktop.ui.context import UiContext
from tests.support.xserver import start_x
from tests.ui.window_support import main_window

PROBE_TIMEOUT_S = 90


def test_minimum_size_fits_a_1366x768_screen(qtbot: QtBot, ctx: UiContext) -> None:
    for window in main_window(qtbot, ctx):
        hint = window.minimumSizeHint()
        # Room for a title bar, a panel and a dock on a 1366x768 laptop.
        assert hint.width() <= 1000 and hint.height() <= 600, hint
        for index in range(window.tabs.count()):
            window.tabs.setCurrentIndex(index)
            assert window.minimumSizeHint().height() <= 600, (index, window.minimumSizeHint())


def test_at_scale_2_the_window_fits_the_screen_and_share_scrolls_into_view(tmp_path: Path) -> None:
    (tmp_path / "x").mkdir()
    session = start_x(tmp_path / "x", with_tray=False, screen="1400x1000")
    try:
        env = dict(os.environ, DISPLAY=session.display, QT_QPA_PLATFORM="xcb", QT_SCALE_FACTOR="2",
                   OTS_HOME=str(tmp_path / "ots"))
        result = subprocess.run([sys.executable, "-m", "tests.ui.scale_probe", str(tmp_path / "ots")], env=env,
                                capture_output=True, text=True, timeout=PROBE_TIMEOUT_S, check=False)
    finally:
        session.stop()
    assert result.returncode == 0, result.stderr[-2000:]
    seen = json.loads(result.stdout.strip().splitlines()[-1])
    assert seen["scale"] == 2.0, seen
    width, height = seen["screen"]  # in device-independent pixels: 700x500 on this screen
    assert seen["frame"][0] <= width and seen["frame"][1] <= height, seen
    assert seen["minimum"][0] <= width and seen["minimum"][1] <= height, seen
    assert seen["share_fully_visible"], seen
