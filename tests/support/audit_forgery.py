"""What an attacker does to an audit database: re-hash the chain, re-sign checkpoints, splice entries.

These are the attacker's tools, written against the file format alone (raw SQLite with the
triggers dropped), so the tests exercise the defences, not a helper of the app. Re-signing
needs a private key the attacker stole; without one they can only re-hash.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path

from nacl.signing import SigningKey

from ots_desktop.core.audit.chain import canonical_json, entry_hash
from ots_desktop.core.audit.checkpoint import Checkpoint, key_id_of
from ots_desktop.core.audit.keystore import KeyStore


@contextlib.contextmanager
def attacker(path: Path) -> Iterator[sqlite3.Connection]:
    """A raw connection with the append-only triggers dropped, as an attacker would; closed (WAL merged) after."""
    db = sqlite3.connect(path, isolation_level=None)
    try:
        db.execute("DROP TRIGGER IF EXISTS entries_no_update")
        db.execute("DROP TRIGGER IF EXISTS entries_no_delete")
        yield db
    finally:
        db.close()


def rehash_from(db: sqlite3.Connection, seq: int) -> str:
    """Recompute prev_hash and entry_hash from ``seq`` on (bodies kept); returns the new head."""
    row = db.execute("SELECT entry_hash FROM entries WHERE seq = ?", (seq - 1,)).fetchone()
    prev = row[0] if row else db.execute("SELECT prev_hash FROM entries WHERE seq = 1").fetchone()[0]
    for current, body in db.execute("SELECT seq, body FROM entries WHERE seq >= ? ORDER BY seq", (seq,)).fetchall():
        digest = entry_hash(prev, body)
        db.execute("UPDATE entries SET prev_hash = ?, entry_hash = ? WHERE seq = ?", (prev, digest, current))
        prev = digest
    return str(prev)


def edit_body(db: sqlite3.Connection, seq: int, **changes: object) -> None:
    """Change fields of entry ``seq`` (canonical JSON kept, hashes not updated)."""
    body = json.loads(db.execute("SELECT body FROM entries WHERE seq = ?", (seq,)).fetchone()[0])
    body.update(changes)
    db.execute("UPDATE entries SET body = ? WHERE seq = ?", (canonical_json(body), seq))


def append_forged(db: sqlite3.Connection, count: int, **fields: object) -> int:
    """Append ``count`` made-up entries that chain on (unsigned); returns the last seq."""
    seq, prev = db.execute("SELECT seq, entry_hash FROM entries ORDER BY seq DESC LIMIT 1").fetchone()
    for _ in range(count):
        seq += 1
        body = canonical_json({"event_type": "share_created", "outcome": "ok", "label": "forged", "seq": seq,
                               "ts_utc": "2026-01-01T00:00:00.000Z", **fields})
        digest = entry_hash(prev, body)
        db.execute("INSERT INTO entries VALUES (?, ?, ?, ?)", (seq, body, prev, digest))
        prev = digest
    return int(seq)


def resign_all(db: sqlite3.Connection, key: SigningKey, epoch: int, *, from_seq: int = 1) -> None:
    """Replace every checkpoint at or after ``from_seq`` with one signed by ``key`` over the current chain."""
    log_id = db.execute("SELECT value FROM meta WHERE key = 'log_id'").fetchone()[0]
    seqs = [r[0] for r in db.execute("SELECT seq FROM checkpoints WHERE seq >= ?", (from_seq,))]
    last = db.execute("SELECT max(seq) FROM entries").fetchone()[0]
    db.execute("DELETE FROM checkpoints WHERE seq >= ?", (from_seq,))
    for seq in sorted({*seqs, last}):
        if seq > last:
            continue
        head = db.execute("SELECT entry_hash FROM entries WHERE seq = ?", (seq,)).fetchone()[0]
        cp = Checkpoint(log_id, seq, head, "2026-01-01T00:00:00.000Z", key_id_of(bytes(key.verify_key)), epoch)
        db.execute("INSERT INTO checkpoints VALUES (?, ?)", (seq, cp.signed(key).to_json()))


class MemoryKeyStore(KeyStore):
    """A dict in place of the OS keychain, for the pure checks in tests/unit only.

    The keychain itself (gnome-keyring) is exercised by every test in tests/integration;
    these unit tests check the chain and checkpoint logic in milliseconds.
    """

    description = "test keystore"

    def __init__(self) -> None:
        self.values: dict[str, str] = {}

    def get(self, name: str) -> str | None:
        return self.values.get(name)

    def set(self, name: str, value: str) -> None:
        self.values[name] = value

    def delete(self, name: str) -> None:
        self.values.pop(name, None)
