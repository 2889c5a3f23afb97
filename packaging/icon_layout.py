"""Where every icon lives, at which sizes: read by ``render_icons.py`` and ``check.py``.

Standard library only, so the packaging check runs without Qt. The hand-written SVGs in
``resources/icons/`` are the sources; everything else listed here is rendered from them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

APP_ID = "dev.otsdesktop.ots-desktop"
"""The reverse-DNS id: Briefcase's bundle + app name, the .desktop file, AppStream and Wayland app id."""

APP_SIZES = (16, 24, 32, 48, 64, 128, 256, 512)
"""The app icon's PNG sizes (freedesktop hicolor, Briefcase, the window icon)."""

BRIEFCASE_SIZES = (16, 32, 64, 128, 256, 512)
"""The sizes Briefcase's Linux templates (system, AppImage, Flatpak) copy from ``<icon>-<size>.png``."""

TRAY_STATES = ("idle", "sharing", "alert")
TRAY_SIZES = (16, 22, 24, 32, 48)
"""Tray icon sizes: panels draw them at 16 to 24 px, at 32 or 48 on high-density screens."""

ICO_SIZES = (16, 24, 32, 48, 64, 128, 256)
"""The sizes inside the Windows ``.ico`` (256 is the largest an ICO entry can declare)."""

ICNS_TYPES = (
    ("icp4", 16), ("icp5", 32), ("icp6", 64), ("ic07", 128), ("ic08", 256), ("ic09", 512),
    ("ic11", 32), ("ic12", 64), ("ic13", 256), ("ic14", 512), ("ic10", 1024),
)
"""The macOS ``.icns`` entries (type code, pixel size); ic11 to ic14 and ic10 are the @2x variants."""

APP_SVG = "resources/icons/ots-desktop.svg"
BRIEFCASE_ICON = "resources/icons/ots-desktop"
"""The ``icon`` value in ``[tool.briefcase.app.ots-desktop]``: Briefcase adds ``-<size>.png``, ``.ico``, ``.icns``."""

ASSETS = "ots_desktop/ui/assets"
"""The runtime copies shipped inside the Python package (read by ``ots_desktop/ui/icons.py``)."""


def tray_svg(state: str) -> str:
    """The hand-written source of one tray state."""
    return f"resources/icons/tray/tray-{state}.svg"


@dataclass(frozen=True)
class Render:
    """One PNG rendered from an SVG at one size."""

    source: str
    size: int
    target: str


def renders() -> list[Render]:
    """Every PNG the render script writes, as paths relative to the repository root."""
    out: list[Render] = []
    for size in APP_SIZES:
        out.append(Render(APP_SVG, size, f"{BRIEFCASE_ICON}-{size}.png"))
        out.append(Render(APP_SVG, size, f"resources/icons/hicolor/{size}x{size}/apps/{APP_ID}.png"))
        out.append(Render(APP_SVG, size, f"{ASSETS}/ots-desktop-{size}.png"))
    for state in TRAY_STATES:
        for size in TRAY_SIZES:
            out.append(Render(tray_svg(state), size, f"resources/icons/tray/tray-{state}-{size}.png"))
            out.append(Render(tray_svg(state), size, f"{ASSETS}/tray-{state}-{size}.png"))
    return out


def copies() -> list[tuple[str, str]]:
    """SVGs copied verbatim: (source, target), relative to the repository root."""
    out = [
        (APP_SVG, f"resources/icons/hicolor/scalable/apps/{APP_ID}.svg"),
        (APP_SVG, f"{ASSETS}/ots-desktop.svg"),
    ]
    out += [(tray_svg(state), f"{ASSETS}/tray-{state}.svg") for state in TRAY_STATES]
    return out


ICO = f"{BRIEFCASE_ICON}.ico"
ICNS = f"{BRIEFCASE_ICON}.icns"
