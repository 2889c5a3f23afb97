"""WCAG contrast of what the window draws, in the desktop's light palette and in a dark one.

The ratios come from the colours actually used: the palette the window derives (placeholder and empty-state
text, normal text) and pixels of a rendered field's border (the style sheet draws it from the palette; a spin
box's is painted over the style's frame).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication, QLabel, QWidget

from ots_desktop.ui.context import Level, UiContext
from ots_desktop.ui.contrast import banner_colours, contrast, level_colour, level_style, readable_palette
from ots_desktop.ui.main_window import MainWindow
from ots_desktop.ui.send.card import ShareCard
from tests.ui.window_support import main_window

Role = QPalette.ColorRole
UI = Path(__file__).resolve().parents[2] / "ots_desktop" / "ui"
LEVELS = ("success", "warning", "error")
DARK = {Role.Window: "#2d2d2d", Role.WindowText: "#e6e6e6", Role.Base: "#1e1e1e", Role.Text: "#e6e6e6",
        Role.Button: "#353535", Role.ButtonText: "#e6e6e6", Role.PlaceholderText: "#6e6e6e", Role.Dark: "#202020",
        Role.Mid: "#2a2a2a", Role.Light: "#505050", Role.Highlight: "#3d7bd9", Role.HighlightedText: "#ffffff"}


@pytest.fixture(params=["light", "dark"])
def window(request: pytest.FixtureRequest, qtbot: QtBot, ctx: UiContext) -> Iterator[MainWindow]:
    """The window started under the desktop's light palette or under a dark one."""
    original = QPalette(QApplication.palette())
    if request.param == "dark":
        QApplication.setPalette(_dark_palette())
    try:
        yield from main_window(qtbot, ctx)
    finally:
        QApplication.setPalette(original)


def _dark_palette() -> QPalette:
    palette = QPalette(QApplication.palette())
    for role, colour in DARK.items():
        palette.setColor(role, QColor(colour))
    return palette


def _border_colour(field: QWidget) -> QColor:
    """The colour of the field's left border, middle row, as drawn."""
    field.clearFocus()
    QApplication.processEvents()
    image = field.grab().toImage()
    return QColor(image.pixel(0, image.height() // 2))


def _check(window: MainWindow, what: str) -> None:
    edit = window.send_page.secret.edit
    palette = edit.palette()
    base, back = palette.color(Role.Base), window.palette().color(Role.Window)
    assert contrast(palette.color(Role.Text), base) >= 4.5, what
    assert contrast(window.palette().color(Role.WindowText), back) >= 4.5, what
    placeholder = palette.color(Role.PlaceholderText)
    assert contrast(placeholder, base) >= 4.5, f"{what}: placeholder {contrast(placeholder, base):.2f}:1"
    empty = next(label for label in window.send_page.card_list.findChildren(QLabel)
                 if label.text().startswith("Your shares"))
    colour = empty.palette().color(empty.foregroundRole())
    assert empty.isEnabled()
    assert contrast(colour, back) >= 4.5 and contrast(colour, base) >= 4.5, f"{what}: empty state"
    spins = (window.send_page.options.code_length, window.settings_page.code_length_spin)
    for field in (edit, window.send_page.options.label, window.receive_page.field, *spins):
        border = _border_colour(field)
        ratio = min(contrast(border, base), contrast(border, back))
        assert ratio >= 3.0, f"{what}: {field.accessibleName()} border {border.name()} {ratio:.2f}:1"


def test_light_and_dark_palettes_reach_the_wcag_ratios(window: MainWindow) -> None:
    dark = window.palette().color(Role.Window) == QColor(DARK[Role.Window])
    _check(window, "dark" if dark else "light")


def test_the_derived_palette_moves_only_what_falls_short() -> None:
    light = QPalette()
    for role, colour in {Role.Base: "#ffffff", Role.Window: "#efefef", Role.Text: "#000000",
                         Role.PlaceholderText: "#767676", Role.Dark: "#a0a0a0"}.items():
        light.setColor(role, QColor(colour))
    derived = readable_palette(light)
    assert contrast(derived.color(Role.PlaceholderText), QColor("#efefef")) >= 4.5
    assert contrast(derived.color(Role.Dark), QColor("#efefef")) >= 3.0
    assert derived.color(Role.Text) == QColor("#000000")  # text already passes: left alone
    assert abs(contrast(QColor("#ffffff"), QColor("#000000")) - 21.0) < 0.01


def _drawn(banner: QWidget, label: QWidget) -> tuple[QColor, QColor]:
    """The background the banner draws behind its text, and its text colour (the most common colour under the
    label, and the one farthest from it)."""
    QApplication.processEvents()
    image = banner.grab().toImage().copy(label.geometry())
    counts = Counter(image.pixel(x, y) for x in range(image.width()) for y in range(image.height()))
    background = QColor(counts.most_common(1)[0][0])
    text = max((QColor(pixel) for pixel in counts), key=lambda colour: contrast(colour, background))
    return background, text


def test_status_colours_come_from_the_palette(window: MainWindow) -> None:
    palette = QApplication.palette()
    back, base = palette.color(Role.Window), palette.color(Role.Base)
    dark = back == QColor(DARK[Role.Window])
    banner = window.send_page.banner
    for level in LEVELS:
        colour = level_colour(palette, level)
        assert min(contrast(colour, back), contrast(colour, base)) >= 4.5, f"{level}: {colour.name()}"
        assert level_style(level) == f"color: {colour.name()};"
        assert (colour.lightness() > back.lightness()) == dark  # light text on a dark window, and the reverse
        banner.show_message("The relay refused the link.", level)
        background, text = _drawn(banner, banner.label)
        assert background.name() == banner_colours(palette, level)[0].name(), level
        assert contrast(text, background) >= 4.5, f"{level} banner: {text.name()} on {background.name()}"
    assert level_colour(palette, "info") == palette.color(Role.WindowText)
    card = ShareCard("Walk", window)  # a share card's state line uses the same colours
    for level in Level:
        card.set_state("state", "A state.", level)
        assert card.status.styleSheet() == level_style(str(level))
    card.deleteLater()


def test_no_fixed_colours_outside_the_contrast_module() -> None:
    """Colours are derived from the palette (ui/contrast.py), so dark and high-contrast themes work."""
    literal = re.compile(r"#[0-9a-fA-F]{6}\b|#[0-9a-fA-F]{3}\b|QColor\(|rgba?\(")
    found = [f"{path.relative_to(UI)}:{number}: {line.strip()}" for path in sorted(UI.rglob("*.py"))
             if path.name != "contrast.py"
             for number, line in enumerate(path.read_text("utf-8").splitlines(), 1) if literal.search(line)]
    assert not found, "\n".join(found)


def test_a_shown_banner_follows_a_new_desktop_palette(qtbot: QtBot, ctx: UiContext) -> None:
    """Dark mode switched on while an error is shown: the banner and a card's state take the dark palette's
    colours."""
    original = QPalette(QApplication.palette())
    try:
        for window in main_window(qtbot, ctx):
            banner = window.send_page.banner
            banner.show_message("The relay refused the link.", "error")
            light_background, _ = _drawn(banner, banner.label)
            card = ShareCard("Walk", window)
            card.set_state("failed", "The relay refused the link.", Level.ERROR)
            light_state = card.status.styleSheet()
            QApplication.setPalette(_dark_palette())
            qtbot.waitUntil(lambda: QApplication.palette().color(Role.Window) == QColor(DARK[Role.Window]))
            background, text = _drawn(banner, banner.label)
            assert background.name() == banner_colours(QApplication.palette(), "error")[0].name()
            assert background.lightness() < light_background.lightness()
            assert contrast(text, background) >= 4.5, f"{text.name()} on {background.name()}"
            # A share card's state line (like the Settings and request notes) is coloured again too.
            assert card.status.styleSheet() == level_style("error") != light_state
            card.deleteLater()
    finally:
        QApplication.setPalette(original)
