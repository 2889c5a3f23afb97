"""Keyboard shortcuts named in text (tooltips, placeholders, Help) the way the system writes them.

Qt's ``Ctrl`` is the Command key on macOS, and Mac users read shortcuts as symbols in a fixed
order: Control, Option, Shift, Command, then the key (``Ctrl+Shift+V`` is Shift-Command-V,
written with the two symbols before V). Elsewhere the text stays as written.
"""

from __future__ import annotations

import re
import sys

_MAC_MODIFIERS = {"Meta": "\u2303", "Alt": "\u2325", "Shift": "\u21e7", "Ctrl": "\u2318"}  # fixed order
_MAC_KEYS = {"Enter": "\u21a9", "Return": "\u21a9", "Escape": "\u238b", "Backspace": "\u232b", "Delete": "\u2326",
             "Tab": "\u21e5"}
_SHORTCUT = re.compile(r"\b((?:(?:Ctrl|Shift|Alt|Meta)\+)+)(F\d{1,2}|[A-Z0-9]|Enter|Return|Escape|Backspace|Delete"
                       r"|Tab|Insert)\b")


def _mac(match: re.Match[str]) -> str:
    held = set(match.group(1).rstrip("+").split("+"))
    symbols = "".join(symbol for name, symbol in _MAC_MODIFIERS.items() if name in held)
    key = match.group(2)
    return symbols + _MAC_KEYS.get(key, key)


def native(text: str, platform: str = sys.platform) -> str:
    """``text`` with each shortcut in it (``Ctrl+E``, ``Ctrl+Shift+V``) written as ``platform`` writes it."""
    if platform != "darwin":
        return text
    return _SHORTCUT.sub(_mac, text)
