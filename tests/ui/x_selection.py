"""CLIPBOARD and PRIMARY as another X client sees them (xclip), without blocking the app under test.

The app answers selection requests from its own event loop, so every xclip here runs as a
child process that ``qtbot`` waits on while Qt keeps processing events.
"""

from __future__ import annotations

import subprocess

from pytestqt.qtbot import QtBot

WAIT_MS = 15_000


class Owner:
    """Another application holding ``text`` in a selection (as if the user had copied or selected it there)."""

    def __init__(self, selection: str, text: bytes) -> None:
        self.proc = subprocess.Popen(["xclip", "-quiet", "-selection", selection, "-i"], stdin=subprocess.PIPE,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        assert self.proc.stdin is not None
        self.proc.stdin.write(text)
        self.proc.stdin.close()

    def stop(self) -> None:
        """Stop it by PID (it ends by itself once another client takes the selection)."""
        if self.proc.poll() is None:
            self.proc.terminate()
        self.proc.wait(10)


def read(qtbot: QtBot, selection: str, target: str | None = None) -> bytes | None:
    """What pasting from ``selection`` gives another client (None: nothing to paste)."""
    argv = ["xclip", "-o", "-selection", selection, *(["-t", target] if target else [])]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    qtbot.waitUntil(lambda: proc.poll() is not None, timeout=WAIT_MS)
    out = proc.stdout.read() if proc.stdout is not None else b""
    if proc.stdout is not None:
        proc.stdout.close()
    return out if proc.returncode == 0 else None


def own(qtbot: QtBot, selection: str, text: bytes) -> Owner:
    """Make another client own ``selection`` with ``text``, and wait until the X server says so."""
    owner = Owner(selection, text)
    qtbot.waitUntil(lambda: read(qtbot, selection) == text, timeout=WAIT_MS)
    return owner
