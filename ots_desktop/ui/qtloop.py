"""The one event loop of the desktop app: qasync's, with Twisted's reactor on it.

Order matters (see ``ots_desktop.runtime``): the QApplication first, then the qasync
loop, then the reactor. Windows gets a selector loop, which Twisted needs.
"""

from __future__ import annotations

import asyncio
import sys
from typing import Any

import qasync
from PySide6.QtWidgets import QApplication

from ots_desktop import runtime


def start_loop(app: QApplication, *, already_running: bool = False,
               install: bool = True) -> asyncio.AbstractEventLoop:
    """Build the qasync loop for ``app`` and make it current; install the reactor on it unless told not to.

    The app installs the reactor itself once its window is painted: importing Twisted
    takes a good part of the start, and nothing needs it before the user acts.
    """
    factory: Any = qasync.QSelectorEventLoop if sys.platform == "win32" else qasync.QEventLoop
    loop: asyncio.AbstractEventLoop = factory(app, already_running=already_running)
    asyncio.set_event_loop(loop)
    if install:
        runtime.install(loop)
    return loop
