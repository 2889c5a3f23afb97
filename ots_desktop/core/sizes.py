"""Byte sizes as people write them: ``10MiB``, ``512k``, ``1048576``."""

from __future__ import annotations

import re
import time
from collections.abc import Callable

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


def _left(seconds: float) -> str:
    if seconds < 60:
        return f"{max(1, round(seconds))} s left"
    if seconds < 3600:
        return f"{round(seconds / 60)} min left"
    return f"{seconds / 3600:.1f} h left"


class TransferRate:
    """How far one transfer is, how fast it goes and how long it has left, from when it started."""

    def __init__(self, total: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.total = total
        self._clock = clock
        self._started = clock()

    def describe(self, done: int) -> str:
        """``120 MiB of 300 MiB · 45.2 MiB/s · 4 s left`` (speed and time once there is something to go on)."""
        text = f"{format_size(done)} of {format_size(self.total)}"
        elapsed = self._clock() - self._started
        if done <= 0 or elapsed < 0.5:
            return text
        rate = done / elapsed
        text += f" · {format_size(int(rate))}/s"
        if done < self.total:
            text += f" · {_left((self.total - done) / rate)}"
        return text
