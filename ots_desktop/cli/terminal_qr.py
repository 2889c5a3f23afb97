"""A QR code for the terminal that scans whatever the terminal's colours.

Half-block characters put two rows of modules on one line. The colours are set
explicitly (black on bright white) rather than taken from the terminal, so a light
theme does not invert the code into one phone cameras cannot read.
"""

from __future__ import annotations

COLOURS = "\x1b[30;107m"  # black foreground, bright white background
RESET = "\x1b[0m"
_CELLS = {(True, True): "\u2588", (True, False): "\u2580", (False, True): "\u2584", (False, False): " "}


def terminal_qr(data: str, *, border: int = 2) -> str:
    """``data`` as a QR code (error correction M) drawn with half blocks in fixed colours."""
    import segno

    rows = [[bool(module) for module in row] for row in segno.make(data, error="m").matrix_iter(border=border)]
    if len(rows) % 2:
        rows.append([False] * len(rows[0]))
    lines = []
    for top, bottom in zip(rows[0::2], rows[1::2], strict=True):
        lines.append(COLOURS + "".join(_CELLS[pair] for pair in zip(top, bottom, strict=True)) + RESET)
    return "\n".join(lines) + "\n"
