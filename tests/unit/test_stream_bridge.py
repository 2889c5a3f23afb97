"""The bridges between a sealing or opening thread and the event loop's HTTP side: order, bounds, stopping."""

from __future__ import annotations

import asyncio
import os
import threading
import time
from collections.abc import Callable

import pytest

from ots_desktop.channels.stream_bridge import AHEAD, DEPTH, PIECE, BridgeClosed, LoopToThread, ThreadToLoop


async def _until(check: Callable[[], bool], timeout: float = 30.0) -> None:
    """Let the loop run until ``check()`` holds, with a deadline."""
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "not reached in time"
        await asyncio.sleep(0)


def test_thread_to_loop_keeps_order_and_gathers_small_writes() -> None:
    writes = [os.urandom(n) for n in (10, PIECE, 3, PIECE * 2 + 5, 1)]

    async def flow() -> list[bytes]:
        bridge = ThreadToLoop(asyncio.get_running_loop())

        def writer() -> None:
            for data in writes:
                buffer = bytearray(data)
                bridge.write(memoryview(buffer))
                buffer[:] = bytes(len(buffer))  # the sealer wipes its buffer at once: the bridge kept a copy
            bridge.finish()

        task = asyncio.ensure_future(asyncio.to_thread(writer))
        got = [piece async for piece in bridge.pieces()]
        await task
        return got

    got = asyncio.run(flow())
    assert b"".join(got) == b"".join(writes)
    assert all(len(piece) >= PIECE for piece in got[:-1])


def test_thread_to_loop_holds_at_most_depth_pieces_then_the_writer_waits() -> None:
    async def flow() -> None:
        bridge = ThreadToLoop(asyncio.get_running_loop())
        handed = threading.Semaphore(0)

        def writer() -> None:
            for n in range(DEPTH + 1):
                bridge.write(bytes([n]) * PIECE)
                handed.release()
            bridge.finish()

        task = asyncio.ensure_future(asyncio.to_thread(writer))
        for _ in range(DEPTH):
            assert await asyncio.to_thread(handed.acquire, True, 30)
        assert not bridge._room.acquire(blocking=False)  # no room: the next write waits for the loop
        pieces = bridge.pieces()
        first = await anext(pieces)  # taking one makes room
        assert first == b"\x00" * PIECE
        assert await asyncio.to_thread(handed.acquire, True, 30)
        rest = [piece async for piece in pieces]
        await task
        assert [piece[0] for piece in rest] == list(range(1, DEPTH + 1))

    asyncio.run(flow())


def test_thread_to_loop_a_closed_reader_stops_the_writer() -> None:
    async def flow() -> None:
        bridge = ThreadToLoop(asyncio.get_running_loop())

        def writer() -> None:
            while True:
                bridge.write(b"x" * PIECE)

        task = asyncio.ensure_future(asyncio.to_thread(writer))
        await anext(bridge.pieces())
        bridge.close()
        with pytest.raises(BridgeClosed):
            await task

    asyncio.run(flow())


def test_thread_to_loop_a_writer_error_reaches_the_reader() -> None:
    async def flow() -> None:
        bridge = ThreadToLoop(asyncio.get_running_loop())
        await asyncio.to_thread(bridge.finish, ValueError("the file changed"))
        with pytest.raises(ValueError, match="changed"):
            async for _ in bridge.pieces():
                pass

    asyncio.run(flow())


def test_loop_to_thread_reads_everything_in_order_one_read_at_a_time() -> None:
    pieces = [os.urandom(n) for n in (5, 70_000, 1, 200_000)]

    async def flow() -> tuple[bytes, int]:
        queue = list(pieces)
        outstanding = 0
        most = 0

        async def read() -> bytes:
            nonlocal outstanding, most
            outstanding += 1
            most = max(most, outstanding)
            await asyncio.sleep(0)
            outstanding -= 1
            return queue.pop(0) if queue else b""

        bridge = LoopToThread(asyncio.get_running_loop(), read)

        def reader() -> bytes:
            out = bytearray()
            buffer = bytearray(4096)
            while n := bridge.readinto(memoryview(buffer)):
                out += buffer[:n]
            assert bridge.readinto(memoryview(buffer)) == 0  # the end stays the end, without another read
            return bytes(out)

        data = await asyncio.to_thread(reader)
        return data, most

    data, most = asyncio.run(flow())
    assert data == b"".join(pieces)
    assert most == 1  # reading ahead is one read at a time, never a pile of them


def test_loop_to_thread_closed_stops_a_waiting_reader() -> None:
    async def flow() -> None:
        never = asyncio.Event()

        async def read() -> bytes:
            await never.wait()
            return b""

        bridge = LoopToThread(asyncio.get_running_loop(), read)
        task = asyncio.ensure_future(asyncio.to_thread(bridge.readinto, memoryview(bytearray(10))))
        bridge.close()  # before or while the reader waits: either way it stops
        with pytest.raises(BridgeClosed):
            await task

    asyncio.run(flow())


def test_loop_to_thread_reads_ahead_at_most_about_ahead_bytes() -> None:
    piece = 256 * 1024

    async def flow() -> None:
        reads = 0

        async def read() -> bytes:
            nonlocal reads
            reads += 1
            return b"x" * piece

        bridge = LoopToThread(asyncio.get_running_loop(), read)
        try:
            await _until(lambda: bridge._waiting)  # nobody reads: the read-ahead fills up, then waits for room
            assert AHEAD < reads * piece <= AHEAD + piece
            before = reads
            # Taking half of it makes room again, and reading goes on.
            buffer = memoryview(bytearray(piece))
            await asyncio.to_thread(lambda: [bridge.readinto(buffer) for _ in range(reads // 2 + 1)])
            await _until(lambda: reads > before)
        finally:
            bridge.close()

    asyncio.run(flow())
