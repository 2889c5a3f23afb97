"""The embedded link store: one SQLite file in WAL mode, written by one thread with group commit.

Every change runs on the one writer thread of :mod:`ots_desktop.server.sqlite_writer`,
which commits queued operations in groups (``synchronous = FULL``: the WAL is fsynced) and
only then answers the callers. A create is therefore on disk before its 201, and a reveal's
claim is on disk before the envelope leaves the server. Because that thread is the only
writer and each operation reads and changes its row inside the transaction, a view is
consumed at most once.

Reads that change nothing (``info``, ``ping``) use a second, read-only connection on the
caller's thread instead: in WAL mode a reader sees every committed change and never waits
for the writer, and a lookup is microseconds, so it does not queue behind a batch's fsync.

Envelopes sit in their own table and are deleted the moment a share ends: ``secure_delete``
zeroes the freed pages, and the writer checkpoints and truncates the WAL before it answers
(see :mod:`ots_desktop.server.sqlite_writer`), so no file of the store holds them after that;
the row in ``secrets`` stays as a tombstone for
``ots link status`` until TOMBSTONE_S after it ended.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from ots_desktop.server.link_model import (
    MAX_FAILED_ATTEMPTS,
    TOMBSTONE_S,
    NewSecret,
    RevealOutcome,
    RevealRecord,
    RevealResult,
    SecretInfo,
    SecretState,
)
from ots_desktop.server.sqlite_writer import (
    Bare,
    StoreError,
    Writer,
    WriterConnection,
    open_private_store,
    scrub_after_commit,
)

__all__ = ["SqliteStore", "StoreError"]

T = TypeVar("T")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS secrets (
    id TEXT PRIMARY KEY,
    state TEXT NOT NULL,
    header BLOB NOT NULL,
    needs_passphrase INTEGER NOT NULL,
    auth_hash TEXT NOT NULL,
    status_hash TEXT NOT NULL,
    created_at REAL NOT NULL,
    expires_at REAL NOT NULL,
    max_views INTEGER NOT NULL,
    views_left INTEGER NOT NULL,
    failed_attempts INTEGER NOT NULL DEFAULT 0,
    blocked_attempts INTEGER NOT NULL DEFAULT 0,
    allow_cidrs TEXT NOT NULL DEFAULT '[]',
    reveals TEXT NOT NULL DEFAULT '[]',
    ended_at REAL,
    link_hash TEXT NOT NULL DEFAULT '',
    allow_countries TEXT NOT NULL DEFAULT '[]'
);
CREATE INDEX IF NOT EXISTS secrets_by_expiry ON secrets (state, expires_at);
CREATE TABLE IF NOT EXISTS envelopes (id TEXT PRIMARY KEY, data BLOB NOT NULL);
"""
_COLUMNS = ("id, state, header, needs_passphrase, status_hash, created_at, expires_at, max_views, views_left,"
            " failed_attempts, blocked_attempts, allow_cidrs, reveals, ended_at, link_hash, allow_countries")
# Columns added after the first release, with their definitions: a store made earlier gets them at open.
_ADDED_COLUMNS = {"link_hash": "TEXT NOT NULL DEFAULT ''", "allow_countries": "TEXT NOT NULL DEFAULT '[]'"}


def _upgrade(conn: sqlite3.Connection) -> None:
    present = {row[1] for row in conn.execute("PRAGMA table_info(secrets)")}
    for name, definition in _ADDED_COLUMNS.items():
        if name not in present:
            conn.execute(f"ALTER TABLE secrets ADD COLUMN {name} {definition}")


class SqliteStore:
    """:class:`~ots_desktop.server.link_model.LinkStore` on one SQLite file."""

    name = "sqlite"

    def __init__(self, path: Path, worker: Writer, reader: sqlite3.Connection) -> None:
        self.path = path
        self._worker = worker
        self._reader = reader
        self._closed = False

    @classmethod
    async def open(cls, path: Path) -> SqliteStore:
        """Open (creating if needed) the store at ``path``, readable by the owner only."""
        return await asyncio.to_thread(cls._open_sync, path)

    @classmethod
    def _open_sync(cls, path: Path) -> SqliteStore:
        worker, reader = open_private_store(path, _SCHEMA, "link store", factory=WriterConnection, upgrade=_upgrade)
        return cls(path, worker, reader)

    async def _run(self, op: Callable[[sqlite3.Connection], T]) -> T:
        if self._closed:
            raise StoreError("the link store is closed")
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._worker.jobs.put((op, future))
        return await future

    def _read(self, op: Callable[[sqlite3.Connection], T]) -> T:
        if self._closed:
            raise StoreError("the link store is closed")
        try:
            return op(self._reader)
        except sqlite3.Error as exc:
            raise StoreError(f"the link store could not read: {exc}") from None

    async def create(self, secret: NewSecret) -> bool:
        """Insert the share and its envelope; False if the id is taken."""

        def op(conn: sqlite3.Connection) -> bool:
            cursor = conn.execute(
                "INSERT OR IGNORE INTO secrets (id, state, header, needs_passphrase, auth_hash, status_hash,"
                " created_at, expires_at, max_views, views_left, allow_cidrs, link_hash, allow_countries)"
                " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (secret.id, SecretState.PENDING.value, secret.header, int(secret.needs_passphrase),
                 secret.auth_hash, secret.status_hash, secret.created_at, secret.expires_at,
                 secret.max_views, secret.max_views, json.dumps(list(secret.allow_cidrs)), secret.link_hash,
                 json.dumps(list(secret.allow_countries))),
            )  # fmt: skip
            if cursor.rowcount != 1:
                return False
            conn.execute("INSERT INTO envelopes (id, data) VALUES (?, ?)", (secret.id, secret.envelope))
            return True

        return await self._run(op)

    async def info(self, share_id: str, now: float) -> SecretInfo | None:
        """The share's record with its state as of ``now``."""
        return self._read(lambda conn: _info(conn, share_id, now))

    async def reveal(self, share_id: str, auth_hash: str, ip: str, now: float) -> RevealResult:
        """Claim one view (durably) and return the envelope, or say why not."""
        return await self._run(lambda conn: _reveal(conn, share_id, auth_hash, ip, now))

    async def note_blocked(self, share_id: str, now: float) -> None:
        """Count one reveal refused by the allowlist or the country rule."""
        await self._run(lambda conn: conn.execute(
            "UPDATE secrets SET blocked_attempts = blocked_attempts + 1 WHERE id = ?", (share_id,)))

    async def revoke(self, share_id: str, now: float) -> SecretState | None:
        """End a pending share as revoked; report the state it is in afterwards."""

        def op(conn: sqlite3.Connection) -> SecretState | None:
            info = _info(conn, share_id, now)
            if info is None:
                return None
            if info.state is SecretState.PENDING:
                _end(conn, share_id, SecretState.REVOKED, now)
                return SecretState.REVOKED
            if info.state is SecretState.EXPIRED:
                _end(conn, share_id, SecretState.EXPIRED, info.expires_at)
            return info.state

        return await self._run(op)

    async def sweep(self, now: float) -> int:
        """Mark expired shares, drop their envelopes, and forget tombstones past their time."""

        def op(conn: sqlite3.Connection) -> int:
            expired = [row[0] for row in conn.execute(
                "SELECT id FROM secrets WHERE state = ? AND expires_at <= ?", (SecretState.PENDING.value, now))]
            for share_id in expired:
                conn.execute("UPDATE secrets SET state = ?, ended_at = expires_at WHERE id = ?",
                             (SecretState.EXPIRED.value, share_id))
                _drop_envelope(conn, share_id)
            forgotten = conn.execute("DELETE FROM secrets WHERE ended_at IS NOT NULL AND ended_at <= ?",
                                     (now - TOMBSTONE_S,)).rowcount
            return len(expired) + forgotten

        touched = await self._run(op)
        # The expired envelopes were scrubbed with the batch that deleted them; this also keeps the
        # WAL from growing when nothing ended.
        await self._run_outside_transaction("PRAGMA wal_checkpoint(TRUNCATE)")
        return touched

    async def _run_outside_transaction(self, sql: str) -> None:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._worker.jobs.put((Bare(sql), future))
        await future

    async def stored_bytes(self) -> int:
        """The total size of the envelopes held (read without loading them: SQLite knows a blob's length)."""
        return int(self._read(lambda conn: conn.execute(
            "SELECT coalesce(sum(length(data)), 0) FROM envelopes").fetchone()[0]))

    async def ping(self) -> None:
        """Run a trivial query through the worker."""
        await self._run(lambda conn: conn.execute("SELECT 1").fetchone())
        self._read(lambda conn: conn.execute("SELECT count(*) FROM secrets WHERE 0").fetchone())

    async def close(self) -> None:
        """Finish queued work, then close the connection."""
        if self._closed:
            return
        self._closed = True
        self._reader.close()
        self._worker.jobs.put(None)
        await asyncio.to_thread(self._worker.join)


def _row_info(row: sqlite3.Row | tuple[Any, ...], now: float) -> SecretInfo:
    (share_id, state, header, needs_passphrase, status_hash, created_at, expires_at, max_views, views_left,
     failed, blocked, cidrs, reveals, ended_at, link_hash, countries) = row
    current = SecretState(state)
    if current is SecretState.PENDING and now >= expires_at:
        current, ended_at = SecretState.EXPIRED, expires_at
    return SecretInfo(
        id=share_id, state=current, header=bytes(header), needs_passphrase=bool(needs_passphrase),
        status_hash=status_hash, created_at=created_at, expires_at=expires_at, max_views=max_views,
        views_left=views_left, failed_attempts=failed, blocked_attempts=blocked,
        allow_cidrs=tuple(json.loads(cidrs)),
        reveals=tuple(RevealRecord(at=r["at"], ip=r["ip"]) for r in json.loads(reveals)), ended_at=ended_at,
        link_hash=link_hash, allow_countries=tuple(json.loads(countries)),
    )  # fmt: skip


def _info(conn: sqlite3.Connection, share_id: str, now: float) -> SecretInfo | None:
    row = conn.execute(f"SELECT {_COLUMNS} FROM secrets WHERE id = ?", (share_id,)).fetchone()  # noqa: S608
    return None if row is None else _row_info(row, now)


def _end(conn: sqlite3.Connection, share_id: str, state: SecretState, at: float) -> None:
    conn.execute("UPDATE secrets SET state = ?, ended_at = ? WHERE id = ?", (state.value, at, share_id))
    _drop_envelope(conn, share_id)


def _drop_envelope(conn: sqlite3.Connection, share_id: str) -> None:
    """Delete a share's envelope, and have the writer scrub the WAL before it answers."""
    conn.execute("DELETE FROM envelopes WHERE id = ?", (share_id,))
    scrub_after_commit(conn)


def _reveal(conn: sqlite3.Connection, share_id: str, auth_hash: str, ip: str, now: float) -> RevealResult:
    row = conn.execute("SELECT state, expires_at, auth_hash, views_left, failed_attempts, reveals FROM secrets"
                       " WHERE id = ?", (share_id,)).fetchone()
    if row is None:
        return RevealResult(RevealOutcome.NOT_FOUND)
    state, expires_at, stored_hash, views_left, failed, reveals = row
    if state != SecretState.PENDING.value:
        return RevealResult(RevealOutcome.GONE, state=SecretState(state))
    if now >= expires_at:
        _end(conn, share_id, SecretState.EXPIRED, expires_at)
        return RevealResult(RevealOutcome.GONE, state=SecretState.EXPIRED)
    if not hmac.compare_digest(stored_hash.encode(), auth_hash.encode()):
        failed += 1
        conn.execute("UPDATE secrets SET failed_attempts = ? WHERE id = ?", (failed, share_id))
        if failed >= MAX_FAILED_ATTEMPTS:
            _end(conn, share_id, SecretState.BURNED, now)
            return RevealResult(RevealOutcome.BURNED, state=SecretState.BURNED)
        return RevealResult(RevealOutcome.WRONG_TOKEN, attempts_left=MAX_FAILED_ATTEMPTS - failed,
                            state=SecretState.PENDING)
    envelope_row = conn.execute("SELECT data FROM envelopes WHERE id = ?", (share_id,)).fetchone()
    if envelope_row is None:  # cannot happen while pending; refuse rather than serve nothing
        _end(conn, share_id, SecretState.BURNED, now)
        return RevealResult(RevealOutcome.GONE, state=SecretState.BURNED)
    views_left -= 1
    history = json.loads(reveals)
    history.append({"at": now, "ip": ip})
    state_after = SecretState.PENDING if views_left else SecretState.REVEALED
    conn.execute("UPDATE secrets SET views_left = ?, reveals = ?, state = ?, ended_at = ? WHERE id = ?",
                 (views_left, json.dumps(history), state_after.value, None if views_left else now, share_id))
    if views_left == 0:
        _drop_envelope(conn, share_id)
    return RevealResult(RevealOutcome.REVEALED, envelope=bytes(envelope_row[0]), views_left=views_left,
                        attempts_left=MAX_FAILED_ATTEMPTS - failed, state=state_after)
