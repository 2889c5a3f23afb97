"""The app's icons, shipped as package data under ``ots_desktop/ui/assets``."""

from __future__ import annotations

import sys
from enum import StrEnum
from pathlib import Path

from PySide6.QtCore import QSize
from PySide6.QtGui import QIcon

ASSETS = Path(__file__).with_name("assets")
TRAY_SIZES = (16, 22, 24, 32, 48)


class TrayState(StrEnum):
    """What the tray icon says at a glance."""

    IDLE = "idle"
    SHARING = "sharing"
    ALERT = "alert"


def _icon(stem: str, sizes: tuple[int, ...]) -> QIcon:
    icon = QIcon()
    for size in sizes:
        png = ASSETS / f"{stem}-{size}.png"
        if png.is_file():
            icon.addFile(str(png), QSize(size, size))
    svg = ASSETS / f"{stem}.svg"
    if icon.isNull() and svg.is_file():
        icon.addFile(str(svg))
    return icon


def app_icon() -> QIcon:
    """The application icon."""
    return _icon("ots-desktop", (16, 24, 32, 48, 64, 128, 256, 512))


def tray_icon(state: TrayState, platform: str = sys.platform) -> QIcon:
    """The tray icon for ``state``.

    On macOS the idle icon is a template image (only its shape counts): the menu bar draws it in its own
    colour, light or dark. The sharing and alert icons keep their colour, which is what says "look".
    """
    icon = _icon(f"tray-{state.value}", TRAY_SIZES)
    if platform == "darwin" and state is TrayState.IDLE:
        icon.setIsMask(True)
    return icon
