"""Running a store's short operations on the event loop, and only their commit on the writer thread.

Creates and reveals are a few statements each, microseconds of work; sending each to the
writer thread (server/sqlite_writer.py) cost more than running it, because every statement
hands the interpreter lock back and forth between that thread and the busy event loop. So the
loop gathers the operations that come in during one turn, takes the writer's lock, runs them
in one ``BEGIN IMMEDIATE`` transaction itself, and queues the transaction's ``COMMIT`` (the
WAL fsync) for the writer thread, which then releases the lock and answers the callers. While
that commit is on its way the loop serves other requests and gathers the next batch.

Nothing changes for the callers: an operation still runs inside a transaction that only the
store's writer side opens, reads and changes its row there, and is answered only after its
batch committed (a 201 means the share is on disk; a reveal's claim is on disk before the
envelope is sent). When the writer thread holds the lock (a sweep, a streamed create, a
checkpoint), or the caller is on another event loop, the operations go to the thread instead.
"""

from __future__ import annotations

import asyncio
from typing import Any

from ots_desktop.server.sqlite_writer import Commit, Job, Op, StoreError, Writer, settle_many


class LoopBatches:
    """Operations of one event loop, run on it in batches; their commits go to ``writer``."""

    def __init__(self, writer: Writer) -> None:
        self._writer = writer
        self._loop: asyncio.AbstractEventLoop | None = None
        self._pending: list[Job] = []
        self._scheduled = False  # a flush is due on the loop
        self._committing = False  # a batch of this loop is open, its commit queued for the writer
        self._closed = False

    def run(self, op: Op) -> asyncio.Future[Any]:
        """Queue ``op`` for the next batch; the future has its result once the batch committed."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        if self._loop is None:
            self._loop = loop
        if loop is not self._loop or self._closed:
            self._writer.jobs.put((op, future))
            return future
        self._pending.append((op, future))
        if not self._scheduled and not self._committing:
            self._scheduled = True
            loop.call_soon(self._flush)
        return future

    def close(self) -> None:
        """Hand what has not run yet to the writer thread (the store is closing; the thread stops after)."""
        self._closed = True
        pending, self._pending = self._pending, []
        for job in pending:
            self._writer.jobs.put(job)

    def _flush(self) -> None:
        self._scheduled = False
        if self._committing or not self._pending:
            return
        batch, self._pending = self._pending, []
        writer = self._writer
        if not writer.lock.acquire(blocking=False):
            for job in batch:  # the thread is using the connection: it runs these next
                writer.jobs.put(job)
            return
        try:
            results, open_ = writer.execute(batch, commit=False)
        except BaseException as exc:  # not an operation's own error (those are results): end it all here
            writer.abandon()
            writer.lock.release()
            failure = StoreError(f"the link store could not write: {type(exc).__name__}")
            settle_many([(future, None, failure) for _, future in batch])
            raise
        if not open_:  # the transaction failed and was rolled back: nothing to commit
            writer.lock.release()
            settle_many(results)
            return
        self._committing = True
        assert self._loop is not None
        writer.jobs.put(Commit(results, self._loop, self._committed))

    def _committed(self, results: list[Any]) -> None:
        self._committing = False
        settle_many(results)
        if self._pending and not self._scheduled and self._loop is not None:
            self._scheduled = True
            self._loop.call_soon(self._flush)
