"""Handing bytes between a worker thread and the event loop, a bounded amount at a time.

The envelope is sealed and opened by synchronous code (:mod:`ots_desktop.core.envelope`) on
a worker thread, while HTTP runs on the event loop. :class:`ThreadToLoop` is the file the
sealing thread writes into and the async iterator an upload reads from; :class:`LoopToThread`
is the file the opening thread reads from, fed by a download. Each holds at most a few
pieces, so memory stays bounded however large the envelope; a side that stops makes the
other side's next call raise :class:`BridgeClosed` instead of waiting forever.

Neither side waits for a round trip through the other on every piece (on a busy machine
each one costs milliseconds of thread wake-ups): the writing thread hands a piece over and
goes on while fewer than ``DEPTH`` wait, and the download is read ahead of the reading thread
into a queue, so that the next piece is there while the current one is being used.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import threading
from collections.abc import AsyncIterator, Awaitable, Callable

PIECE = 256 * 1024
DEPTH = 4
# How far a download may run ahead of the thread that reads it, in bytes.
AHEAD = 4 * 1024 * 1024
_POLL_S = 0.25
_END = object()


class BridgeClosed(Exception):
    """The other side of the bridge stopped (its request failed or was cancelled)."""


class ThreadToLoop:
    """``write`` on a worker thread (copies, in pieces of PIECE bytes); ``async for`` on the loop."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._queue: asyncio.Queue[object] = asyncio.Queue()
        # Pieces handed over and not yet taken by the loop, at most DEPTH.
        self._room = threading.Semaphore(DEPTH)
        self._buffer = bytearray()
        self._closed = False

    def _put(self, item: object) -> None:
        while not self._room.acquire(timeout=_POLL_S):
            if self._closed:
                raise BridgeClosed
        if self._closed:
            raise BridgeClosed
        try:
            self._loop.call_soon_threadsafe(self._queue.put_nowait, item)
        except RuntimeError:  # the loop is closed: nobody reads any more
            raise BridgeClosed from None

    def write(self, data: memoryview | bytes) -> int:
        """Take a copy of ``data`` (the sealer wipes its buffers); blocks while the loop is behind.

        Small writes gather until they make a piece; a piece is copied once, into the ``bytes``
        handed over."""
        if len(self._buffer) + len(data) < PIECE:
            self._buffer += data
        else:
            piece = b"".join((self._buffer, data)) if self._buffer else bytes(data)
            self._buffer = bytearray()
            self._put(piece)
        return len(data)

    def flush(self) -> None:
        """Hand over what is buffered."""
        if self._buffer:
            piece, self._buffer = bytes(self._buffer), bytearray()
            self._put(piece)

    def finish(self, error: BaseException | None = None) -> None:
        """The writer is done (``error``: it failed, and the reader raises it)."""
        try:
            if error is None:
                self.flush()
            self._put(_END if error is None else error)
        except BridgeClosed:
            pass

    def close(self) -> None:
        """The reader gives up: the writer's next call raises :class:`BridgeClosed`."""
        self._closed = True

    async def pieces(self) -> AsyncIterator[bytes]:
        """What the writer wrote, piece by piece, until it finishes."""
        while True:
            item = await self._queue.get()
            self._room.release()
            if item is _END:
                return
            if isinstance(item, BaseException):
                raise item
            assert isinstance(item, bytes)
            yield item


class LoopToThread:
    """``readinto`` on a worker thread, fed by ``read`` (an awaitable giving b"" at the end) on the loop.

    Build it on the loop. A task of its own keeps reading ahead into a queue while the reader
    works, up to about ``AHEAD`` bytes, so the reader waits only when the data itself is late,
    never for the loop to be scheduled."""

    def __init__(self, loop: asyncio.AbstractEventLoop, read: Callable[[], Awaitable[bytes]]) -> None:
        self._loop = loop
        self._read = read
        self._piece = b""
        self._at = 0
        self._queue: queue.SimpleQueue[bytes | BaseException] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._queued = 0
        self._waiting = False
        self._room = asyncio.Event()
        self._ended = False
        self._closed = False
        self.count = 0
        self._pump = loop.create_task(self._run())

    async def _run(self) -> None:
        try:
            while True:
                piece = await self._read()
                with self._lock:
                    self._queued += len(piece)
                    full = self._queued > AHEAD
                    if full:
                        self._waiting = True
                        self._room.clear()
                self._queue.put(piece)
                if not piece:
                    return
                if full:
                    await self._room.wait()
        except asyncio.CancelledError:
            raise
        except BaseException as exc:  # noqa: BLE001 - raised to the reader
            self._queue.put(exc)

    def readinto(self, buffer: memoryview) -> int:
        """Copy the next bytes into ``buffer``; 0 at the end."""
        if self._at >= len(self._piece):
            if self._closed:
                raise BridgeClosed
            if self._ended:
                return 0
            piece = self._take()
            if not piece:
                self._ended = True
                return 0
            self._piece, self._at = piece, 0
        n = min(len(buffer), len(self._piece) - self._at)
        buffer[:n] = memoryview(self._piece)[self._at : self._at + n]
        self._at += n
        self.count += n
        return n

    def _take(self) -> bytes:
        while True:
            try:
                item = self._queue.get(timeout=_POLL_S)
                break
            except queue.Empty:
                if self._closed:
                    raise BridgeClosed from None
        if isinstance(item, BaseException):
            raise item
        with self._lock:
            self._queued -= len(item)
            wake = self._waiting and self._queued <= AHEAD // 2
            if wake:
                self._waiting = False
        if wake:
            with contextlib.suppress(RuntimeError):  # the loop is gone: nothing more will be read
                self._loop.call_soon_threadsafe(self._room.set)
        return item

    def close(self) -> None:
        """The loop side gives up (call it on the loop): reading ahead stops, and the reader's next wait
        raises :class:`BridgeClosed`."""
        self._closed = True
        self._pump.cancel()
