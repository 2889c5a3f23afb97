"""Colours people can read (WCAG 2.1): text at 4.5:1 and control borders at 3:1 against their background.

The styles' own shades fall short (placeholder text 4.0:1, a disabled label used as an empty state 1.6:1,
field borders 1.9 to 2.3:1). Rather than fixed colours, which break dark and high-contrast themes, the
window's palette is derived from the desktop's: the placeholder colour and the border colour (the Dark role,
which the border style sheet draws with) move from where the theme put them towards the text colour just
far enough to pass, against both the field background (Base) and the window's (Window).
"""

from __future__ import annotations

from PySide6.QtGui import QColor, QGuiApplication, QPalette

TEXT_RATIO = 4.5
BORDER_RATIO = 3.0
_STEPS = 40
# The hue that marks each message level; the shade shown comes from the palette (level_colour), so the
# same hue reads on a light, a dark or a high-contrast theme. Info is the window's own text colour.
_HUES = {"info": "#1a73e8", "success": "#1e8e3e", "warning": "#b06000", "error": "#d93025"}
_TINT = 0.14  # how much of the hue a banner's background takes
_GROUPS = (QPalette.ColorGroup.Active, QPalette.ColorGroup.Inactive)
# Field borders in the derived Dark colour (written out: a style sheet's palette(dark) would read the
# application's palette, not the window's); the focused field keeps the highlight of FOCUS_STYLE, one pixel
# wider with one pixel less padding, so nothing moves.
# Spin boxes keep the style's frame (under a style sheet border their arrows shrink to a few pixels);
# ui/spin_box.py draws their border over it in the same derived Dark colour.
_BORDER_STYLE = (" QLineEdit, QPlainTextEdit {{ border: 1px solid {border}; border-radius: 3px;"
                 " padding: 2px; background: palette(base); }}"
                 " QLineEdit:focus, QPlainTextEdit:focus {{ border: 2px solid palette(highlight);"
                 " padding: 1px; }}"
                 " QComboBox {{ border: 1px solid {border}; border-radius: 3px; padding: 2px 7px; }}"
                 " QAbstractSpinBox QLineEdit, QComboBox QLineEdit {{ border: none; padding: 0px; }}")


def border_style(palette: QPalette) -> str:
    """The style sheet that draws field borders in ``palette``'s (derived) Dark colour."""
    return _BORDER_STYLE.format(border=palette.color(QPalette.ColorGroup.Active, QPalette.ColorRole.Dark).name())


def luminance(colour: QColor) -> float:
    """Relative luminance of an sRGB colour (WCAG 2.1)."""
    def channel(value: float) -> float:
        return value / 12.92 if value <= 0.04045 else ((value + 0.055) / 1.055) ** 2.4

    return (0.2126 * channel(colour.redF()) + 0.7152 * channel(colour.greenF())
            + 0.0722 * channel(colour.blueF()))


def contrast(first: QColor, second: QColor) -> float:
    """The WCAG contrast ratio of two colours, 1.0 to 21.0."""
    light, dark = sorted((luminance(first), luminance(second)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def _mix(start: QColor, end: QColor, share: float) -> QColor:
    return QColor.fromRgbF(start.redF() + (end.redF() - start.redF()) * share,
                           start.greenF() + (end.greenF() - start.greenF()) * share,
                           start.blueF() + (end.blueF() - start.blueF()) * share)


def _over(colour: QColor, background: QColor) -> QColor:
    """A translucent colour (themes often give placeholder text half the text's alpha) as seen on ``background``."""
    return _mix(background, colour, colour.alphaF())


def _towards(colour: QColor, target: QColor, backgrounds: list[QColor], ratio: float) -> QColor:
    """``colour`` moved towards ``target`` just far enough to reach ``ratio`` against every background."""
    for step in range(_STEPS + 1):
        candidate = _mix(colour, target, step / _STEPS)
        if all(contrast(candidate, background) >= ratio for background in backgrounds):
            return candidate
    return QColor(target)


def readable_palette(source: QPalette) -> QPalette:
    """``source`` with placeholder text at 4.5:1 and the border colour (Dark) at 3:1 on Base and Window."""
    palette = QPalette(source)
    for group in _GROUPS:
        text = palette.color(group, QPalette.ColorRole.Text)
        backgrounds = [palette.color(group, QPalette.ColorRole.Base), palette.color(group, QPalette.ColorRole.Window)]
        placeholder = _over(palette.color(group, QPalette.ColorRole.PlaceholderText), backgrounds[0])
        palette.setColor(group, QPalette.ColorRole.PlaceholderText,
                         _towards(placeholder, text, backgrounds, TEXT_RATIO))
        border = palette.color(group, QPalette.ColorRole.Dark)
        palette.setColor(group, QPalette.ColorRole.Dark, _towards(border, text, backgrounds, BORDER_RATIO))
    return palette


def level_colour(palette: QPalette, level: str) -> QColor:
    """Text for a message at ``level`` (info, success, warning, error): its hue, moved towards the text colour
    until it reads at 4.5:1 on the window and on the field background. Info text is the window's text colour."""
    text = palette.color(QPalette.ColorGroup.Active, QPalette.ColorRole.WindowText)
    if level not in _HUES or level == "info":
        return text
    backgrounds = [palette.color(QPalette.ColorGroup.Active, QPalette.ColorRole.Window),
                   palette.color(QPalette.ColorGroup.Active, QPalette.ColorRole.Base)]
    return _towards(QColor(_HUES[level]), text, backgrounds, TEXT_RATIO)


def level_style(level: str, palette: QPalette | None = None) -> str:
    """The style sheet that colours a label's text for ``level`` (in the application's palette by default)."""
    return f"color: {level_colour(palette or QGuiApplication.palette(), level).name()};"


def banner_colours(palette: QPalette, level: str) -> tuple[QColor, QColor]:
    """A banner's background (the window tinted with the level's hue) and its text and border colour (the hue,
    moved towards the text colour until it reads at 4.5:1 on that background)."""
    window = palette.color(QPalette.ColorGroup.Active, QPalette.ColorRole.Window)
    text = palette.color(QPalette.ColorGroup.Active, QPalette.ColorRole.WindowText)
    hue = QColor(_HUES.get(level, _HUES["info"]))
    background = _mix(window, hue, _TINT)
    return background, _towards(hue, text, [background], TEXT_RATIO)
