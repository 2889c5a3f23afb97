"""Check that the packaging is complete and consistent (run by ``.ci/packaging-check.sh``).

    python3 packaging/check.py [--root DIR]

Standard library only. It checks what the freedesktop validators cannot see: every icon exists at
its listed size with those pixel dimensions, the ICO and ICNS hold the sizes they should, every
screenshot the AppStream file names exists under ``docs/screenshots/``, and the app id, version,
icon and requirements agree between ``pyproject.toml``, the .desktop file and the AppStream file.
Prints one line per problem and exits 1 when there is any.
"""

from __future__ import annotations

import argparse
import configparser
import struct
import sys
import tomllib
import xml.etree.ElementTree as ET
from pathlib import Path, PurePosixPath
from typing import Any

import icon_layout as layout
from pins import pin_problems

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
SCREENSHOT_BASE = "https://otsdesktop.dev/docs/screenshots/"
"""Screenshot URLs in the AppStream file are this prefix plus a file name in ``docs/screenshots/``."""

DESKTOP_FILE = f"packaging/linux/{layout.APP_ID}.desktop"
METAINFO_FILE = f"packaging/linux/{layout.APP_ID}.metainfo.xml"
WM_CLASS = "ots-desktop"
"""What the app passes to ``setApplicationName``: Qt's X11 WM_CLASS, so StartupWMClass must match it."""


def png_size(path: Path) -> tuple[int, int] | None:
    """Width and height from a PNG's header, or None when the file is not a PNG."""
    try:
        head = path.read_bytes()[:24]
    except OSError:
        return None
    if len(head) < 24 or head[:8] != PNG_MAGIC or head[12:16] != b"IHDR":
        return None
    width, height = struct.unpack(">II", head[16:24])
    return width, height


def _ico_sizes(data: bytes) -> list[int] | None:
    if len(data) < 6:
        return None
    reserved, kind, count = struct.unpack("<HHH", data[:6])
    if reserved != 0 or kind != 1 or len(data) < 6 + 16 * count:
        return None
    sizes = []
    for index in range(count):
        width = data[6 + 16 * index]
        sizes.append(width or 256)
    return sizes


def _icns_codes(data: bytes) -> list[str] | None:
    if len(data) < 8 or data[:4] != b"icns" or struct.unpack(">I", data[4:8])[0] != len(data):
        return None
    codes, offset = [], 8
    while offset + 8 <= len(data):
        length = struct.unpack(">I", data[offset + 4:offset + 8])[0]
        if length < 8 or offset + length > len(data):
            return None
        codes.append(data[offset:offset + 4].decode("ascii", "replace"))
        offset += length
    return codes if offset == len(data) else None


def icon_problems(root: Path) -> list[str]:
    """Missing icons, icons with the wrong pixel size, and incomplete ICO/ICNS files."""
    problems = []
    sources = {layout.APP_SVG} | {layout.tray_svg(state) for state in layout.TRAY_STATES}
    for source in sorted(sources):
        if not (root / source).is_file():
            problems.append(f"{source}: missing (a hand-written source icon)")
    for item in layout.renders():
        size = png_size(root / item.target)
        if size is None:
            problems.append(f"{item.target}: missing or not a PNG")
        elif size != (item.size, item.size):
            problems.append(f"{item.target}: {size[0]}x{size[1]} px, expected {item.size}x{item.size}")
    for _source, copy in layout.copies():
        if not (root / copy).is_file():
            problems.append(f"{copy}: missing")
    ico = root / layout.ICO
    ico_sizes = _ico_sizes(ico.read_bytes()) if ico.is_file() else None
    if ico_sizes is None:
        problems.append(f"{layout.ICO}: missing or not an ICO file")
    elif sorted(ico_sizes) != sorted(layout.ICO_SIZES):
        problems.append(f"{layout.ICO}: sizes {sorted(ico_sizes)}, expected {list(layout.ICO_SIZES)}")
    icns = root / layout.ICNS
    codes = _icns_codes(icns.read_bytes()) if icns.is_file() else None
    if codes is None:
        problems.append(f"{layout.ICNS}: missing or not an ICNS file")
    elif sorted(codes) != sorted(code for code, _ in layout.ICNS_TYPES):
        expected = sorted(code for code, _ in layout.ICNS_TYPES)
        problems.append(f"{layout.ICNS}: entries {sorted(codes)}, expected {expected}")
    return problems


def screenshot_names(metainfo: Path) -> list[str]:
    """The image URLs the AppStream file lists, in order."""
    tree = ET.parse(metainfo)  # noqa: S314 - our own file, checked in
    return [(image.text or "").strip() for image in tree.getroot().iter("image")]


def screenshot_problems(root: Path) -> list[str]:
    """Screenshots named in the AppStream file that are not in ``docs/screenshots/`` as PNGs."""
    problems = []
    urls = screenshot_names(root / METAINFO_FILE)
    if not urls:
        problems.append(f"{METAINFO_FILE}: lists no screenshot")
    for url in urls:
        if not url.startswith(SCREENSHOT_BASE):
            problems.append(f"{METAINFO_FILE}: screenshot {url!r} is not under {SCREENSHOT_BASE}")
            continue
        name = PurePosixPath(url.removeprefix(SCREENSHOT_BASE))
        if len(name.parts) != 1 or name.suffix != ".png":
            problems.append(f"{METAINFO_FILE}: screenshot {url!r} does not name one PNG file")
            continue
        local = root / "docs" / "screenshots" / name.name
        if png_size(local) is None:
            problems.append(f"docs/screenshots/{name.name}: missing or not a PNG (named in {METAINFO_FILE})")
    return problems


def _briefcase(pyproject: dict[str, Any]) -> tuple[dict[str, Any], str, dict[str, Any]]:
    briefcase = pyproject.get("tool", {}).get("briefcase", {})
    apps = briefcase.get("app", {})
    if len(apps) != 1:
        return briefcase, "", {}
    name, app = next(iter(apps.items()))
    return briefcase, name, app


def metadata_problems(root: Path) -> list[str]:
    """Disagreements between pyproject.toml, the .desktop file and the AppStream file."""
    problems = []
    pyproject = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))
    project = pyproject.get("project", {})
    briefcase, name, app = _briefcase(pyproject)
    if not app:
        return ["pyproject.toml: [tool.briefcase.app] should define exactly one app"]
    if f"{briefcase.get('bundle')}.{name}" != layout.APP_ID:
        problems.append(f"pyproject.toml: bundle + app name is {briefcase.get('bundle')}.{name}, "
                        f"expected {layout.APP_ID}")
    if briefcase.get("version", project.get("version")) != project.get("version"):
        problems.append("pyproject.toml: [tool.briefcase] version differs from [project] version (leave it out)")
    if app.get("icon") != layout.BRIEFCASE_ICON:
        problems.append(f"pyproject.toml: app icon is {app.get('icon')!r}, expected {layout.BRIEFCASE_ICON!r}")
    problems.extend(pin_problems(root, pyproject))
    repeated = set(app.get("requires", [])) & set(project.get("dependencies", []))
    if repeated:
        problems.append(f"pyproject.toml: [tool.briefcase.app] requires repeats [project] dependencies "
                        f"{sorted(repeated)} (Briefcase already adds them)")
    for size in layout.BRIEFCASE_SIZES:
        if png_size(root / f"{layout.BRIEFCASE_ICON}-{size}.png") != (size, size):
            problems.append(f"{layout.BRIEFCASE_ICON}-{size}.png: Briefcase needs it at {size}x{size}")

    desktop = configparser.ConfigParser(interpolation=None, strict=True)
    desktop.optionxform = str  # type: ignore[assignment,method-assign]
    desktop.read(root / DESKTOP_FILE, encoding="utf-8")
    entry = desktop["Desktop Entry"] if desktop.has_section("Desktop Entry") else {}
    expected = {"Icon": layout.APP_ID, "StartupWMClass": WM_CLASS}
    for key, value in expected.items():
        if entry.get(key) != value:
            problems.append(f"{DESKTOP_FILE}: {key}={entry.get(key)}, expected {value}")
    if not str(entry.get("Exec", "")).endswith("%F"):
        problems.append(f"{DESKTOP_FILE}: Exec should end in %F, so dropped files reach the app")

    meta = ET.parse(root / METAINFO_FILE).getroot()  # noqa: S314 - our own file, checked in
    if meta.findtext("id") != layout.APP_ID:
        problems.append(f"{METAINFO_FILE}: id is {meta.findtext('id')}, expected {layout.APP_ID}")
    if meta.findtext("launchable") != f"{layout.APP_ID}.desktop":
        problems.append(f"{METAINFO_FILE}: launchable should be {layout.APP_ID}.desktop")
    releases = [release.get("version") for release in meta.iter("release")]
    if not releases or releases[0] != project.get("version"):
        problems.append(f"{METAINFO_FILE}: newest release is {releases[:1]}, expected {project.get('version')}")
    return problems


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description="Check the packaging files.")
    parser.add_argument("--root", type=Path, default=layout.ROOT, help="repository root (default: this checkout)")
    args = parser.parse_args(argv)
    problems = icon_problems(args.root) + screenshot_problems(args.root) + metadata_problems(args.root)
    for problem in problems:
        print(f"packaging: {problem}")
    if problems:
        return 1
    print(f"packaging: {len(layout.renders())} icons, the .ico, the .icns, screenshots and metadata are consistent")
    return 0


if __name__ == "__main__":
    sys.exit(main())
