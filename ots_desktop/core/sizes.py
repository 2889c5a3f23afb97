"""Byte sizes as people write them: ``10MiB``, ``512k``, ``1048576``."""

from __future__ import annotations

import re

from ots_desktop.core.errors import InputError

_UNITS = {"": 1, "b": 1, "k": 1024, "kb": 1000, "kib": 1024, "m": 1024**2, "mb": 1000**2, "mib": 1024**2,
          "g": 1024**3, "gb": 1000**3, "gib": 1024**3}
_SIZE = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*")


def parse_size(text: str) -> int:
    """Bytes in ``text``: a number with an optional unit (k/M/G are powers of 1024, kB/MB/GB of 1000)."""
    match = _SIZE.fullmatch(text)
    unit = match.group(2).lower() if match else ""
    if not match or unit not in _UNITS:
        raise InputError(f"not a size: {text!r} (examples: 10MiB, 512k, 1048576)")
    return int(float(match.group(1)) * _UNITS[unit])


def format_size(size: int) -> str:
    """A short human form: ``10 MiB``, ``1.5 KiB``, ``12 bytes``."""
    value = float(size)
    for unit in ("bytes", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{size} bytes" if unit == "bytes" else f"{value:.3g} {unit}"
        value /= 1024
    return f"{size} bytes"
