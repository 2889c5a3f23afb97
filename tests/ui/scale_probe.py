"""Run as ``python -m tests.ui.scale_probe OTS_HOME``: the main window on the screen this process was given
(the test sets DISPLAY and QT_SCALE_FACTOR), with the Share button focused; prints what fits as JSON."""

from __future__ import annotations

import json
import sys
import time

from PySide6.QtCore import QPoint, QRect, Qt
from PySide6.QtWidgets import QApplication

from ots_desktop.core.paths import app_paths
from ots_desktop.ui.app import new_context
from ots_desktop.ui.main_window import MainWindow
from ots_desktop.ui.services import Services

DEADLINE_S = 20.0


def _wait(app: QApplication, done: object) -> None:
    deadline = time.monotonic() + DEADLINE_S
    while not done() and time.monotonic() < deadline:  # type: ignore[operator]
        app.processEvents()
    app.processEvents()


def main() -> None:
    app = QApplication(sys.argv[:1])
    ctx = new_context(Services(app_paths({"OTS_HOME": sys.argv[1]})))
    window = MainWindow(ctx)
    window.show()
    _wait(app, lambda: window.painted)
    window.activateWindow()
    share = window.send_page.share_button
    share.setFocus(Qt.FocusReason.TabFocusReason)
    _wait(app, share.hasFocus)
    screen = window.screen()
    free = screen.availableGeometry()
    shown = share.visibleRegion().boundingRect()
    corner = share.mapTo(window, QPoint(0, 0))
    inside = QRect(0, 0, window.width(), window.height()).contains(QRect(corner, share.size()))
    print(json.dumps({
        "scale": screen.devicePixelRatio(), "screen": [free.width(), free.height()],
        "frame": [window.frameGeometry().width(), window.frameGeometry().height()],
        "minimum": [window.minimumSizeHint().width(), window.minimumSizeHint().height()],
        "share_fully_visible": shown.size() == share.size() and inside,
    }))
    window.receive_page.shutdown()
    _wait(app, lambda: window.receive_page.idle)
    ctx.events.close()
    ctx.services.close()


if __name__ == "__main__":
    main()
