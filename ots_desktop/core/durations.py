"""Human durations such as ``90s``, ``15m``, ``1h`` or ``7d``."""

from __future__ import annotations

import re

from ots_desktop.core.errors import InputError

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_PATTERN = re.compile(r"^\s*(\d+)\s*([smhdw]?)\s*$")


def parse_duration(text: str) -> int:
    """Seconds in ``text``: a whole number with an optional unit s, m, h, d or w."""
    match = _PATTERN.match(text.lower())
    if not match:
        raise InputError(f"{text!r} is not a duration; use a number with s, m, h, d or w (for example 1h)")
    value, unit = match.groups()
    return int(value) * _UNITS[unit or "s"]


def format_duration(seconds: int) -> str:
    """The shortest exact human form of ``seconds`` (``3600`` gives ``1h``)."""
    for unit in ("w", "d", "h", "m"):
        size = _UNITS[unit]
        if seconds and seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"
