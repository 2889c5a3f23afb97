"""The local table of the secret requests this installation made.

One row per request: its id, the relay, the requester's *status token* (what the relay asks
before it hands out the answer, shows the status or revokes), the times, the notes the user
typed (label, recipient), and what the requester was already told (and the audit log
already holds), so that ``status`` and ``watch`` record each answer, alert and ending once.
There is no column for the private key (it waits in the keychain), the link's fragment or
the answer: this file can never open one. It is readable by the owner only.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

from ots_desktop.core.errors import OtsError
from ots_desktop.core.shares import _private_file

_COLUMNS = ("request_id", "relay_url", "status_token", "created_at", "expires_at", "recipient", "label",
            "seen_state", "seen_refused", "seen_blocked", "answered_logged")
_SCHEMA = """
CREATE TABLE IF NOT EXISTS requests (
    request_id TEXT PRIMARY KEY,
    relay_url TEXT NOT NULL,
    status_token TEXT NOT NULL,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    recipient TEXT,
    label TEXT,
    seen_state TEXT NOT NULL DEFAULT 'pending',
    seen_refused INTEGER NOT NULL DEFAULT 0,
    seen_blocked INTEGER NOT NULL DEFAULT 0,
    answered_logged INTEGER NOT NULL DEFAULT 0
);
"""
_SELECT = f"SELECT {', '.join(_COLUMNS)} FROM requests"  # noqa: S608 - fixed column names


class RequestsError(OtsError):
    """The local requests file cannot be read or written."""


@dataclass(frozen=True)
class RequestRecord:
    """One request made here. ``status_token`` never appears in ``repr``/``str``."""

    request_id: str
    relay_url: str
    status_token: str
    created_at: str
    expires_at: str
    recipient: str | None = None
    label: str | None = None
    seen_state: str = "pending"
    seen_refused: int = 0
    seen_blocked: int = 0
    answered_logged: bool = False

    def __repr__(self) -> str:
        return (f"RequestRecord(request_id={self.request_id!r}, relay_url={self.relay_url!r}, "
                f"status_token=[redacted], seen_state={self.seen_state!r})")

    __str__ = __repr__

    def seen(self, **changes: object) -> RequestRecord:
        """A copy with the ``seen_*`` fields (or ``answered_logged``) changed."""
        return replace(self, **changes)  # type: ignore[arg-type]

    @property
    def ended(self) -> bool:
        """Whether the request has ended as far as this installation knows."""
        return self.seen_state in ("opened", "expired", "revoked")


class RequestRecords:
    """The requests file; use as a context manager."""

    def __init__(self, path: Path, db: sqlite3.Connection) -> None:
        self.path = path
        self._db = db

    @classmethod
    def open(cls, path: Path) -> RequestRecords:
        """Open (creating if needed) the requests file at ``path`` (0600 in a 0700 folder)."""
        try:
            _private_file(path)
            db = sqlite3.connect(path, isolation_level=None, timeout=30, check_same_thread=False)
            db.execute("PRAGMA synchronous=FULL")
            db.executescript(_SCHEMA)
        except (OSError, sqlite3.Error) as exc:
            raise RequestsError(f"cannot open the requests file {path}: {exc}") from None
        return cls(path, db)

    def close(self) -> None:
        """Close the file."""
        self._db.close()

    def __enter__(self) -> RequestRecords:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @contextmanager
    def _errors(self, what: str) -> Iterator[None]:
        try:
            yield
        except sqlite3.Error as exc:
            raise RequestsError(f"cannot {what} in {self.path}: {exc}") from None

    def add(self, record: RequestRecord) -> None:
        """Record a new request, durably."""
        values = tuple(getattr(record, name) for name in _COLUMNS)
        with self._errors("record the request"):
            self._db.execute(f"INSERT INTO requests ({', '.join(_COLUMNS)}) VALUES "  # noqa: S608
                             f"({', '.join('?' * len(_COLUMNS))})", values)

    def get(self, request_id: str) -> RequestRecord | None:
        """The request with this id, or None."""
        with self._errors("read the request"):
            row = self._db.execute(_SELECT + " WHERE request_id = ?", (request_id,)).fetchone()
        return None if row is None else _record(row)

    def list(self, *, limit: int = 50) -> list[RequestRecord]:
        """Requests, newest first."""
        with self._errors("list the requests"):
            rows = self._db.execute(_SELECT + " ORDER BY created_at DESC, rowid DESC LIMIT ?", (limit,)).fetchall()
        return [_record(row) for row in rows]

    def update(self, record: RequestRecord) -> None:
        """Remember what the requester has now been told."""
        with self._errors("update the request"):
            self._db.execute("UPDATE requests SET seen_state = ?, seen_refused = ?, seen_blocked = ?, "
                             "answered_logged = ? WHERE request_id = ?",
                             (record.seen_state, record.seen_refused, record.seen_blocked,
                              int(record.answered_logged), record.request_id))


def _record(row: tuple[object, ...]) -> RequestRecord:
    values = dict(zip(_COLUMNS, row, strict=True))
    values["answered_logged"] = bool(values["answered_logged"])
    return RequestRecord(**values)  # type: ignore[arg-type]
