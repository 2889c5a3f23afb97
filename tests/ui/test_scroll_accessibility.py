"""A scroll area's accessible children: the same count whether its scroll bars show, nothing past the end.

Qt's own scroll-area interface lists only the visible scroll bars and reads its list without a bounds
check, so a client asking for a child that went away with a scroll bar crashed the app (see
ots_desktop/ui/scroll_accessibility.py; the crash itself, over the real bus, is in test_atspi_bus.py).
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys

import pytest
from pytestqt.qtbot import QtBot

from PySide6.QtGui import QAccessible
from PySide6.QtWidgets import QApplication, QLabel, QScrollArea, QVBoxLayout, QWidget

from ots_desktop.ui.context import UiContext
from ots_desktop.ui.page_tabs import PageArea
from ots_desktop.ui.scroll_accessibility import install_scroll_area_interfaces, scroll_area_interface
from ots_desktop.ui.send.card_list import CardList
from ots_desktop.ui.send.page import SendPage
from tests.conftest import Home
from tests.ui.conftest import make_context


@pytest.fixture(autouse=True)
def installed(qapp: QApplication) -> None:
    install_scroll_area_interfaces()


def tall_area(qtbot: QtBot) -> tuple[QScrollArea, QLabel]:
    area = QScrollArea()
    qtbot.addWidget(area)
    label = QLabel("a line\n" * 60)
    area.setWidget(label)
    area.setWidgetResizable(True)
    area.resize(200, 120)
    area.show()
    qtbot.waitExposed(area)
    return area, label


def test_the_child_count_stays_when_the_scroll_bar_goes_and_no_index_reads_past_the_end(qtbot: QtBot) -> None:
    area, label = tall_area(qtbot)
    iface = QAccessible.queryAccessibleInterface(area)
    assert iface is not None and iface.role() == QAccessible.Role.Client
    qtbot.waitUntil(lambda: area.verticalScrollBar().isVisible())
    shown = iface.childCount()
    children = [iface.child(index) for index in range(shown)]
    assert all(child is not None for child in children)
    assert area.viewport() in [child.object() for child in children if child is not None]
    label.setText("one line")  # the form shrinks: the scroll bar goes (what Clear all does to the queue)
    qtbot.waitUntil(lambda: not area.verticalScrollBar().isVisible())
    assert iface.childCount() == shown  # a client that read the count before still asks for valid indexes
    for index in (shown, shown + 1, 1000, -1):  # Qt's own interface read memory past its list here
        assert iface.child(index) is None
    bar_container = area.verticalScrollBar().parentWidget()
    hidden = [c for c in map(iface.child, range(shown)) if c is not None and c.object() is bar_container]
    assert hidden and hidden[0].state().invisible  # still listed, said to be hidden


def test_every_scroll_area_of_the_app_gets_it(qtbot: QtBot, isolated_home: Home, monkeypatch: pytest.MonkeyPatch,
                                              ui_loop: asyncio.AbstractEventLoop) -> None:
    ctx: UiContext = make_context(isolated_home.ots_home, None, monkeypatch)
    try:
        page = SendPage(ctx)
        qtbot.addWidget(page)
        host = QWidget()
        qtbot.addWidget(host)
        QVBoxLayout(host).addWidget(PageArea(QLabel("page"), host))
        areas = [*page.findChildren(QScrollArea), *host.findChildren(QScrollArea)]
        assert {type(area) for area in areas} >= {CardList, PageArea} and len(areas) >= 3  # the form's too
        for area in areas:
            iface = QAccessible.queryAccessibleInterface(area)
            assert iface is not None
            count = iface.childCount()
            assert count == len([w for w in area.children() if isinstance(w, QWidget) and not w.isWindow()])
            assert iface.child(count) is None
    finally:
        ctx.events.close()
        ctx.services.close()


def test_other_objects_are_left_to_qt(qapp: QApplication) -> None:
    assert scroll_area_interface("QLabel", QLabel()) is None
    assert scroll_area_interface("QObject", None) is None


def test_installing_before_the_application_exists_is_refused_with_the_reason() -> None:
    # A process of its own: this one has its QApplication already.
    done = subprocess.run([sys.executable, "-c", "from ots_desktop.ui.scroll_accessibility import "
                           "install_scroll_area_interfaces as i; i()"], capture_output=True, timeout=60, check=False,
                          env={**os.environ, "QT_QPA_PLATFORM": "offscreen"})
    assert done.returncode != 0
    assert b"RuntimeError: install_scroll_area_interfaces() needs the QApplication first" in done.stderr
