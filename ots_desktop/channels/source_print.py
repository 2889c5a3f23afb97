"""A file's first reading before it is sent as a link, and the check that a later reading gives the same bytes.

The audit entry must be written before anything leaves this machine, with the file's
fingerprint in it, so a large file is read twice: once here for its fingerprint, once to
seal it (:mod:`ots_desktop.channels.link_send_stream`). The second reading must give the
same bytes. The check is a Poly1305 tag of each reading under a one-time random key that
never leaves this process (nobody who changes the file can see it, so no change can be made
to match it), cheaper than feeding the keyed fingerprint a second time (per GiB on one
core: Poly1305 about 0.10 s, the BLAKE3 fingerprint about 0.13 s).

This module loads no HTTP code: the CLI starts the first reading (:func:`start_print`) and
loads the link channel while it runs.
"""

from __future__ import annotations

import concurrent.futures
import secrets
import stat
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.poly1305 import Poly1305

from ots_desktop.core.audit.log import AuditLog
from ots_desktop.core.errors import InputError
from ots_desktop.core.secret import wipe

READ_PIECE = 1024 * 1024
# The largest file a link carries. The relay decides what it takes (its --max-size); past this a wormhole is
# the better way.
MAX_FILE_BYTES = 4 * 1024 * 1024 * 1024
CHANGED = "the file changed while it was being sent, so nothing was shared: send it again once it is complete"
_CHECK_KEY_LEN = 32


@dataclass(frozen=True)
class SourcePrint:
    """What the first reading of a source found: its audit fingerprint and length, and the Poly1305 tag of
    its bytes under ``check_key`` (random, used for this source only, never shown) that a later reading
    must reproduce."""

    fingerprint: str
    size: int
    check_key: bytes = field(repr=False)
    check_tag: bytes = field(repr=False)


def fingerprint_source(open_source: Callable[[], BinaryIO], audit: AuditLog) -> SourcePrint:
    """The audit fingerprint, length and change-check tag of what ``open_source()`` reads (a worker
    thread's job)."""
    mac = audit.fingerprint_mac()
    check_key = secrets.token_bytes(_CHECK_KEY_LEN)
    check = Poly1305(check_key)
    buffer = bytearray(READ_PIECE)
    count = 0
    try:
        with open_source() as stream:
            while n := stream.readinto(buffer):  # type: ignore[attr-defined]
                piece = memoryview(buffer)[:n]
                mac.update(piece)
                check.update(piece)
                count += n
    finally:
        wipe(buffer)
    return SourcePrint(AuditLog.fingerprint_of(mac), count, check_key, check.finalize())


class CheckedReader:
    """Reads the source for sealing and refuses, before the last chunk is sealed, one that changed."""

    def __init__(self, stream: BinaryIO, source: SourcePrint) -> None:
        self._stream = stream
        self._source = source
        self._check = Poly1305(source.check_key)
        self._count = 0

    def readinto(self, buffer: memoryview) -> int:
        n = int(self._stream.readinto(buffer) or 0)  # type: ignore[attr-defined]
        self._count += n
        if self._count > self._source.size:
            raise InputError(CHANGED)
        if n:
            self._check.update(buffer[:n])
        elif self._count != self._source.size:
            raise InputError(CHANGED)
        else:
            try:
                self._check.verify(self._source.check_tag)
            except InvalidSignature:
                raise InputError(CHANGED) from None
        return n


# A file larger than this is always streamed (relay_stream.STREAM_FROM is the envelope's threshold).
EARLY_FROM = 1024 * 1024


def start_print(path: Path, audit: AuditLog) -> concurrent.futures.Future[SourcePrint] | None:
    """Start the first reading of ``path`` on a thread of its own when it will be streamed (a regular file
    over ``EARLY_FROM`` bytes and at most ``MAX_FILE_BYTES``); None otherwise, and the send reads it itself."""
    try:
        info = path.stat()
    except OSError:
        return None
    if not stat.S_ISREG(info.st_mode) or not EARLY_FROM < info.st_size <= MAX_FILE_BYTES:
        return None
    future: concurrent.futures.Future[SourcePrint] = concurrent.futures.Future()

    def read() -> None:
        try:
            future.set_result(fingerprint_source(lambda: path.open("rb"), audit))
        except BaseException as exc:  # noqa: BLE001 - handed to whoever waits for the result
            future.set_exception(exc)

    threading.Thread(target=read, name="ots-first-reading", daemon=True).start()
    return future
