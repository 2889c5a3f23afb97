"""The embedded link store: one SQLite file in WAL mode, one writer connection with group commit.

Every change runs on the one writer connection of :mod:`ots_desktop.server.sqlite_writer`,
in groups: creates and reveals on the event loop, their commit on the writer thread
(:mod:`ots_desktop.server.sqlite_batches`), everything else on that thread. Each group is
committed (``synchronous = FULL``: the WAL is fsynced) before its callers are answered. A
create is therefore on disk before its 201, and a reveal's claim is on disk before the
envelope leaves the server. Because one connection, under one lock, is the only writer and
each operation reads and changes its row inside the transaction, a view is consumed at
most once. One process per store file: a second process writing it would make the loop wait.

Reads that change nothing (``info``, ``ping``) use a second, read-only connection on the
caller's thread instead: in WAL mode a reader sees every committed change and never waits
for the writer, and a lookup is microseconds, so it does not queue behind a batch's fsync.

Envelopes sit in their own table and are deleted the moment a share ends: ``secure_delete``
zeroes the freed pages, and the writer checkpoints and truncates the WAL before it answers or,
when the previous checkpoint is under a second old, a second after that one (see
:mod:`ots_desktop.server.sqlite_writer`), so no file of the store holds them after that; the
row in ``secrets`` stays as a tombstone for ``ots link status`` until TOMBSTONE_S after it ended.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from ots_desktop.server.blob_files import BlobFiles, FileBlob, FileUpload
from ots_desktop.server.link_model import (
    MAX_FAILED_ATTEMPTS,
    TOMBSTONE_S,
    BlobUpload,
    NewSecret,
    RevealOutcome,
    RevealRecord,
    RevealResult,
    SecretInfo,
    SecretState,
)
from ots_desktop.server.sqlite_batches import LoopBatches
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
CREATE TABLE IF NOT EXISTS blobs (id TEXT PRIMARY KEY, path TEXT NOT NULL, size INTEGER NOT NULL);
"""
_COLUMNS = ("id, state, header, needs_passphrase, status_hash, created_at, expires_at, max_views, views_left,"
            " failed_attempts, blocked_attempts, allow_cidrs, reveals, ended_at, link_hash, allow_countries")
# A share's record and, when its envelope is kept as a file, that file's size: one lookup.
_INFO = (f"SELECT {', '.join('s.' + name.strip() for name in _COLUMNS.split(','))}, b.size"  # noqa: S608
         " FROM secrets AS s LEFT JOIN blobs AS b ON b.id = s.id WHERE s.id = ?")
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
    streaming = True  # large envelopes go to files (server/blob_files.py), streamed in and out

    def __init__(self, path: Path, worker: Writer, reader: sqlite3.Connection) -> None:
        self.path = path
        self.blobs = BlobFiles(path.parent / f"{path.stem}-envelopes")
        self._worker = worker
        self._batches = LoopBatches(worker)
        self._reader = reader
        self._closed = False

    @classmethod
    async def open(cls, path: Path) -> SqliteStore:
        """Open (creating if needed) the store at ``path``, readable by the owner only."""
        return await asyncio.to_thread(cls._open_sync, path)

    @classmethod
    def _open_sync(cls, path: Path) -> SqliteStore:
        worker, reader = open_private_store(path, _SCHEMA, "link store", factory=WriterConnection, upgrade=_upgrade)
        store = cls(path, worker, reader)
        # Part files of uploads cut off by a stop or a crash, and files whose share is gone: nobody's.
        store.blobs.sweep(row[0] for row in reader.execute("SELECT id FROM blobs"))
        return store

    async def _run(self, op: Callable[[sqlite3.Connection], T]) -> T:
        if self._closed:
            raise StoreError("the link store is closed")
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._worker.jobs.put((op, future))
        return await future

    async def _run_on_loop(self, op: Callable[[sqlite3.Connection], T]) -> T:
        """Like ``_run``, for an operation short enough to run on the event loop (server/sqlite_batches.py)."""
        if self._closed:
            raise StoreError("the link store is closed")
        return await self._batches.run(op)  # type: ignore[no-any-return]

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
            if not _insert_share(conn, secret):
                return False
            conn.execute("INSERT INTO envelopes (id, data) VALUES (?, ?)", (secret.id, secret.envelope))
            return True

        return await self._run_on_loop(op)

    async def new_upload(self, share_id: str) -> FileUpload:
        """A new part file in the envelopes folder."""
        return self.blobs.new_part(share_id)

    async def create_streamed(self, secret: NewSecret, upload: BlobUpload, size: int) -> bool:
        """Record the share and move its complete, fsynced envelope file into place, in one step of the
        writer; False (and the part file removed) if the id is taken."""
        assert isinstance(upload, FileUpload)
        part = upload.path

        def op(conn: sqlite3.Connection) -> bool:
            if not _insert_share(conn, secret):
                BlobFiles.discard(part)
                return False
            final = self.blobs.path(secret.id)
            # When another operation of its batch fails, the writer runs each again on its own: the
            # first run may have renamed the file already. With neither file there, the upload was
            # given up (its caller cancelled): the rename fails, and so does this operation.
            if part.exists() or not final.exists():
                final = self.blobs.commit(part, secret.id)
            conn.execute("INSERT INTO blobs (id, path, size) VALUES (?, ?, ?)", (secret.id, str(final), size))
            return True

        try:
            return await self._run(op)
        except asyncio.CancelledError:
            BlobFiles.discard(part)  # the operation may still run: it then fails for want of the file
            raise
        except Exception:
            BlobFiles.discard(part)
            with contextlib.suppress(StoreError):
                if await self.blob_size(secret.id) is None:  # renamed into place, but the record rolled back
                    BlobFiles.discard(self.blobs.path(secret.id))
            raise

    async def blob_size(self, share_id: str) -> int | None:
        """The size of a share's envelope when it is kept as a file, else None."""
        row = self._read(lambda conn: conn.execute("SELECT size FROM blobs WHERE id = ?", (share_id,)).fetchone())
        return None if row is None else int(row[0])

    async def info(self, share_id: str, now: float, *, history: bool = True) -> SecretInfo | None:
        """The share's record with its state as of ``now`` (``history`` always: it is in the same row)."""
        return self._read(lambda conn: _info(conn, share_id, now))

    async def reveal(self, share_id: str, auth_hash: str, ip: str, now: float) -> RevealResult:
        """Claim one view (durably) and return the envelope, or say why not."""
        return await self._run_on_loop(lambda conn: _reveal(conn, share_id, auth_hash, ip, now))

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
        # The expired envelopes are scrubbed now rather than on the writer's timer; this also keeps
        # the WAL from growing when nothing ended.
        await self._run_outside_transaction("PRAGMA wal_checkpoint(TRUNCATE)")
        return touched

    async def _run_outside_transaction(self, sql: str) -> None:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._worker.jobs.put((Bare(sql), future))
        await future

    async def stored_bytes(self) -> int:
        """The total size of the envelopes held (read without loading them: SQLite knows a blob's length)."""
        return int(self._read(lambda conn: conn.execute(
            "SELECT coalesce(sum(length(data)), 0) + (SELECT coalesce(sum(size), 0) FROM blobs)"
            " FROM envelopes").fetchone()[0]))

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
        self._batches.close()
        self._worker.jobs.put(None)
        await asyncio.to_thread(self._worker.join)


def _row_info(row: sqlite3.Row | tuple[Any, ...], now: float) -> SecretInfo:
    (share_id, state, header, needs_passphrase, status_hash, created_at, expires_at, max_views, views_left,
     failed, blocked, cidrs, reveals, ended_at, link_hash, countries, stream_size) = row
    current = SecretState(state)
    if current is SecretState.PENDING and now >= expires_at:
        current, ended_at = SecretState.EXPIRED, expires_at
    return SecretInfo(
        id=share_id, state=current, header=bytes(header), needs_passphrase=bool(needs_passphrase),
        status_hash=status_hash, created_at=created_at, expires_at=expires_at, max_views=max_views,
        views_left=views_left, failed_attempts=failed, blocked_attempts=blocked,
        allow_cidrs=_json_tuple(cidrs),
        reveals=tuple(RevealRecord(at=r["at"], ip=r["ip"]) for r in json.loads(reveals)) if reveals != "[]" else (),
        ended_at=ended_at, link_hash=link_hash, allow_countries=_json_tuple(countries), stream_size=stream_size,
    )  # fmt: skip


def _json_tuple(text: str) -> tuple[str, ...]:
    return tuple(json.loads(text)) if text != "[]" else ()  # most shares have no rule: skip the parser


def _json_list(values: tuple[str, ...]) -> str:
    return json.dumps(list(values)) if values else "[]"


def _info(conn: sqlite3.Connection, share_id: str, now: float) -> SecretInfo | None:
    row = conn.execute(_INFO, (share_id,)).fetchone()
    return None if row is None else _row_info(row, now)


def _end(conn: sqlite3.Connection, share_id: str, state: SecretState, at: float) -> None:
    conn.execute("UPDATE secrets SET state = ?, ended_at = ? WHERE id = ?", (state.value, at, share_id))
    _drop_envelope(conn, share_id)


def _insert_share(conn: sqlite3.Connection, secret: NewSecret) -> bool:
    """Insert a new share's row (not its envelope); False if the id is taken."""
    cursor = conn.execute(
        "INSERT OR IGNORE INTO secrets (id, state, header, needs_passphrase, auth_hash, status_hash,"
        " created_at, expires_at, max_views, views_left, allow_cidrs, link_hash, allow_countries)"
        " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
        (secret.id, SecretState.PENDING.value, secret.header, int(secret.needs_passphrase),
         secret.auth_hash, secret.status_hash, secret.created_at, secret.expires_at,
         secret.max_views, secret.max_views, _json_list(secret.allow_cidrs), secret.link_hash,
         _json_list(secret.allow_countries)),
    )  # fmt: skip
    return cursor.rowcount == 1


def _drop_envelope(conn: sqlite3.Connection, share_id: str) -> None:
    """Delete a share's envelope, and have the writer scrub the WAL (see sqlite_writer.SCRUB_INTERVAL_S)."""
    conn.execute("DELETE FROM envelopes WHERE id = ?", (share_id,))
    for (path,) in conn.execute("DELETE FROM blobs WHERE id = ? RETURNING path", (share_id,)).fetchall():
        BlobFiles.discard(path)  # a reveal streaming it holds it open
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
    views_left -= 1
    # The last view takes the envelope out as it reads it (one statement); a file is opened before its unlink.
    if views_left:
        envelope_row = conn.execute("SELECT data FROM envelopes WHERE id = ?", (share_id,)).fetchone()
    else:
        envelope_row = conn.execute("DELETE FROM envelopes WHERE id = ? RETURNING data", (share_id,)).fetchone()
    blob = None
    if envelope_row is None:
        blob = _open_blob(conn, share_id)
        if blob is not None and not views_left:
            _drop_envelope(conn, share_id)
    elif not views_left:
        scrub_after_commit(conn)
    if envelope_row is None and blob is None:  # cannot happen while pending; refuse rather than serve nothing
        _end(conn, share_id, SecretState.BURNED, now)
        return RevealResult(RevealOutcome.GONE, state=SecretState.BURNED)
    seen = {"at": now, "ip": ip}
    history = json.dumps([*json.loads(reveals), seen] if reveals != "[]" else [seen])
    state_after = SecretState.PENDING if views_left else SecretState.REVEALED
    conn.execute("UPDATE secrets SET views_left = ?, reveals = ?, state = ?, ended_at = ? WHERE id = ?",
                 (views_left, history, state_after.value, None if views_left else now, share_id))
    return RevealResult(RevealOutcome.REVEALED, envelope=None if blob else bytes(envelope_row[0]),
                        views_left=views_left, attempts_left=MAX_FAILED_ATTEMPTS - failed, state=state_after,
                        blob=blob[0] if blob else None, blob_size=blob[1] if blob else 0)


def _open_blob(conn: sqlite3.Connection, share_id: str) -> tuple[FileBlob, int] | None:
    """The share's envelope file, opened (before any unlink of it) inside the claim, and its size."""
    row = conn.execute("SELECT path, size FROM blobs WHERE id = ?", (share_id,)).fetchone()
    if row is None:
        return None
    try:
        return FileBlob(open(row[0], "rb")), int(row[1])
    except OSError:
        return None
