"""The local table of the one-time links this installation made.

One row per link: the share id, the relay it lives on, the sender's *status token*
(what the relay asks for before it shows the status or revokes), the times and the
policy, and the notes the user typed (label, recipient). There is no column for the
plaintext, the envelope or the fragment key: this file can never open a secret.

The status token is a credential for one share's status and revocation. It is kept
in a file readable by the owner only (0600, in a 0700 folder), and no ``repr`` or
``str`` of a record shows it.

The ``seen_*`` columns remember what the sender was already told (and what was
already written to the audit log) so that ``status`` and ``watch`` record each
reveal, failed attempt and ending exactly once.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

from ots_desktop.core import private_files
from ots_desktop.core.errors import InputError, OtsError

SCHEMA_VERSION = 1
_COLUMNS = ("share_id", "relay_url", "status_token", "created_at", "expires_at", "max_views", "recipient",
            "label", "kind", "seen_reveals", "seen_failed", "seen_blocked", "seen_state")
_SCHEMA = """
CREATE TABLE IF NOT EXISTS shares (
    share_id TEXT PRIMARY KEY,
    relay_url TEXT NOT NULL,
    status_token TEXT NOT NULL,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    max_views INTEGER NOT NULL,
    recipient TEXT,
    label TEXT,
    kind TEXT NOT NULL,
    seen_reveals INTEGER NOT NULL DEFAULT 0,
    seen_failed INTEGER NOT NULL DEFAULT 0,
    seen_blocked INTEGER NOT NULL DEFAULT 0,
    seen_state TEXT
);
CREATE INDEX IF NOT EXISTS shares_created ON shares (created_at);
"""
_SELECT = (
    "SELECT share_id, relay_url, status_token, created_at, expires_at, max_views, recipient, label, kind, "
    "seen_reveals, seen_failed, seen_blocked, seen_state FROM shares"
)
_INSERT = (
    "INSERT INTO shares (share_id, relay_url, status_token, created_at, expires_at, max_views, recipient, label, "
    "kind, seen_reveals, seen_failed, seen_blocked, seen_state) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)


class SharesError(OtsError):
    """The local shares file cannot be read or written."""


@dataclass(frozen=True)
class Seen:
    """What the sender has already been told about a share (and the audit log holds)."""

    reveals: int = 0
    failed: int = 0
    blocked: int = 0
    state: str | None = None


@dataclass(frozen=True)
class ShareRecord:
    """One link this installation made. ``status_token`` never appears in ``repr``/``str``."""

    share_id: str
    relay_url: str
    status_token: str
    created_at: str
    expires_at: str
    max_views: int
    kind: str
    recipient: str | None = None
    label: str | None = None
    seen: Seen = Seen()

    def __repr__(self) -> str:
        return (f"ShareRecord(share_id={self.share_id!r}, relay_url={self.relay_url!r}, status_token=[redacted], "
                f"created_at={self.created_at!r}, expires_at={self.expires_at!r}, max_views={self.max_views}, "
                f"kind={self.kind!r}, recipient={self.recipient!r}, label={self.label!r}, seen={self.seen!r})")

    __str__ = __repr__

    def with_seen(self, seen: Seen) -> ShareRecord:
        """A copy with ``seen`` replaced."""
        return replace(self, seen=seen)


def _row_to_record(row: Sequence[object]) -> ShareRecord:
    values = dict(zip(_COLUMNS, row, strict=True))
    seen = Seen(int(str(values["seen_reveals"])), int(str(values["seen_failed"])), int(str(values["seen_blocked"])),
                None if values["seen_state"] is None else str(values["seen_state"]))
    return ShareRecord(
        share_id=str(values["share_id"]), relay_url=str(values["relay_url"]),
        status_token=str(values["status_token"]), created_at=str(values["created_at"]),
        expires_at=str(values["expires_at"]), max_views=int(str(values["max_views"])), kind=str(values["kind"]),
        recipient=None if values["recipient"] is None else str(values["recipient"]),
        label=None if values["label"] is None else str(values["label"]), seen=seen,
    )  # fmt: skip


def _private_file(path: Path) -> None:
    """Create ``path`` (0600, in a 0700 folder) if missing; tighten an existing file to 0600."""
    private_files.ensure_private(path, tighten=True)


class ShareStore:
    """The shares file. Open it with :meth:`open`; close it (or use ``with``) when done."""

    def __init__(self, path: Path, db: sqlite3.Connection) -> None:
        self.path = path
        self._db = db

    @classmethod
    def open(cls, path: Path) -> ShareStore:
        """Open (creating if needed) the shares file at ``path``."""
        try:
            _private_file(path)
            db = sqlite3.connect(path, isolation_level=None, timeout=30, check_same_thread=False)
        except (OSError, sqlite3.Error) as exc:
            raise SharesError(f"cannot open the shares file {path}: {exc}") from None
        try:
            version = int(db.execute("PRAGMA user_version").fetchone()[0])
            if version > SCHEMA_VERSION:
                raise SharesError(f"the shares file {path} was written by a newer version of ots-desktop")
            db.execute("PRAGMA synchronous=FULL")
            db.executescript(_SCHEMA)
            db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
        except sqlite3.Error as exc:
            db.close()
            raise SharesError(f"cannot open the shares file {path}: {exc}") from None
        except BaseException:
            db.close()
            raise
        return cls(path, db)

    def close(self) -> None:
        """Close the file."""
        self._db.close()

    def __enter__(self) -> ShareStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @contextmanager
    def _errors(self, what: str) -> Iterator[None]:
        try:
            yield
        except sqlite3.IntegrityError:
            raise SharesError(f"cannot {what}: a share with this id is already recorded") from None
        except sqlite3.Error as exc:
            raise SharesError(f"cannot {what} in {self.path}: {exc}") from None

    def add(self, record: ShareRecord) -> None:
        """Record a new share (durably, before this returns)."""
        if not record.status_token:
            raise InputError("a share record needs its status token")
        values = (record.share_id, record.relay_url, record.status_token, record.created_at, record.expires_at,
                  record.max_views, record.recipient, record.label, record.kind, record.seen.reveals,
                  record.seen.failed, record.seen.blocked, record.seen.state)
        with self._errors("record the share"):
            self._db.execute(_INSERT, values)

    def get(self, share_id: str) -> ShareRecord | None:
        """The share with this id, or None."""
        with self._errors("read the share"):
            row = self._db.execute(_SELECT + " WHERE share_id = ?", (share_id,)).fetchone()
        return None if row is None else _row_to_record(row)

    def list(self, *, limit: int | None = None) -> list[ShareRecord]:
        """Shares, newest first."""
        sql = _SELECT + " ORDER BY created_at DESC, rowid DESC"
        params: tuple[int, ...] = ()
        if limit is not None:
            sql += " LIMIT ?"
            params = (limit,)
        with self._errors("list the shares"):
            rows = self._db.execute(sql, params).fetchall()
        return [_row_to_record(row) for row in rows]

    def mark_seen(self, share_id: str, seen: Seen) -> None:
        """Remember what the sender has now been told about ``share_id``."""
        with self._errors("update the share"):
            self._db.execute(
                "UPDATE shares SET seen_reveals = ?, seen_failed = ?, seen_blocked = ?, seen_state = ? "
                "WHERE share_id = ?", (seen.reveals, seen.failed, seen.blocked, seen.state, share_id))

    def remove(self, share_id: str) -> bool:
        """Forget a share; returns whether it was there."""
        with self._errors("forget the share"):
            cursor = self._db.execute("DELETE FROM shares WHERE share_id = ?", (share_id,))
        return cursor.rowcount > 0
