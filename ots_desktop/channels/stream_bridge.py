"""Handing bytes between a worker thread and the event loop, a bounded amount at a time.

The envelope is sealed and opened by synchronous code (:mod:`ots_desktop.core.envelope`) on
a worker thread, while HTTP runs on the event loop. :class:`ThreadToLoop` is the file the
sealing thread writes into and the async iterator an upload reads from; :class:`LoopToThread`
is the file the opening thread reads from, fed by a download. Each holds at most a few
pieces, so memory stays bounded however large the envelope; a side that stops makes the
other side's next call raise :class:`BridgeClosed` instead of waiting forever.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

PIECE = 256 * 1024
DEPTH = 4
_POLL_S = 0.25
_END = object()


class BridgeClosed(Exception):
    """The other side of the bridge stopped (its request failed or was cancelled)."""


def _wait(future: concurrent.futures.Future[Any], closed: Callable[[], bool]) -> Any:
    """The result of ``future``, polled so that a closed bridge stops the wait."""
    while True:
        try:
            return future.result(timeout=_POLL_S)
        except concurrent.futures.TimeoutError:
            if closed():
                future.cancel()
                raise BridgeClosed from None


class ThreadToLoop:
    """``write`` on a worker thread (copies, in pieces of PIECE bytes); ``async for`` on the loop."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._queue: asyncio.Queue[object] = asyncio.Queue(DEPTH)
        self._buffer = bytearray()
        self._closed = False

    def _put(self, item: object) -> None:
        if self._closed:
            raise BridgeClosed
        _wait(asyncio.run_coroutine_threadsafe(self._queue.put(item), self._loop), lambda: self._closed)

    def write(self, data: memoryview | bytes) -> int:
        """Take a copy of ``data`` (the sealer wipes its buffers); blocks while the loop is behind."""
        self._buffer += data
        if len(self._buffer) >= PIECE:
            self.flush()
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
            if item is _END:
                return
            if isinstance(item, BaseException):
                raise item
            assert isinstance(item, bytes)
            yield item


class LoopToThread:
    """``readinto`` on a worker thread, fed by ``read`` (an awaitable giving b"" at the end) on the loop."""

    def __init__(self, loop: asyncio.AbstractEventLoop, read: Callable[[], Awaitable[bytes]]) -> None:
        self._loop = loop
        self._read = read
        self._piece = b""
        self._at = 0
        self._closed = False
        self.count = 0

    async def _next(self) -> bytes:
        return await self._read()

    def readinto(self, buffer: memoryview) -> int:
        """Copy the next bytes into ``buffer``; 0 at the end."""
        if self._at >= len(self._piece):
            if self._closed:
                raise BridgeClosed
            self._piece = _wait(asyncio.run_coroutine_threadsafe(self._next(), self._loop), lambda: self._closed)
            self._at = 0
            if not self._piece:
                return 0
        n = min(len(buffer), len(self._piece) - self._at)
        buffer[:n] = self._piece[self._at : self._at + n]
        self._at += n
        self.count += n
        return n

    def close(self) -> None:
        """The loop side gives up: the reader's next wait raises :class:`BridgeClosed`."""
        self._closed = True
