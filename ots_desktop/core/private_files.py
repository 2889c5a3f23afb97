"""Every file ots creates is opened here: private, binary, and never through a link, on every system.

Three platform differences meet in one place:

- On Windows a descriptor from ``os.open`` is in *text mode* unless ``O_BINARY`` is given, and the C
  runtime then writes every ``\\n`` as ``\\r\\n``: a TOML or JSON file, a received file or a signed export
  would be changed on its way to disk. Every open here asks for binary mode.
- ``O_NOFOLLOW`` (POSIX) refuses a symbolic link planted where a new file should go; Windows has no
  such flag, and there the exclusive create (``O_EXCL``) is what refuses anything already there.
- ``O_NOINHERIT`` (Windows) and ``O_CLOEXEC`` (POSIX) keep the descriptor out of child processes.

Text is always written as UTF-8 bytes with ``\\n`` line ends, whatever the system's convention.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import BinaryIO

BINARY = getattr(os, "O_BINARY", 0)
NOINHERIT = getattr(os, "O_NOINHERIT", 0) | getattr(os, "O_CLOEXEC", 0)
NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
PRIVATE = 0o600


def flags(*, create: bool = True, exclusive: bool = False, truncate: bool = False, append: bool = False,
          read: bool = False) -> int:
    """The ``os.open`` flags for one of ots' own files (always binary, never inherited or following a link)."""
    mode = os.O_RDWR if read else os.O_WRONLY
    if create:
        mode |= os.O_CREAT
    if exclusive:
        mode |= os.O_EXCL
    if truncate:
        mode |= os.O_TRUNC
    if append:
        mode |= os.O_APPEND
    return mode | BINARY | NOINHERIT | NOFOLLOW


def open_private(path: Path | str, *, create: bool = True, exclusive: bool = False, truncate: bool = False,
                 append: bool = False, read: bool = False) -> int:
    """Open ``path`` for writing (created 0600 when ``create``); returns the descriptor, which the caller closes."""
    return os.open(path, flags(create=create, exclusive=exclusive, truncate=truncate, append=append, read=read),
                   PRIVATE)


def private_stream(path: Path | str, *, exclusive: bool = False, truncate: bool = False,
                   create: bool = True) -> BinaryIO:
    """:func:`open_private` as a binary file object (closing it closes the descriptor)."""
    fd = open_private(path, exclusive=exclusive, truncate=truncate, create=create)
    try:
        return os.fdopen(fd, "wb")
    except BaseException:
        os.close(fd)
        raise


def ensure_private(path: Path, *, tighten: bool = False) -> None:
    """Create ``path`` empty (0600, its folder 0700) if it is missing; ``tighten`` makes an existing one 0600."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = open_private(path)
    try:
        if tighten and hasattr(os, "fchmod"):
            os.fchmod(fd, PRIVATE)
    finally:
        os.close(fd)


def create_new(path: Path) -> None:
    """Create ``path`` empty and 0600, failing with FileExistsError if anything is there (a link included)."""
    os.close(open_private(path, exclusive=True))


def write_bytes(path: Path, data: bytes | memoryview, *, exclusive: bool = False, sync: bool = True) -> None:
    """Write ``data`` to ``path`` (0600, replacing its content unless ``exclusive``); ``sync``: fsync it too."""
    with private_stream(path, exclusive=exclusive, truncate=not exclusive) as handle:
        handle.write(data)
        if sync:
            handle.flush()
            os.fsync(handle.fileno())


def write_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` as UTF-8 with ``\\n`` line ends (0600) and sync it."""
    write_bytes(path, text.encode("utf-8"))


def replace_text(path: Path, text: str, *, tmp_suffix: str = ".tmp") -> None:
    """Replace ``path`` with ``text`` atomically: written and synced beside it, then renamed over it."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(path.name + tmp_suffix)
    try:
        write_text(tmp, text)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


def sync_folder(folder: Path) -> None:
    """fsync ``folder`` so that renames and unlinks in it survive a crash (Windows cannot open a folder: no-op)."""
    if os.name == "nt":
        return
    fd = os.open(folder, os.O_RDONLY | NOINHERIT)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
