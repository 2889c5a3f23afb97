"""The audit log's SQLite file.

Entries are append-only: triggers refuse UPDATE and DELETE, and every change goes
through one ``BEGIN IMMEDIATE`` transaction so that the GUI and the CLI can append
at the same time. Checkpoints are thinned to the last one of every block of
:data:`CHECKPOINT_BLOCK` entries plus the newest, so verification stays fast
however often the app appends.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator, Sequence
from pathlib import Path

from ots_desktop.core import private_files
from ots_desktop.core.audit.checkpoint import Checkpoint
from ots_desktop.core.errors import AuditError, AuditTamperedError

SCHEMA_VERSION = "2"
CHECKPOINT_BLOCK = 1000
Row = tuple[int, str, str, str]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS entries (
    seq INTEGER PRIMARY KEY,
    body TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    entry_hash TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS entries_fingerprint ON entries (json_extract(body, '$.fingerprint'));
CREATE TABLE IF NOT EXISTS checkpoints (seq INTEGER PRIMARY KEY, body TEXT NOT NULL);
CREATE TRIGGER IF NOT EXISTS entries_no_update BEFORE UPDATE ON entries
BEGIN SELECT RAISE(ABORT, 'audit entries are append-only'); END;
CREATE TRIGGER IF NOT EXISTS entries_no_delete BEFORE DELETE ON entries
BEGIN SELECT RAISE(ABORT, 'audit entries are append-only'); END;
"""


def is_sqlite_file(path: Path) -> bool:
    """Whether ``path`` starts with SQLite's magic header."""
    try:
        with path.open("rb") as handle:
            return handle.read(16) == b"SQLite format 3\x00"
    except OSError:
        return False


class AuditStore:
    """Low-level access to one audit database file."""

    def __init__(self, path: Path, *, read_only: bool = False) -> None:
        self.path = path
        try:
            if read_only:
                self._db = sqlite3.connect(f"{path.absolute().as_uri()}?mode=ro", uri=True,
                                           isolation_level=None, timeout=30, check_same_thread=False)
            else:
                path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
                if not path.exists():
                    private_files.ensure_private(path)
                # The CLI opens the log on a worker thread while the network starts, then uses it
                # on the loop thread; it is never used from two threads at once.
                self._db = sqlite3.connect(path, isolation_level=None, timeout=30, check_same_thread=False)
                self._db.execute("PRAGMA journal_mode=WAL")
                self._db.execute("PRAGMA synchronous=FULL")
                self._db.executescript(_SCHEMA)
            self._identity = _file_identity(path)
        except (sqlite3.Error, OSError) as exc:
            raise AuditError(f"cannot open the audit log {path}: {exc}") from None

    def replaced(self) -> bool:
        """Whether the path no longer names the file this connection has open (moved or swapped)."""
        return _file_identity(self.path) != self._identity

    def is_blank(self) -> bool:
        """Whether the file holds no identity, no entry and no checkpoint."""
        try:
            return not any(self._db.execute(f"SELECT 1 FROM {table} LIMIT 1").fetchone()  # noqa: S608
                           for table in ("meta", "entries", "checkpoints"))
        except sqlite3.Error as exc:
            raise AuditError(f"cannot read the audit log {self.path}: {exc}") from None

    def close(self) -> None:
        """Close the connection."""
        self._db.close()

    def meta(self) -> dict[str, str]:
        """The log's identity: log_id, public_key, key_id, schema."""
        try:
            return dict(self._db.execute("SELECT key, value FROM meta").fetchall())
        except sqlite3.Error as exc:
            raise AuditError(f"cannot read the audit log {self.path}: {exc}") from None

    def set_meta(self, values: dict[str, str]) -> None:
        """Record the log's identity; done once, when the log is created."""
        with self.transaction():
            self._db.executemany("INSERT INTO meta (key, value) VALUES (?, ?)", values.items())

    def transaction(self) -> _Transaction:
        """An immediate write transaction (``with store.transaction(): ...``)."""
        return _Transaction(self._db)

    def head(self) -> tuple[int, str] | None:
        """The last (seq, entry_hash), or None when empty."""
        row = self._db.execute("SELECT seq, entry_hash FROM entries ORDER BY seq DESC LIMIT 1").fetchone()
        return None if row is None else (int(row[0]), str(row[1]))

    def hash_at(self, seq: int) -> str | None:
        """The stored entry hash at ``seq``."""
        row = self._db.execute("SELECT entry_hash FROM entries WHERE seq = ?", (seq,)).fetchone()
        return None if row is None else str(row[0])

    def insert(self, row: Row) -> None:
        """Append one entry; call inside :meth:`transaction`."""
        self._db.execute("INSERT INTO entries (seq, body, prev_hash, entry_hash) VALUES (?, ?, ?, ?)", row)

    def put_checkpoint(self, cp: Checkpoint) -> None:
        """Store ``cp`` and drop superseded checkpoints of the same block."""
        block_start = (cp.seq // CHECKPOINT_BLOCK) * CHECKPOINT_BLOCK
        self._db.execute("DELETE FROM checkpoints WHERE seq > ? AND seq < ?", (block_start, cp.seq))
        self._db.execute("INSERT OR REPLACE INTO checkpoints (seq, body) VALUES (?, ?)", (cp.seq, cp.to_json()))

    def rows(self, start: int = 0) -> Iterator[Row]:
        """Every entry from seq ``start`` on, in seq order."""
        try:
            cursor = self._db.execute("SELECT seq, body, prev_hash, entry_hash FROM entries WHERE seq >= ? "
                                      "ORDER BY seq", (start,))
            for seq, body, prev, digest in cursor:
                yield int(seq), str(body), str(prev), str(digest)
        except sqlite3.Error as exc:
            raise AuditError(f"cannot read the audit log {self.path}: {exc}") from None

    def checkpoints(self, start: int = 0) -> list[Checkpoint]:
        """Stored checkpoints from seq ``start`` on, in seq order; malformed ones raise AuditTamperedError."""
        out = []
        try:
            found = self._db.execute("SELECT seq, body FROM checkpoints WHERE seq >= ? ORDER BY seq",
                                     (start,)).fetchall()
        except sqlite3.Error as exc:
            raise AuditError(f"cannot read the audit log {self.path}: {exc}") from None
        for seq, body in found:
            try:
                cp = Checkpoint.from_json(body)
            except ValueError:
                raise AuditTamperedError(f"the checkpoint at entry {seq} is unreadable: it was altered",
                                         seq=int(seq)) from None
            if cp.seq != seq:
                raise AuditTamperedError(f"the checkpoint stored at entry {seq} names entry {cp.seq}: it was moved "
                                         "or belongs to another log", seq=int(seq))
            out.append(cp)
        return out

    def bodies(self, where: str = "", params: Sequence[object] = (), *, limit: int | None = None,
               newest_first: bool = False) -> list[str]:
        """Entry bodies matching an SQL condition on ``body`` (internal queries only)."""
        sql = "SELECT body FROM entries"
        if where:
            sql += f" WHERE {where}"
        sql += " ORDER BY seq DESC" if newest_first else " ORDER BY seq"
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        return [str(r[0]) for r in self._db.execute(sql, tuple(params))]


def _file_identity(path: Path) -> tuple[int, int]:
    info = os.stat(path)
    return info.st_dev, info.st_ino


class _Transaction:
    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def __enter__(self) -> sqlite3.Connection:
        self._db.execute("BEGIN IMMEDIATE")
        return self._db

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        if exc_type is None:
            self._db.execute("COMMIT")
        else:
            self._db.execute("ROLLBACK")
