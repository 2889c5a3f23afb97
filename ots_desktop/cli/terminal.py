"""The terminal the person at the keyboard is using: the one place that knows how to reach it on each OS.

Questions go to the terminal itself, not to stdin and stdout, so that ``ots send < file`` can still
ask "compare these words?" and be answered. On POSIX that is the controlling terminal ``/dev/tty``;
on Windows the console's own input and output, ``CONIN$`` and ``CONOUT$``. Hidden input (secrets and
passphrases) goes through :func:`getpass.getpass`, which does the same on each system (``/dev/tty`` with
echo off, or the console read key by key).
"""

from __future__ import annotations

import getpass
import os
import sys


def console_names(platform: str = sys.platform) -> tuple[str, str]:
    """(input, output) names of the terminal on ``platform``."""
    if platform == "win32":
        return "CONIN$", "CONOUT$"
    return "/dev/tty", "/dev/tty"


def have_terminal(platform: str = sys.platform) -> bool:
    """Whether this process can talk to a terminal (its controlling tty, or its console on Windows)."""
    name = console_names(platform)[0]
    flags = os.O_RDWR | getattr(os, "O_NOCTTY", 0) if platform != "win32" else os.O_RDONLY
    try:
        fd = os.open(name, flags)
    except OSError:
        return False
    os.close(fd)
    return True


def ask_yes_no(question: str, platform: str = sys.platform) -> bool:
    """A yes/no on the terminal (even when stdin is a pipe), on the calling thread; False without one.

    Only "y" or "yes" (any case) is a yes; anything else, or no terminal, is a no.
    """
    source, sink = console_names(platform)
    # Two plain streams: a text stream opened "r+" needs a seekable file, which a terminal is not.
    try:
        with open(sink, "w", encoding="utf-8") as out, open(source, encoding="utf-8") as inp:
            out.write(f"{question} [y/N] ")
            out.flush()
            answer = inp.readline().strip().lower()
    except OSError:
        return False
    return answer in ("y", "yes")


def read_hidden(prompt: str) -> bytearray:
    """Read one line with echo off; EOFError when the terminal is closed. The caller wipes the result."""
    return bytearray(getpass.getpass(prompt).encode("utf-8"))
