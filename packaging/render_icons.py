"""Render the hand-written SVG icons into every PNG, ICO and ICNS the app and its packages use.

    .venv/bin/python packaging/render_icons.py           # rewrite every rendered file
    .venv/bin/python packaging/render_icons.py --check   # exit 1 when a rendered file is missing or stale

The list of outputs is in ``icon_layout.py``. Rendering uses Qt's own SVG renderer (the one the app
uses at run time) on the offscreen platform, so no display is needed.
"""

from __future__ import annotations

import argparse
import os
import shutil
import struct
import sys
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import icon_layout as layout

from PySide6.QtCore import QBuffer, QByteArray, QIODevice, QRectF, Qt
from PySide6.QtGui import QGuiApplication, QImage, QPainter
from PySide6.QtSvg import QSvgRenderer

TOLERANCE = 8
"""Largest per-channel difference (0-255) ``--check`` accepts: anti-aliasing differs slightly between builds."""


def render(svg: Path, size: int) -> QImage:
    """The SVG drawn into a transparent ``size`` x ``size`` image."""
    renderer = QSvgRenderer(str(svg))
    if not renderer.isValid():
        raise SystemExit(f"{svg}: not a valid SVG")
    image = QImage(size, size, QImage.Format.Format_ARGB32_Premultiplied)
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
    renderer.render(painter, QRectF(0, 0, size, size))
    painter.end()
    return image.convertToFormat(QImage.Format.Format_ARGB32)


def png_bytes(image: QImage) -> bytes:
    """The image encoded as PNG."""
    data = QByteArray()
    buffer = QBuffer(data)
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    if not image.save(buffer, "PNG"):  # type: ignore[call-overload]  # PySide6 takes a str here, its stubs say bytes
        raise SystemExit("PNG encoding failed")
    buffer.close()
    return bytes(data.data())


def ico_bytes(pngs: dict[int, bytes]) -> bytes:
    """A Windows icon holding one PNG-compressed entry per size (supported since Windows Vista)."""
    sizes = sorted(pngs)
    header = struct.pack("<HHH", 0, 1, len(sizes))
    offset = len(header) + 16 * len(sizes)
    entries, payload = b"", b""
    for size in sizes:
        data = pngs[size]
        dim = 0 if size >= 256 else size  # 0 means 256 in an ICO directory entry
        entries += struct.pack("<BBBBHHII", dim, dim, 0, 0, 1, 32, len(data), offset + len(payload))
        payload += data
    return header + entries + payload


def icns_bytes(pngs: dict[int, bytes]) -> bytes:
    """A macOS icon family with PNG entries for each type code in ``ICNS_TYPES``."""
    body = b""
    for code, size in layout.ICNS_TYPES:
        data = pngs[size]
        body += code.encode("ascii") + struct.pack(">I", 8 + len(data)) + data
    return b"icns" + struct.pack(">I", 8 + len(body)) + body


def _differs(existing: Path, expected: QImage) -> bool:
    current = QImage(str(existing))
    if current.isNull() or current.size() != expected.size():
        return True
    current = current.convertToFormat(QImage.Format.Format_ARGB32)
    for y in range(expected.height()):
        for x in range(expected.width()):
            a, b = current.pixel(x, y), expected.pixel(x, y)
            if any(abs(((a >> s) & 0xFF) - ((b >> s) & 0xFF)) > TOLERANCE for s in (0, 8, 16, 24)):
                return True
    return False


def run(root: Path, check: bool) -> list[str]:
    """Render (or with ``check``, compare) every output; returns the paths that were stale or missing."""
    stale: list[str] = []
    cache: dict[tuple[str, int], QImage] = {}

    def image(source: str, size: int) -> QImage:
        if (source, size) not in cache:
            cache[source, size] = render(root / source, size)
        return cache[source, size]

    for item in layout.renders():
        target = root / item.target
        expected = image(item.source, item.size)
        if check:
            if not target.is_file() or _differs(target, expected):
                stale.append(item.target)
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(png_bytes(expected))
    for source, copy in layout.copies():
        target = root / copy
        if check:
            if not target.is_file() or target.read_bytes() != (root / source).read_bytes():
                stale.append(copy)
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(root / source, target)
    for name in (layout.ICO, layout.ICNS):
        target = root / name
        if check:
            if not target.is_file():
                stale.append(name)
            continue
        if name == layout.ICO:
            data = ico_bytes({s: png_bytes(image(layout.APP_SVG, s)) for s in layout.ICO_SIZES})
        else:
            data = icns_bytes({s: png_bytes(image(layout.APP_SVG, s)) for _, s in layout.ICNS_TYPES})
        target.write_bytes(data)
    return stale


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only report missing or stale renders")
    parser.add_argument("--root", type=Path, default=layout.ROOT, help="repository root (default: this checkout)")
    args = parser.parse_args(argv)
    app = QGuiApplication.instance() or QGuiApplication(sys.argv[:1])
    stale = run(args.root, args.check)
    app.processEvents()
    if args.check:
        for path in stale:
            print(f"stale or missing: {path} (run packaging/render_icons.py)")
        return 1 if stale else 0
    print(f"rendered {len(layout.renders())} PNGs, {len(layout.copies())} SVG copies, ICO and ICNS")
    return 0


if __name__ == "__main__":
    sys.exit(main())
