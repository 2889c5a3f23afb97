"""A file's first reading before it is sent as a link, and the check that a later reading gives the same bytes.

The audit entry must be written before anything leaves this machine, with the file's
fingerprint in it, so a large file is read twice: once here for its fingerprint, once to
seal it (:mod:`ots_desktop.channels.link_send_stream`). The second reading must give the
same bytes. The check reuses the first reading's keyed BLAKE3: the fingerprint keeps 128
bits of it, the check all 256, which the second reading must reproduce (BLAKE3 resists
collisions even to someone who knows the key, and nobody who changes the file knows it).
So the first reading feeds one hash, about 0.13 s per GiB on one core, and it reads on one
thread while it hashes on another.

This module loads no HTTP code: the CLI starts the first reading (:func:`start_print`) and
loads the link channel while it runs.
"""

from __future__ import annotations

import concurrent.futures
import hmac
import queue
import stat
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from ots_desktop.core.audit.fingerprints import Hasher, text_of
from ots_desktop.core.audit.log import AuditLog
from ots_desktop.core.errors import InputError
from ots_desktop.core.secret import wipe

# The first reading's pieces: the reading thread fills one while the hashing thread takes another.
READ_PIECE = 4 * 1024 * 1024
_PIECES = 3
# The largest file a link carries. The relay decides what it takes (its --max-size); past this a wormhole is
# the better way.
MAX_FILE_BYTES = 4 * 1024 * 1024 * 1024
CHANGED = "the file changed while it was being sent, so nothing was shared: send it again once it is complete"


@dataclass(frozen=True)
class SourcePrint:
    """What the first reading of a source found: its audit fingerprint and length, and the full keyed
    BLAKE3 ``digest`` of its bytes that a later reading (fed to a copy of ``unfed``) must reproduce."""

    fingerprint: str
    size: int
    digest: bytes = field(repr=False)
    unfed: Hasher = field(repr=False)


def fingerprint_source(open_source: Callable[[], BinaryIO], audit: AuditLog) -> SourcePrint:
    """The audit fingerprint, length and change-check digest of what ``open_source()`` reads (a worker
    thread's job)."""
    hasher = audit.fingerprint_mac()
    unfed = hasher.copy()
    size = read_and_feed(open_source, hasher)
    return SourcePrint(text_of(hasher), size, hasher.digest(), unfed)


def read_and_feed(open_source: Callable[[], BinaryIO], hasher: Hasher) -> int:
    """Feed ``hasher`` everything ``open_source()`` reads, hashing each piece on a second thread while this
    one reads the next; the number of bytes read. Every piece buffer is wiped before this returns."""
    buffers = [bytearray(READ_PIECE) for _ in range(_PIECES)]
    free: queue.SimpleQueue[bytearray] = queue.SimpleQueue()
    full: queue.SimpleQueue[tuple[bytearray, int] | None] = queue.SimpleQueue()
    for buffer in buffers:
        free.put(buffer)

    failed: list[BaseException] = []

    def hash_pieces() -> None:  # on failure it keeps handing buffers back, so the reading never waits forever
        while (item := full.get()) is not None:
            buffer, n = item
            if not failed:
                try:
                    with memoryview(buffer)[:n] as piece:
                        hasher.update(piece)
                except BaseException as exc:  # noqa: BLE001 - raised on the reading thread below
                    failed.append(exc)
            free.put(buffer)

    worker = threading.Thread(target=hash_pieces, name="ots-first-reading-hash", daemon=True)
    worker.start()
    count = 0
    try:
        with open_source() as stream:
            while True:
                buffer = free.get()
                n = stream.readinto(buffer)  # type: ignore[attr-defined]
                if not n:
                    break
                full.put((buffer, n))
                count += n
    finally:
        full.put(None)
        worker.join()
        for buffer in buffers:
            wipe(buffer)
    if failed:
        raise failed[0]
    return count


class CheckedReader:
    """Reads the source for sealing and refuses, before the last chunk is sealed, one that changed."""

    def __init__(self, stream: BinaryIO, source: SourcePrint) -> None:
        self._stream = stream
        self._source = source
        self._check = source.unfed.copy()
        self._count = 0

    def readinto(self, buffer: memoryview) -> int:
        n = int(self._stream.readinto(buffer) or 0)  # type: ignore[attr-defined]
        self._count += n
        if self._count > self._source.size:
            raise InputError(CHANGED)
        if n:
            self._check.update(buffer[:n])
        elif self._count != self._source.size or not hmac.compare_digest(self._check.digest(), self._source.digest):
            raise InputError(CHANGED)
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
