"""The terminal QR code: fixed colours on every line, and exactly the modules segno computes."""

from __future__ import annotations

import segno

from ots_desktop.cli.terminal_qr import COLOURS, RESET, terminal_qr

_DARK = {"\u2588": (True, True), "\u2580": (True, False), "\u2584": (False, True), " ": (False, False)}


def test_every_line_sets_its_own_colours_and_the_modules_match() -> None:
    data = "wormhole-transfer:7-crossover-clockwork-tiger"
    lines = terminal_qr(data).splitlines()
    assert all(line.startswith(COLOURS) and line.endswith(RESET) for line in lines)
    drawn: list[list[bool]] = []
    for line in lines:
        cells = line[len(COLOURS):-len(RESET)]
        drawn.extend([[_DARK[c][0] for c in cells], [_DARK[c][1] for c in cells]])
    expected = [[bool(m) for m in row] for row in segno.make(data, error="m").matrix_iter(border=2)]
    assert drawn[:len(expected)] == expected
    assert all(not module for row in drawn[len(expected):] for module in row)  # the padding row, if any
