"""Where a log begins: a new log on a fresh machine, and an explicit, recorded reset.

A new log is created only when neither the keychain nor the file knows of one. Every
other start-over goes through :func:`reset_log`, which keeps the old file (archived
beside the new one) and writes the old log's id, its anchored seq and head, and the
person's reason into the new log's first entry, so an auditor sees every reset.
"""

from __future__ import annotations

import contextlib
import secrets
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from ots_desktop.core.audit.events import AuditEvent, EventType, Reason
from ots_desktop.core.audit.keys import public_key_of
from ots_desktop.core.audit.keystore import FINGERPRINT_KEY, KeyStore
from ots_desktop.core.audit.state import LEGACY_NAMES, LogState, load_state, save_state, utc_day
from ots_desktop.core.audit.store import AuditStore, is_sqlite_file
from ots_desktop.core.errors import AuditError, InputError, OtsError
from ots_desktop.core.paths import AppPaths
from ots_desktop.core.secret import SecretBuffer
from ots_desktop.core.times import utc_now_ms

if TYPE_CHECKING:
    from ots_desktop.core.audit.log import AuditLog

ARCHIVE_DIR = "audit-archive"


utc_now = utc_now_ms


def fingerprint_key(keystore: KeyStore, *, create: bool) -> SecretBuffer:
    """The key of the secret fingerprints (kept across resets, so old lookups still match)."""
    value = keystore.get(FINGERPRINT_KEY)
    if value is None:
        if not create:
            return SecretBuffer(secrets.token_bytes(32))  # refused logs are never appended to
        value = secrets.token_hex(32)
        keystore.set(FINGERPRINT_KEY, value)
    return SecretBuffer(bytes.fromhex(value))


@dataclass(frozen=True)
class Predecessor:
    """The log a reset replaced, as the new log's first entry records it."""

    log_id: str | None
    seq: int | None
    head: str | None
    note: str


def create_log(cls: type[AuditLog], store: AuditStore, keystore: KeyStore, *, app_version: str,
               state: LogState | None = None, predecessor: Predecessor | None = None) -> AuditLog:
    """A new log in the blank ``store``: a root key in the keychain first, then entry 1."""
    if state is None:
        seed = secrets.token_bytes(32)
        state = LogState(secrets.token_hex(16), public_key_of(seed).hex(), 0, seed.hex(), utc_day())
        save_state(keystore, state)
    log = cls(store, keystore, log_id=state.log_id, root=state.root,
              fingerprint_key=fingerprint_key(keystore, create=True), app_version=app_version)
    if not store.meta():
        store.set_meta({"schema": "2", "log_id": state.log_id, "root_public_key": state.root_public_key})
    first = AuditEvent(EventType.LOG_CREATED, log_id=state.log_id, public_key=state.root_public_key)
    if predecessor is not None:
        first = AuditEvent(EventType.LOG_CREATED, log_id=state.log_id, public_key=state.root_public_key,
                           reason=Reason.RESET, label=predecessor.note, prev_log_id=predecessor.log_id,
                           prev_seq=predecessor.seq, prev_head=predecessor.head)
    log.append(first)
    return log


def _old_identity(paths: AppPaths, keystore: KeyStore) -> tuple[str | None, int | None, str | None]:
    try:
        state = load_state(keystore)
    except OtsError:
        state = None
    if state is not None:
        return state.log_id, state.anchor.seq if state.anchor else None, state.anchor.head if state.anchor else None
    if not is_sqlite_file(paths.audit_db):
        return None, None, None
    log_id: str | None = None
    seq: int | None = None
    head: str | None = None
    # Whatever of the old file can still be read is recorded; a damaged file records less.
    with contextlib.suppress(AuditError, sqlite3.Error):
        db = sqlite3.connect(f"{paths.audit_db.absolute().as_uri()}?mode=ro", uri=True)
        try:
            with contextlib.suppress(sqlite3.Error):
                row = db.execute("SELECT value FROM meta WHERE key = 'log_id'").fetchone()
                log_id = str(row[0]) if row else None
            with contextlib.suppress(sqlite3.Error):
                row = db.execute("SELECT seq, entry_hash FROM entries ORDER BY seq DESC LIMIT 1").fetchone()
                seq, head = (int(row[0]), str(row[1])) if row else (None, None)
        finally:
            db.close()
    return log_id, seq, head


def _archive(db: Path) -> Path | None:
    if not db.exists():
        return None
    folder = db.parent / ARCHIVE_DIR
    folder.mkdir(mode=0o700, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    target = folder / f"audit-{stamp}-{secrets.token_hex(4)}.sqlite3"
    db.rename(target)
    for suffix in ("-wal", "-shm"):
        side = db.with_name(db.name + suffix)
        if side.exists():
            side.rename(target.with_name(target.name + suffix))
    return target


def reset_log(paths: AppPaths, keystore: KeyStore, note: str, *, app_version: str) -> tuple[AuditLog, Path | None]:
    """Archive the current log file and start a new log whose first entry names the old one.

    ``note`` is the person's reason, kept in the new entry 1. Returns the new log and
    where the old file went (None when there was none).
    """
    from ots_desktop.core.audit.log import AuditLog

    AuditEvent(EventType.LOG_CREATED, label=note).fields()  # InputError when it cannot be recorded
    if not note.strip():
        raise InputError("say why the log is being reset (--reason): an auditor will read it")
    paths.ensure()
    log_id, seq, head = _old_identity(paths, keystore)
    archived = _archive(paths.audit_db)
    for name in LEGACY_NAMES:
        keystore.delete(name)
    seed = secrets.token_bytes(32)
    state = LogState(secrets.token_hex(16), public_key_of(seed).hex(), 0, seed.hex(), utc_day())
    save_state(keystore, state)  # overwrites, and so erases, the old log's key
    store = AuditStore(paths.audit_db)
    predecessor = Predecessor(log_id, seq, head, note.strip())
    return create_log(AuditLog, store, keystore, app_version=app_version, state=state,
                      predecessor=predecessor), archived
