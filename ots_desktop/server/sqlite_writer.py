"""The link store's one writer: a thread that owns the SQLite connection and commits in groups.

Callers on any event loop queue operations (functions of the connection); the thread takes
whatever is queued, runs each inside one ``BEGIN IMMEDIATE`` transaction, commits once
(``synchronous = FULL``: the WAL is fsynced), and only then answers the callers, one
wake-up per event loop. Under load many operations share one fsync. An event loop may also
run a group itself and queue only its ``COMMIT`` here (server/sqlite_batches.py); ``lock``
keeps the two from using the connection at once. Because this connection is the only
writer and each operation reads and changes its row inside the transaction, what an
operation read cannot change before it commits.

Deleted ciphertext must not outlive the answer that deleted it by more than SCRUB_INTERVAL_S.
``secure_delete`` zeroes what a transaction frees, but in WAL mode the page images written
earlier (the envelope as created) stay in the ``-wal`` file until a checkpoint copies the
newest pages into the database and the log is reset. So an operation that deletes an
envelope calls :func:`scrub_after_commit`, and the writer checkpoints the WAL into the
database and truncates it to zero bytes: before it answers that batch when the previous
scrub is SCRUB_INTERVAL_S old or older (a quiet relay: every end is scrubbed before its
answer), else as soon as SCRUB_INTERVAL_S has passed since the previous one (a busy relay:
one checkpoint a second instead of one per batch, which cost about a quarter of its
throughput). Once a reveal, a revocation or a burn has answered, the envelope is in none of
the store's files at the latest SCRUB_INTERVAL_S later.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ots_desktop.core import private_files
from ots_desktop.core.errors import OtsError
from ots_desktop.server.link_model import StoreFailure

Op = Callable[[sqlite3.Connection], Any]
MAX_BATCH = 256
# The longest a deleted envelope's page images stay in the WAL after the answer that deleted it.
SCRUB_INTERVAL_S = 1.0
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


class StoreError(OtsError, StoreFailure):
    """The link store failed (disk full, unreadable file, closed store)."""


class Bare:
    """A statement that must run outside any transaction (a WAL checkpoint)."""

    def __init__(self, sql: str) -> None:
        self.sql = sql

    def __call__(self, conn: sqlite3.Connection) -> None:
        conn.execute(self.sql).fetchall()


_Result = tuple["asyncio.Future[Any]", Any, "BaseException | None"]


class Commit:
    """A batch the event loop ran in a transaction of its own (server/sqlite_batches.py), holding the
    writer's lock: the writer commits it, releases the lock, then hands ``done`` the results on ``loop``."""

    def __init__(self, results: list[_Result], loop: asyncio.AbstractEventLoop,
                 done: Callable[[list[_Result]], None]) -> None:
        self.results = results
        self.loop = loop
        self.done = done


Job = tuple[Op, "asyncio.Future[Any]"]


class Writer(threading.Thread):
    """Owns the connection; runs queued operations in batches, one commit per batch.

    ``lock`` is held by whoever uses the connection: this thread for its own batches, or an
    event loop from the ``BEGIN`` of a batch it runs itself until this thread has committed it
    (a :class:`Commit` job). The thread never waits for the lock: jobs that find it taken wait
    for the loop's commit, which is already queued or about to be.
    """

    def __init__(self, conn: sqlite3.Connection) -> None:
        super().__init__(name="ots-link-store", daemon=True)
        self.conn = conn
        self.lock = threading.Lock()
        self.jobs: queue.SimpleQueue[Job | Commit | None] = queue.SimpleQueue()
        self._last_scrub = float("-inf")  # time.monotonic() of the last checkpoint-and-truncate
        self._scrub_due: float | None = None  # when the deletions committed since then must be scrubbed

    def run(self) -> None:
        waiting: list[Job] = []  # jobs that found the lock taken by a loop's batch
        stop = False
        scrub_later = False  # a due scrub found the lock taken: the loop's commit comes next, then it
        while not stop:
            try:
                job = self.jobs.get(timeout=None if waiting or scrub_later else self._scrub_wait())
            except queue.Empty:  # a scrub is due and nothing else came
                scrub_later = not self._scrub_if_free()
                continue
            scrub_later = False
            taken = [job]
            while len(taken) < MAX_BATCH and taken[-1] is not None:
                try:
                    taken.append(self.jobs.get_nowait())
                except queue.Empty:
                    break
            stop = taken[-1] is None
            for item in taken:
                if isinstance(item, Commit):
                    self._commit(item)
            waiting += [item for item in taken if item is not None and not isinstance(item, Commit)]
            if waiting and self.lock.acquire(blocking=False):
                try:
                    self._run_batch(waiting)
                finally:
                    self.lock.release()
                waiting = []
            if self._scrub_due is not None and time.monotonic() >= self._scrub_due:
                scrub_later = not self._scrub_if_free()
        with self.lock:
            if self._scrub_due is not None:
                self._scrub()
            self.conn.close()

    def _scrub_wait(self) -> float | None:
        """How long the queue may be waited on before a pending scrub is due (None: no scrub pending)."""
        if self._scrub_due is None:
            return None
        return max(0.0, self._scrub_due - time.monotonic())

    def _scrub_if_free(self) -> bool:
        """Scrub unless a loop's batch holds the lock (its commit, soon in the queue, comes first); True if done."""
        if not self.lock.acquire(blocking=False):
            return False
        try:
            self._scrub()
        finally:
            self.lock.release()
        return True

    def _run_batch(self, batch: list[Job]) -> None:
        bare = [job for job in batch if isinstance(job[0], Bare)]
        batch = [job for job in batch if not isinstance(job[0], Bare)]
        if batch:
            results, _ = self.execute(batch, commit=True)
            self._after_commit()
            _settle_all(results)
        for op, future in bare:
            try:
                value, error = op(self.conn), None
            except sqlite3.Error as exc:
                value, error = None, StoreError(f"the link store could not checkpoint: {exc}")
            else:
                if isinstance(op, Bare) and op.sql == SCRUB:
                    self._scrubbed()
            future.get_loop().call_soon_threadsafe(_settle, future, value, error)

    def execute(self, batch: list[Job], *, commit: bool) -> tuple[list[_Result], bool]:
        """Run ``batch`` in one transaction (the caller holds ``lock``); with ``commit`` False it is left
        open for a :class:`Commit`. Returns the results, and whether the transaction still needs its commit."""
        try:
            return self._attempt(batch, isolate=False, commit=commit)
        except _OpFailed:
            # Some operation raised: run the batch again, each operation in its own savepoint,
            # so that only that caller gets the error. Rare, so the common path skips savepoints.
            return self._attempt(batch, isolate=True, commit=commit)

    def abandon(self) -> None:
        """Roll back whatever transaction is open (the caller holds ``lock``)."""
        with contextlib.suppress(sqlite3.Error):
            if self.conn.in_transaction:
                self.conn.execute("ROLLBACK")

    def _commit(self, job: Commit) -> None:
        """Commit a loop's open batch, release the lock it holds, and hand the loop the results."""
        results = job.results
        try:
            try:
                self.conn.execute("COMMIT")
            except sqlite3.Error as exc:
                with contextlib.suppress(sqlite3.Error):
                    self.conn.execute("ROLLBACK")
                failure = StoreError(f"the link store could not write: {exc}")
                results = [(future, None, failure) for future, _, _ in results]
            self._after_commit()
        finally:
            self.lock.release()
        job.loop.call_soon_threadsafe(job.done, results)

    def _after_commit(self) -> None:
        """A committed batch deleted ciphertext: scrub now if the last scrub is old enough, else set the timer."""
        if getattr(self.conn, "scrub", False):
            self.conn.scrub = False  # type: ignore[attr-defined]
            if time.monotonic() - self._last_scrub >= SCRUB_INTERVAL_S:
                self._scrub()  # quiet: before the answer
            elif self._scrub_due is None:
                self._scrub_due = self._last_scrub + SCRUB_INTERVAL_S

    def _scrub(self) -> None:
        """Checkpoint the WAL into the database file and truncate it (see the module's docstring)."""
        self._scrubbed()
        try:
            busy = self.conn.execute(SCRUB).fetchone()[0]
        except sqlite3.Error as exc:
            _log.warning("the link store could not checkpoint its WAL after deleting an envelope: %s", exc)
            return
        if busy:  # a reader held an older snapshot past the busy timeout: the next checkpoint gets it
            _log.warning("the link store's WAL could not be truncated after deleting an envelope: a reader held it")

    def _scrubbed(self) -> None:
        self._last_scrub = time.monotonic()
        self._scrub_due = None

    def _attempt(self, batch: list[Job], *, isolate: bool, commit: bool) -> tuple[list[_Result], bool]:
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
            if commit:
                conn.execute("COMMIT")
        except _OpFailed:
            with contextlib.suppress(sqlite3.Error):
                conn.execute("ROLLBACK")
            raise
        except sqlite3.Error as exc:
            with contextlib.suppress(sqlite3.Error):
                conn.execute("ROLLBACK")
            failure = StoreError(f"the link store could not write: {exc}")
            return [(future, None, failure) for _, future in batch], False
        return results, not commit


class _OpFailed(Exception):
    """An operation raised inside an unisolated batch."""


def _settle_all(results: list[_Result]) -> None:
    """Answer every caller with one wake-up per event loop rather than one per operation."""
    by_loop: dict[asyncio.AbstractEventLoop, list[_Result]] = {}
    for result in results:
        by_loop.setdefault(result[0].get_loop(), []).append(result)
    for loop, items in by_loop.items():
        loop.call_soon_threadsafe(settle_many, items)


def settle_many(items: list[_Result]) -> None:
    """Answer each caller (on its loop)."""
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
            private_files.ensure_private(path)
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
