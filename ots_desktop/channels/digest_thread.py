"""Feeding a keyed hash on a thread of its own, so that hashing a large file overlaps the rest of its work.

The audit fingerprint of a file (HMAC-SHA256) is the costliest step per byte of sending or
receiving one as a link: several times the cost of AES-GCM. :class:`DigestThread` takes a
copy of each piece (``write``) and feeds it to the hash on its own thread, while the caller
goes on reading, sealing, decrypting or writing the next piece: on two cores both run at
once (the hash releases the GIL for large updates). Pieces wait in at most ``SLOTS``
buffers, so memory stays bounded; the buffers are wiped when it closes.
"""

from __future__ import annotations

import queue
import threading
from typing import Protocol

from ots_desktop.core.secret import wipe

SLOTS = 4


class Hash(Protocol):
    """What a hash (``hmac.HMAC``, ``hashlib`` objects) offers here."""

    def update(self, data: memoryview, /) -> None: ...


class DigestThread:
    """``write`` copies a piece and returns; the hash gets it on this object's thread, in order.

    ``finish`` waits until every piece is in the hash; ``close`` (or leaving the ``with``
    block) also stops the thread and wipes the buffers, and is safe to call twice.
    """

    def __init__(self, digest: Hash) -> None:
        self.digest = digest
        self._slots = [bytearray() for _ in range(SLOTS)]
        self._free: queue.SimpleQueue[int] = queue.SimpleQueue()
        for index in range(SLOTS):
            self._free.put(index)
        self._full: queue.SimpleQueue[tuple[int, int] | None] = queue.SimpleQueue()
        self._error: BaseException | None = None
        self._thread: threading.Thread | None = threading.Thread(target=self._run, name="ots-digest", daemon=True)
        self._thread.start()

    def __enter__(self) -> DigestThread:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def write(self, data: memoryview | bytes | bytearray) -> int:
        """Hand over a copy of ``data``; blocks while every buffer waits for the hash."""
        if self._thread is None:
            raise ValueError("the digest thread is closed")
        index = self._free.get()
        if self._error is not None:
            self._free.put(index)
            raise self._error
        size = len(data)
        if len(self._slots[index]) < size:
            wipe(self._slots[index])
            self._slots[index] = bytearray(size)
        self._slots[index][:size] = data
        self._full.put((index, size))
        return size

    def finish(self) -> None:
        """Wait until the hash has every piece written so far (then read it); raise what hashing raised."""
        self._stop()
        if self._error is not None:
            raise self._error

    def close(self) -> None:
        """Stop the thread and wipe the buffers."""
        self._stop()
        for slot in self._slots:
            wipe(slot)

    def _stop(self) -> None:
        if self._thread is not None:
            self._full.put(None)
            self._thread.join()
            self._thread = None

    def _run(self) -> None:
        while (item := self._full.get()) is not None:
            index, size = item
            if self._error is None:
                try:
                    self.digest.update(memoryview(self._slots[index])[:size])
                except BaseException as exc:  # noqa: BLE001 - raised to the writer by its next call
                    self._error = exc
            self._free.put(index)
