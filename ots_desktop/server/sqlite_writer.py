"""The link store's one writer: a thread that owns the SQLite connection and commits in groups.

Callers on any event loop queue operations (functions of the connection); the thread takes
whatever is queued, runs each inside one ``BEGIN IMMEDIATE`` transaction, commits once
(``synchronous = FULL``: the WAL is fsynced), and only then answers the callers, one
wake-up per event loop. Under load many operations share one fsync. Because this thread
is the only writer and each operation reads and changes its row inside the transaction,
what an operation read cannot change before it commits.

Deleted ciphertext must not outlive the answer that deleted it. ``secure_delete`` zeroes
what a transaction frees, but in WAL mode the page images written earlier (the envelope
as created) stay in the ``-wal`` file until a checkpoint copies the newest pages into the
database and the log is reset. So an operation that deletes an envelope calls
:func:`scrub_after_commit`, and after such a batch commits the writer checkpoints the WAL
into the database and truncates it to zero bytes, and only then answers: once a reveal,
a revocation or a burn has answered, the envelope is in none of the store's files.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import queue
import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ots_desktop.core.errors import OtsError

Op = Callable[[sqlite3.Connection], Any]
MAX_BATCH = 256
SCRUB = "PRAGMA wal_checkpoint(TRUNCATE)"
_log = logging.getLogger(__name__)


class WriterConnection(sqlite3.Connection):
    """The writer's connection (``sqlite3.connect(..., factory=WriterConnection)``): it remembers
    whether the batch in progress deleted ciphertext."""

    scrub = False


def scrub_after_commit(conn: sqlite3.Connection) -> None:
    """Ask the writer to checkpoint and truncate the WAL before it answers this batch's callers."""
    if isinstance(conn, WriterConnection):
        conn.scrub = True


class StoreError(OtsError):
    """The link store failed (disk full, unreadable file, closed store)."""


class Bare:
    """A statement that must run outside any transaction (a WAL checkpoint)."""

    def __init__(self, sql: str) -> None:
        self.sql = sql

    def __call__(self, conn: sqlite3.Connection) -> None:
        conn.execute(self.sql).fetchall()


class Writer(threading.Thread):
    """Owns the connection; runs queued operations in batches, one commit per batch."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        super().__init__(name="ots-link-store", daemon=True)
        self.conn = conn
        self.jobs: queue.SimpleQueue[tuple[Op, asyncio.Future[Any]] | None] = queue.SimpleQueue()

    def run(self) -> None:
        while True:
            job = self.jobs.get()
            if job is None:
                break
            batch = [job]
            stop = False
            while len(batch) < MAX_BATCH:
                try:
                    more = self.jobs.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    stop = True
                    break
                batch.append(more)
            self._run_batch(batch)
            if stop:
                break
        self.conn.close()

    def _run_batch(self, batch: list[tuple[Op, asyncio.Future[Any]]]) -> None:
        bare = [job for job in batch if isinstance(job[0], Bare)]
        batch = [job for job in batch if not isinstance(job[0], Bare)]
        if batch:
            self._run_transaction(batch)
        for op, future in bare:
            try:
                value, error = op(self.conn), None
            except sqlite3.Error as exc:
                value, error = None, StoreError(f"the link store could not checkpoint: {exc}")
            future.get_loop().call_soon_threadsafe(_settle, future, value, error)

    def _run_transaction(self, batch: list[tuple[Op, asyncio.Future[Any]]]) -> None:
        try:
            results = self._attempt(batch, isolate=False)
        except _OpFailed:
            # Some operation raised: run the batch again, each operation in its own savepoint,
            # so that only that caller gets the error. Rare, so the common path skips savepoints.
            results = self._attempt(batch, isolate=True)
        if getattr(self.conn, "scrub", False):
            self._scrub()
        _settle_all(results)

    def _scrub(self) -> None:
        """Checkpoint the WAL into the database file and truncate it (see the module's docstring)."""
        if isinstance(self.conn, WriterConnection):
            self.conn.scrub = False
        try:
            busy = self.conn.execute(SCRUB).fetchone()[0]
        except sqlite3.Error as exc:
            _log.warning("the link store could not checkpoint its WAL after deleting an envelope: %s", exc)
            return
        if busy:  # a reader held an older snapshot past the busy timeout: the next checkpoint gets it
            _log.warning("the link store's WAL could not be truncated after deleting an envelope: a reader held it")

    def _attempt(self, batch: list[tuple[Op, asyncio.Future[Any]]], *, isolate: bool) -> list[_Result]:
        conn = self.conn
        results: list[_Result] = []
        try:
            conn.execute("BEGIN IMMEDIATE")
            for op, future in batch:
                if isolate:
                    conn.execute("SAVEPOINT op")
                try:
                    value = op(conn)
                except Exception as exc:
                    if not isolate:
                        raise _OpFailed from exc
                    conn.execute("ROLLBACK TO op")
                    results.append((future, None, exc))
                else:
                    results.append((future, value, None))
                if isolate:
                    conn.execute("RELEASE op")
            conn.execute("COMMIT")
        except _OpFailed:
            with contextlib.suppress(sqlite3.Error):
                conn.execute("ROLLBACK")
            raise
        except sqlite3.Error as exc:
            with contextlib.suppress(sqlite3.Error):
                conn.execute("ROLLBACK")
            failure = StoreError(f"the link store could not write: {exc}")
            results = [(future, None, failure) for _, future in batch]
        return results


class _OpFailed(Exception):
    """An operation raised inside an unisolated batch."""


_Result = tuple["asyncio.Future[Any]", Any, "BaseException | None"]


def _settle_all(results: list[_Result]) -> None:
    """Answer every caller with one wake-up per event loop rather than one per operation."""
    by_loop: dict[asyncio.AbstractEventLoop, list[_Result]] = {}
    for result in results:
        by_loop.setdefault(result[0].get_loop(), []).append(result)
    for loop, items in by_loop.items():
        loop.call_soon_threadsafe(_settle_many, items)


def _settle_many(items: list[_Result]) -> None:
    for future, value, error in items:
        _settle(future, value, error)


def _settle(future: asyncio.Future[Any], value: Any, error: BaseException | None) -> None:
    if future.done():
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(value)


def open_private_store(path: Path, schema: str, what: str, *, factory: type[sqlite3.Connection] = sqlite3.Connection,
                       upgrade: Callable[[sqlite3.Connection], None] | None = None,
                       ) -> tuple[Writer, sqlite3.Connection]:
    """A store's SQLite file at ``path`` (created 0600 in a 0700 folder if needed): its started writer, on a
    WAL, fsynced, secure-delete connection with ``schema`` applied, and a read-only connection beside it."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        if not path.exists():
            os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
        conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, factory=factory)
        for pragma in ("journal_mode = WAL", "synchronous = FULL", "secure_delete = ON", "busy_timeout = 10000"):
            conn.execute(f"PRAGMA {pragma}")
        conn.executescript(schema)
        if upgrade is not None:
            upgrade(conn)
        reader = sqlite3.connect(f"file:{path}?mode=ro", uri=True, isolation_level=None, check_same_thread=False)
        reader.execute("PRAGMA busy_timeout = 10000")
    except (OSError, sqlite3.Error) as exc:
        raise StoreError(f"cannot open the {what} {path}: {exc}") from None
    worker = Writer(conn)
    worker.start()
    return worker, reader
