"""The shipped icons load in Qt and stay legible at 16 px on light and on dark panels."""

from __future__ import annotations

import importlib.util
import shutil
import sys
from pathlib import Path
from types import ModuleType

import pytest

from PySide6.QtCore import QSize
from PySide6.QtGui import QColor, QIcon, QImage, QPainter
from PySide6.QtWidgets import QApplication

from ots_desktop.ui.icons import ASSETS, TRAY_SIZES, TrayState, app_icon, tray_icon

LIGHT_PANEL = "#efefef"  # the light panels of GNOME, KDE Breeze and Windows
DARK_PANEL = "#2b2b2b"  # their dark counterparts
MIN_CONTRAST = 3.0  # WCAG's ratio for graphical objects
MIN_CONTRASTING_SHARE = 0.12  # of the 16 x 16 pixels: about 30 pixels carry the shape
APP_SIZES = (16, 24, 32, 48, 64, 128, 256, 512)
ROOT = Path(__file__).resolve().parents[2]


def _script(name: str) -> ModuleType:
    """A script from packaging/, loaded by file (that directory is not a package).

    ``icon_layout`` and ``pins`` keep their own names (the other scripts import them by those names);
    the rest get an ``ots_packaging_`` prefix so they cannot clash with other modules.
    """
    as_name = name if name in ("icon_layout", "pins") else f"ots_packaging_{name}"
    if as_name not in sys.modules:
        spec = importlib.util.spec_from_file_location(as_name, ROOT / "packaging" / f"{name}.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[as_name] = module
        spec.loader.exec_module(module)
    return sys.modules[as_name]


def _luminance(color: QColor) -> float:
    def channel(value: int) -> float:
        v = value / 255
        return v / 12.92 if v <= 0.03928 else ((v + 0.055) / 1.055) ** 2.4

    return 0.2126 * channel(color.red()) + 0.7152 * channel(color.green()) + 0.0722 * channel(color.blue())


def _contrast(a: QColor, b: QColor) -> float:
    high, low = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def _image(icon: QIcon, size: int) -> QImage:
    return icon.pixmap(QSize(size, size)).toImage().convertToFormat(QImage.Format.Format_ARGB32)


def _on_panel(image: QImage, panel: str) -> QImage:
    out = QImage(image.size(), QImage.Format.Format_ARGB32)
    out.fill(QColor(panel))
    painter = QPainter(out)
    painter.drawImage(0, 0, image)
    painter.end()
    return out


def _pixels(image: QImage) -> list[QColor]:
    return [QColor.fromRgba(image.pixel(x, y)) for y in range(image.height()) for x in range(image.width())]


def _coverage(image: QImage) -> float:
    pixels = _pixels(image)
    return sum(1 for p in pixels if p.alpha() > 128) / len(pixels)


def _contrasting_share(image: QImage, panel: str) -> float:
    """The share of pixels that stand out from the panel (contrast ratio >= 3 against it)."""
    pixels = _pixels(_on_panel(image, panel))
    background = QColor(panel)
    return sum(1 for p in pixels if _contrast(p, background) >= MIN_CONTRAST) / len(pixels)


@pytest.fixture
def app(qapp: QApplication) -> QApplication:
    return qapp


def test_every_runtime_icon_file_is_shipped_in_the_package() -> None:
    names = {"ots-desktop.svg", *(f"ots-desktop-{s}.png" for s in APP_SIZES)}
    for state in TrayState:
        names |= {f"tray-{state.value}.svg", *(f"tray-{state.value}-{s}.png" for s in TRAY_SIZES)}
    missing = sorted(name for name in names if not (ASSETS / name).is_file())
    assert missing == []


def test_every_png_decodes_in_qt_at_its_size(app: QApplication) -> None:
    for size in APP_SIZES:
        assert QImage(str(ASSETS / f"ots-desktop-{size}.png")).size() == QSize(size, size)
    for state in TrayState:
        for size in TRAY_SIZES:
            image = QImage(str(ASSETS / f"tray-{state.value}-{size}.png"))
            assert image.size() == QSize(size, size) and image.hasAlphaChannel(), (state, size)


def test_the_icons_render_at_every_size(app: QApplication) -> None:
    assert not app_icon().isNull()
    for size in APP_SIZES:
        assert _coverage(_image(app_icon(), size)) >= 0.4, size
    for state in TrayState:
        tray = tray_icon(state)
        assert not tray.isNull(), state
        for size in TRAY_SIZES:
            image = _image(tray, size)
            assert image.size() == QSize(size, size) and _coverage(image) >= 0.25, (state, size)


@pytest.mark.parametrize("state", list(TrayState))
@pytest.mark.parametrize("panel", [LIGHT_PANEL, DARK_PANEL])
def test_each_tray_icon_is_legible_at_16px(app: QApplication, state: TrayState, panel: str) -> None:
    image = _image(tray_icon(state), 16)
    assert 0.25 <= _coverage(image) <= 0.85  # a shape, neither a speck nor a filled square
    assert _contrasting_share(image, panel) >= MIN_CONTRASTING_SHARE


@pytest.mark.parametrize("panel", [LIGHT_PANEL, DARK_PANEL])
def test_the_app_icon_is_legible_at_16px(app: QApplication, panel: str) -> None:
    image = _image(app_icon(), 16)
    assert _coverage(image) >= 0.4
    assert _contrasting_share(image, panel) >= MIN_CONTRASTING_SHARE


def test_the_legibility_measure_rejects_a_glyph_without_a_halo(app: QApplication, tmp_path: Path) -> None:
    svg = (ASSETS / "tray-idle.svg").read_text(encoding="utf-8")
    start = svg.index('<g fill="#1c2128"')
    bare = svg[:start] + svg[svg.index("</g>", start) + len("</g>"):]  # the white key alone
    (tmp_path / "bare.svg").write_text(bare, encoding="utf-8")
    image = _image(QIcon(str(tmp_path / "bare.svg")), 16)
    assert _contrasting_share(image, LIGHT_PANEL) < MIN_CONTRASTING_SHARE  # lost on a light panel
    assert _contrasting_share(_image(tray_icon(TrayState.IDLE), 16), LIGHT_PANEL) >= MIN_CONTRASTING_SHARE


def test_the_three_tray_states_differ_at_16px(app: QApplication) -> None:
    images = {state: _pixels(_on_panel(_image(tray_icon(state), 16), DARK_PANEL)) for state in TrayState}
    states = list(TrayState)
    for index, first in enumerate(states):
        for second in states[index + 1:]:
            changed = sum(1 for a, b in zip(images[first], images[second], strict=True)
                          if max(abs(a.red() - b.red()), abs(a.green() - b.green()), abs(a.blue() - b.blue())) > 64)
            assert changed >= 12, (first, second, changed)


def test_the_committed_renders_match_their_svg_sources(app: QApplication) -> None:
    _script("icon_layout")  # before the scripts that import it
    assert _script("render_icons").run(ROOT, check=True) == []


def test_rendering_from_the_sources_alone_gives_the_complete_set(app: QApplication, tmp_path: Path) -> None:
    layout = _script("icon_layout")  # before the scripts that import it
    for source in {layout.APP_SVG, *(layout.tray_svg(state) for state in layout.TRAY_STATES)}:
        (tmp_path / source).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / source, tmp_path / source)
    assert _script("render_icons").run(tmp_path, check=False) == []
    _script("pins")  # check.py imports it
    assert _script("check").icon_problems(tmp_path) == []  # sizes, ICO entries and ICNS codes as listed
