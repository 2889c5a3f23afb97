"""The spool of audit entries and checkpoints not yet acknowledged by a collector.

One SQLite file (``forward-spool.sqlite3`` in the data directory, mode 0600) that every
process of an installation shares: the app, each ``ots`` command. Per destination
(``syslog``, ``http``) it keeps:

- ``items``: what is still to be sent, in the order it must arrive (entry N, then the
  checkpoint at N); rows go once the collector took them;
- ``marks``: the highest entry and checkpoint spooled per log, which only move forward: an
  entry is spooled once, however many processes saw it appended, and whatever the log holds
  beyond the mark is still to be spooled (after a crash, or from a process that had no
  forwarding yet);
- ``status``: the last success, the last error and when to try again (the backoff);
- ``leases``: which process is sending to a destination right now, so two do not send the
  same rows at once.

Entries hold no secret (see events.py); the spool holds nothing else.
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ots_desktop.core import private_files
from ots_desktop.core.audit.checkpoint import Checkpoint
from ots_desktop.core.audit.forward_format import Outgoing
from ots_desktop.core.audit.store import Row
from ots_desktop.core.errors import AuditError
from ots_desktop.core.times import utc_now_ms

SPOOL_FILE = "forward-spool.sqlite3"
DESTINATIONS = ("syslog", "http")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS items (
    id INTEGER PRIMARY KEY AUTOINCREMENT, dest TEXT NOT NULL, kind TEXT NOT NULL, log_id TEXT NOT NULL,
    seq INTEGER NOT NULL, payload TEXT NOT NULL, prev_hash TEXT NOT NULL, entry_hash TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS items_dest ON items (dest, id);
CREATE TABLE IF NOT EXISTS marks (dest TEXT NOT NULL, log_id TEXT NOT NULL, entry_seq INTEGER NOT NULL,
    cp_seq INTEGER NOT NULL, PRIMARY KEY (dest, log_id));
CREATE TABLE IF NOT EXISTS status (dest TEXT PRIMARY KEY, url TEXT NOT NULL DEFAULT '',
    last_success TEXT NOT NULL DEFAULT '', last_error TEXT NOT NULL DEFAULT '',
    last_error_at TEXT NOT NULL DEFAULT '', failures INTEGER NOT NULL DEFAULT 0,
    next_attempt REAL NOT NULL DEFAULT 0, sent INTEGER NOT NULL DEFAULT 0, last_seq INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS leases (dest TEXT PRIMARY KEY, owner TEXT NOT NULL, until REAL NOT NULL);
"""


@dataclass(frozen=True)
class SpooledItem:
    """A row of the spool."""

    id: int
    item: Outgoing


@dataclass(frozen=True)
class DestinationStatus:
    """What ``ots audit forward --status`` and the Settings page show for one destination."""

    dest: str
    url: str
    backlog: int
    last_success: str
    last_error: str
    last_error_at: str
    failures: int
    next_attempt: float
    sent: int
    last_seq: int


class ForwardSpool:
    """One process's connection to the spool file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            if not path.exists():
                private_files.ensure_private(path)
            os.chmod(path, 0o600)
            self._db = sqlite3.connect(path, isolation_level=None, timeout=10, check_same_thread=False)
            self._db.execute("PRAGMA journal_mode=WAL")
            # Durable against a killed process; a power cut is covered by the marks (the log is fsynced).
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(_SCHEMA)
        except (sqlite3.Error, OSError) as exc:
            raise AuditError(f"cannot open the forwarding spool {path}: {exc}") from None
        for suffix in ("-wal", "-shm"):
            side = Path(f"{path}{suffix}")
            if side.exists():
                os.chmod(side, 0o600)

    def close(self) -> None:
        """Close the connection."""
        self._db.close()

    def _begin(self) -> None:
        self._db.execute("BEGIN IMMEDIATE")

    def _end(self, ok: bool) -> None:
        self._db.execute("COMMIT" if ok else "ROLLBACK")

    # -- spooling ---------------------------------------------------------------------

    def marks(self, dest: str, log_id: str) -> tuple[int, int]:
        """The highest (entry seq, checkpoint seq) spooled for ``dest`` and ``log_id``."""
        row = self._db.execute("SELECT entry_seq, cp_seq FROM marks WHERE dest = ? AND log_id = ?",
                               (dest, log_id)).fetchone()
        return (int(row[0]), int(row[1])) if row else (0, 0)

    def add(self, dest: str, log_id: str, rows: Sequence[Row], checkpoint: Checkpoint | None) -> int:
        """Spool the entries of ``rows`` beyond the mark (they must follow each other), then ``checkpoint``.

        Returns how many items were added. Entries at or below the mark were spooled before
        (by this or another process) and are skipped.
        """
        added = 0
        self._begin()
        ok = False
        try:
            entry_mark, cp_mark = self.marks(dest, log_id)
            for seq, body, prev, digest in rows:
                if seq <= entry_mark:
                    continue
                if seq != entry_mark + 1:
                    break  # a gap: the caller spools from the mark first
                self._insert(dest, "entry", log_id, seq, body, prev, digest)
                entry_mark, added = seq, added + 1
            if checkpoint is not None and cp_mark < checkpoint.seq <= entry_mark:
                self._insert(dest, "checkpoint", log_id, checkpoint.seq, checkpoint.to_json(), "", "")
                cp_mark, added = checkpoint.seq, added + 1
            self._db.execute("INSERT OR REPLACE INTO marks (dest, log_id, entry_seq, cp_seq) VALUES (?, ?, ?, ?)",
                             (dest, log_id, entry_mark, cp_mark))
            ok = True
        finally:
            self._end(ok)
        return added

    def _insert(self, dest: str, kind: str, log_id: str, seq: int, payload: str, prev: str, digest: str) -> None:
        self._db.execute("INSERT INTO items (dest, kind, log_id, seq, payload, prev_hash, entry_hash) "
                         "VALUES (?, ?, ?, ?, ?, ?, ?)", (dest, kind, log_id, seq, payload, prev, digest))

    # -- sending ----------------------------------------------------------------------

    def pending(self, dest: str, limit: int) -> list[SpooledItem]:
        """The oldest ``limit`` items for ``dest``, in order."""
        found = self._db.execute("SELECT id, kind, log_id, seq, payload, prev_hash, entry_hash FROM items "
                                 "WHERE dest = ? ORDER BY id LIMIT ?", (dest, limit)).fetchall()
        return [SpooledItem(int(r[0]), Outgoing(r[1], r[2], int(r[3]), r[4], r[5], r[6])) for r in found]

    def backlog(self, dest: str) -> int:
        """How many items wait for ``dest``."""
        return int(self._db.execute("SELECT count(*) FROM items WHERE dest = ?", (dest,)).fetchone()[0])

    def delivered(self, dest: str, url: str, items: Sequence[SpooledItem]) -> None:
        """Drop ``items``, which the collector took, and record the success."""
        if not items:
            return
        self._begin()
        ok = False
        try:
            self._db.executemany("DELETE FROM items WHERE id = ?", [(i.id,) for i in items])
            last = max((i.item.seq for i in items if i.item.kind == "entry"), default=0)
            self._status_row(dest, url)
            self._db.execute("UPDATE status SET last_success = ?, failures = 0, next_attempt = 0, sent = sent + ?, "
                             "last_seq = max(last_seq, ?) WHERE dest = ?", (utc_now_ms(), len(items), last, dest))
            ok = True
        finally:
            self._end(ok)

    def failed(self, dest: str, url: str, message: str, backoff: float) -> int:
        """Record a failed attempt (``message`` holds no secret); returns the failures in a row."""
        self._begin()
        ok = False
        try:
            self._status_row(dest, url)
            self._db.execute("UPDATE status SET last_error = ?, last_error_at = ?, failures = failures + 1, "
                             "next_attempt = ? WHERE dest = ?", (message[:500], utc_now_ms(), time.time() + backoff,
                                                                 dest))
            row = self._db.execute("SELECT failures FROM status WHERE dest = ?", (dest,)).fetchone()
            ok = True
        finally:
            self._end(ok)
        return int(row[0])

    def _status_row(self, dest: str, url: str) -> None:
        self._db.execute("INSERT OR IGNORE INTO status (dest) VALUES (?)", (dest,))
        self._db.execute("UPDATE status SET url = ? WHERE dest = ?", (url, dest))

    def status(self, dest: str) -> DestinationStatus:
        """The destination's backlog and its last success and error."""
        row = self._db.execute("SELECT url, last_success, last_error, last_error_at, failures, next_attempt, sent, "
                               "last_seq FROM status WHERE dest = ?", (dest,)).fetchone()
        row = row or ("", "", "", "", 0, 0.0, 0, 0)
        return DestinationStatus(dest, str(row[0]), self.backlog(dest), str(row[1]), str(row[2]), str(row[3]),
                                 int(row[4]), float(row[5]), int(row[6]), int(row[7]))

    def failures(self, dest: str) -> tuple[int, float]:
        """(failures in a row, the time before which not to try again)."""
        row = self._db.execute("SELECT failures, next_attempt FROM status WHERE dest = ?", (dest,)).fetchone()
        return (int(row[0]), float(row[1])) if row else (0, 0.0)

    def take_lease(self, dest: str, owner: str, seconds: float) -> bool:
        """Become the one process sending to ``dest`` for ``seconds`` (renewable); False when another is."""
        now = time.time()
        self._begin()
        ok = False
        try:
            row = self._db.execute("SELECT owner, until FROM leases WHERE dest = ?", (dest,)).fetchone()
            mine = row is None or row[0] == owner or float(row[1]) < now or _owner_gone(str(row[0]))
            if mine:
                self._db.execute("INSERT OR REPLACE INTO leases (dest, owner, until) VALUES (?, ?, ?)",
                                 (dest, owner, now + seconds))
            ok = True
        finally:
            self._end(ok)
        return mine

    def release_lease(self, dest: str, owner: str) -> None:
        """Give the lease back."""
        self._db.execute("DELETE FROM leases WHERE dest = ? AND owner = ?", (dest, owner))


def _owner_gone(owner: str) -> bool:
    """Whether the process holding a lease (``PID-nonce``) has ended; only asked where signal 0 is a probe."""
    pid = owner.partition("-")[0]
    if os.name != "posix" or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except OSError:
        return False
    return False
