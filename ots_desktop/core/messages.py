"""Messages for people: every error and status is a clause in core and a sentence on screen."""

from __future__ import annotations


def sentence(text: str) -> str:
    """``text`` with a capital first letter and a closing full stop (unless it already ends a sentence)."""
    text = text.strip()
    if not text:
        return text
    text = text[:1].upper() + text[1:]
    return text if text.endswith((".", "!", "?", ")")) else text + "."
