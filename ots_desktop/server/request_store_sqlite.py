"""The embedded request store: its own SQLite file next to the link store, WAL, one writer thread.

Like :mod:`ots_desktop.server.store_sqlite`: every change runs on the writer thread of
:mod:`ots_desktop.server.sqlite_writer` inside one transaction and is fsynced before the
caller hears back, so one answer wins and an answer is handed out once. Answers sit in
their own table and are deleted the moment the request is opened, revoked or expires;
``secure_delete`` zeroes the freed pages, and the writer checkpoints and truncates the WAL
after a deletion as it does for the link store (before the answer when the store is quiet,
within SCRUB_INTERVAL_S when it is busy; a sweep at once), so no file of the store keeps the
ciphertext after that.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from ots_desktop.server.request_model import (
    LIVE,
    TOMBSTONE_S,
    AnswerOutcome,
    NewRequest,
    RequestInfo,
    RequestState,
    StoreResult,
    state_at,
)
from ots_desktop.server.sqlite_writer import (
    SCRUB,
    Bare,
    StoreError,
    Writer,
    WriterConnection,
    open_private_store,
    scrub_after_commit,
)

T = TypeVar("T")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS requests (
    id TEXT PRIMARY KEY,
    state TEXT NOT NULL,
    label_box TEXT NOT NULL,
    proof_hash TEXT NOT NULL,
    key_hash TEXT NOT NULL,
    status_hash TEXT NOT NULL,
    created_at REAL NOT NULL,
    expires_at REAL NOT NULL,
    allow_cidrs TEXT NOT NULL,
    allow_countries TEXT NOT NULL,
    answered_at REAL,
    answered_from TEXT,
    ended_at REAL,
    refused_answers INTEGER NOT NULL DEFAULT 0,
    blocked_attempts INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS requests_by_expiry ON requests (state, expires_at);
CREATE TABLE IF NOT EXISTS answers (id TEXT PRIMARY KEY, data BLOB NOT NULL);
"""
_COLUMNS = ("id, state, label_box, proof_hash, key_hash, status_hash, created_at, expires_at, allow_cidrs,"
            " allow_countries, answered_at, answered_from, ended_at, refused_answers, blocked_attempts")


def requests_path(links_path: Path) -> Path:
    """The request store's file beside the link store's ``links_path``."""
    return links_path.with_name(links_path.stem + "-requests" + (links_path.suffix or ".sqlite3"))


class SqliteRequestStore:
    """:class:`~ots_desktop.server.request_model.RequestStore` on one SQLite file."""

    name = "sqlite"

    def __init__(self, path: Path, worker: Writer, reader: sqlite3.Connection) -> None:
        self.path = path
        self._worker = worker
        self._reader = reader
        self._closed = False

    @classmethod
    async def open_file(cls, path: Path) -> SqliteRequestStore:
        """Open (creating if needed) the store at ``path``, readable by the owner only."""
        return await asyncio.to_thread(cls._open_sync, path)

    @classmethod
    def _open_sync(cls, path: Path) -> SqliteRequestStore:
        worker, reader = open_private_store(path, _SCHEMA, "request store", factory=WriterConnection)
        return cls(path, worker, reader)

    async def _run(self, op: Callable[[sqlite3.Connection], T]) -> T:
        if self._closed:
            raise StoreError("the request store is closed")
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._worker.jobs.put((op, future))
        return await future

    async def _scrub(self) -> None:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._worker.jobs.put((Bare(SCRUB), future))
        await future

    async def create(self, request: NewRequest) -> bool:
        """Insert the request; False if the id is taken."""

        def op(conn: sqlite3.Connection) -> bool:
            if conn.execute("SELECT 1 FROM requests WHERE id = ?", (request.id,)).fetchone():
                return False
            conn.execute(
                f"INSERT INTO requests ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, NULL, NULL, 0, 0)",  # noqa: S608
                (request.id, RequestState.PENDING.value, request.label_box, request.proof_hash, request.key_hash,
                 request.status_hash, request.created_at, request.expires_at, json.dumps(list(request.allow_cidrs)),
                 json.dumps(list(request.allow_countries))))
            return True

        return await self._run(op)

    async def info(self, request_id: str, now: float) -> RequestInfo | None:
        """The request as of ``now`` (read on the read-only connection)."""
        if self._closed:
            raise StoreError("the request store is closed")
        try:
            return _info(self._reader, request_id, now)
        except sqlite3.Error as exc:
            raise StoreError(f"the request store could not read: {exc}") from None

    async def answer(self, request_id: str, answer: bytes, ip: str, now: float) -> StoreResult:
        """Keep the first answer; count any later one."""

        def op(conn: sqlite3.Connection) -> StoreResult:
            info = _info(conn, request_id, now)
            if info is None:
                return StoreResult(AnswerOutcome.NOT_FOUND)
            if info.state is RequestState.PENDING:
                conn.execute("UPDATE requests SET state = ?, answered_at = ?, answered_from = ? WHERE id = ?",
                             (RequestState.ANSWERED.value, now, ip, request_id))
                conn.execute("INSERT INTO answers (id, data) VALUES (?, ?)", (request_id, answer))
                return StoreResult(AnswerOutcome.DONE, RequestState.ANSWERED)
            if info.state in (RequestState.ANSWERED, RequestState.OPENED):
                conn.execute("UPDATE requests SET refused_answers = refused_answers + 1 WHERE id = ?", (request_id,))
                return StoreResult(AnswerOutcome.ALREADY_ANSWERED, info.state)
            return StoreResult(AnswerOutcome.GONE, info.state)

        return await self._run(op)

    async def open(self, request_id: str, now: float) -> StoreResult:
        """Claim the answer, delete it, and return it."""

        def op(conn: sqlite3.Connection) -> StoreResult:
            info = _info(conn, request_id, now)
            if info is None:
                return StoreResult(AnswerOutcome.NOT_FOUND)
            if info.state is RequestState.PENDING:
                return StoreResult(AnswerOutcome.NOT_ANSWERED, info.state)
            if info.state is not RequestState.ANSWERED:
                return StoreResult(AnswerOutcome.GONE, info.state)
            row = conn.execute("DELETE FROM answers WHERE id = ? RETURNING data", (request_id,)).fetchone()
            _end(conn, request_id, RequestState.OPENED, now)
            return StoreResult(AnswerOutcome.DONE, RequestState.OPENED, bytes(row[0]) if row else None,
                               info.answered_at, info.answered_from)

        return await self._run(op)

    async def stored_bytes(self) -> int:
        """The total size of the answers held (SQLite knows a blob's length without reading it)."""
        if self._closed:
            raise StoreError("the request store is closed")
        try:
            return int(self._reader.execute("SELECT coalesce(sum(length(data)), 0) FROM answers").fetchone()[0])
        except sqlite3.Error as exc:
            raise StoreError(f"the request store could not read: {exc}") from None

    async def note_blocked(self, request_id: str, now: float) -> None:
        """Count an answer refused for its network."""
        await self._run(lambda conn: conn.execute(
            "UPDATE requests SET blocked_attempts = blocked_attempts + 1 WHERE id = ?", (request_id,)))

    async def revoke(self, request_id: str, now: float) -> RequestState | None:
        """End a live request."""

        def op(conn: sqlite3.Connection) -> RequestState | None:
            info = _info(conn, request_id, now)
            if info is None:
                return None
            if info.state in LIVE:
                _end(conn, request_id, RequestState.REVOKED, now)
                return RequestState.REVOKED
            return info.state

        return await self._run(op)

    async def sweep(self, now: float) -> int:
        """Expire live requests past their expiry and forget ended ones after TOMBSTONE_S."""

        def op(conn: sqlite3.Connection) -> int:
            rows = conn.execute("SELECT id FROM requests WHERE state IN (?, ?) AND expires_at <= ?",
                                (RequestState.PENDING.value, RequestState.ANSWERED.value, now)).fetchall()
            for (request_id,) in rows:
                _end(conn, request_id, RequestState.EXPIRED, now)
            forgotten = conn.execute("DELETE FROM requests WHERE ended_at IS NOT NULL AND ended_at <= ?",
                                     (now - TOMBSTONE_S,)).rowcount
            return len(rows) + forgotten

        touched = await self._run(op)
        await self._scrub()
        return touched

    async def close(self) -> None:
        """Finish queued work, then close the connection."""
        if self._closed:
            return
        self._closed = True
        self._reader.close()
        self._worker.jobs.put(None)
        await asyncio.to_thread(self._worker.join)


def _info(conn: sqlite3.Connection, request_id: str, now: float) -> RequestInfo | None:
    row = conn.execute(f"SELECT {_COLUMNS} FROM requests WHERE id = ?", (request_id,)).fetchone()  # noqa: S608
    return None if row is None else _row_info(row, now)


def _row_info(row: tuple[Any, ...], now: float) -> RequestInfo:
    (rid, state, label_box, proof_hash, key_hash, status_hash, created_at, expires_at, cidrs, countries, answered_at,
     answered_from, ended_at, refused, blocked) = row
    return RequestInfo(
        id=rid, state=state_at(state, expires_at, now), label_box=label_box, proof_hash=proof_hash, key_hash=key_hash,
        status_hash=status_hash, created_at=created_at, expires_at=expires_at,
        allow_cidrs=tuple(json.loads(cidrs)), allow_countries=tuple(json.loads(countries)), answered_at=answered_at,
        answered_from=answered_from, ended_at=ended_at if ended_at is not None else (
            expires_at if state_at(state, expires_at, now) is RequestState.EXPIRED else None),
        refused_answers=refused, blocked_attempts=blocked)


def _end(conn: sqlite3.Connection, request_id: str, state: RequestState, at: float) -> None:
    conn.execute("UPDATE requests SET state = ?, ended_at = ? WHERE id = ?", (state.value, at, request_id))
    conn.execute("DELETE FROM answers WHERE id = ?", (request_id,))
    scrub_after_commit(conn)  # an answer this ends (or one the caller just took out) leaves the WAL too
