"""Scroll areas as assistive technologies see them: a child list that cannot be read past its end.

Qt's own accessible interface for a ``QScrollArea`` (``QAccessibleScrollArea``, from
``QAccessibleAbstractScrollArea``) lists the viewport and only those scroll bars that are visible,
and its ``child(index)`` takes the list's entry without checking ``index``. An AT-SPI client reads a
node's child count and then asks for each child in separate D-Bus calls; when a scroll bar hides in
between (emptying the file queue shrinks the form, and its scroll bar goes), the client asks for an
index that no longer exists, Qt reads past the end of the list and treats what it finds there as a
``QObject``: the app dies with SIGSEGV in ``QAccessibleCache::idForObject`` (under gdb: frame 2 is
that ``child()``, with index 1 in a list of 1). Nothing the app does to the queue avoids it: any scroll
bar that comes or goes while a screen reader walks the window is enough.

So every ``QScrollArea`` here gets Qt's general widget interface (``QAccessibleWidget``) instead, with
the same role. It lists every child widget, the scroll bars' containers included whether shown or
not (a hidden one is reported with the invisible state), so the count does not change when a bar
comes or goes, and its ``child(index)`` returns nothing for an index out of range. Installed once,
right after the ``QApplication`` exists (a factory installed earlier is asked after Qt's own).
"""

from __future__ import annotations

from PySide6.QtCore import QObject
from PySide6.QtGui import QAccessible, QAccessibleInterface
from PySide6.QtWidgets import QAccessibleWidget, QApplication, QScrollArea

_MARK = "ots_scroll_area_interfaces"  # a property of the QApplication: installed for that application


def scroll_area_interface(_class_name: str, obj: QObject | None) -> QAccessibleInterface | None:
    """The accessible interface for ``obj`` if it is a scroll area; None leaves it to Qt."""
    if isinstance(obj, QScrollArea):
        return QAccessibleWidget(obj, QAccessible.Role.Client)
    return None


def install_scroll_area_interfaces() -> None:
    """Install ``scroll_area_interface`` as an accessibility factory (once per QApplication, which must exist)."""
    app = QApplication.instance()
    if app is None:
        raise RuntimeError("install_scroll_area_interfaces() needs the QApplication first: a factory "
                           "installed before it is asked after Qt's own and never used.")
    if app.property(_MARK):
        return
    QAccessible.installFactory(scroll_area_interface)
    app.setProperty(_MARK, True)
