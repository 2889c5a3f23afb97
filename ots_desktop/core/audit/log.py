"""The audit log as the app uses it: open, append (fail closed), query, verify.

Every append runs in one ``BEGIN IMMEDIATE`` transaction that first re-checks the file
against the keychain's state (:mod:`.continuity`), then writes the entries and a
checkpoint signed with the current epoch's key. The keychain's anchor moves afterwards,
under the same database lock, so two processes never move it backwards. If any step
fails the caller gets an AuditError and must not go on with the action it was about to
record. While the log does not verify, :meth:`AuditLog.require_usable` refuses every
action that would append to it.
"""

from __future__ import annotations

import contextlib
import getpass
import json
import os
import secrets
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any

from ots_desktop.core.audit.chain import canonical_json, entry_hash
from ots_desktop.core.audit.checkpoint import Checkpoint, key_id_of
from ots_desktop.core.audit.continuity import (
    RECOVERY,
    check_since_anchor,
    identity_problem,
    settle_rotation,
    verify_against_state,
)
from ots_desktop.core.audit.events import AuditEvent, EventType, validate_fields
from ots_desktop.core.audit.fingerprints import PREFIX, FingerprintKey, Hasher, text_of
from ots_desktop.core.audit.keys import KeyCertificate, fingerprint
from ots_desktop.core.audit.keystore import KeyStore
from ots_desktop.core.audit.lifecycle import create_log, fingerprint_key, utc_now
from ots_desktop.core.audit.state import LogState, PendingEpoch, has_legacy_keys, load_state, save_state, utc_day
from ots_desktop.core.audit.store import AuditStore, is_sqlite_file
from ots_desktop.core.audit.verify import Position, VerifyFailure, VerifyReport, tampered, unverifiable
from ots_desktop.core.errors import AuditError, AuditTamperedError, AuditUnverifiableError, OtsError
from ots_desktop.core.paths import AppPaths
from ots_desktop.core.secret import SecretBuffer

FINGERPRINT_PREFIX = PREFIX
__all__ = ["FINGERPRINT_PREFIX", "AuditLog", "PublicKeyRecord", "utc_now"]


def _actor() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return f"uid:{os.getuid()}" if hasattr(os, "getuid") else "unknown"


@dataclass(frozen=True)
class PublicKeyRecord:
    """What an auditor needs to verify the log elsewhere: the root key and its fingerprint."""

    log_id: str
    key_id: str
    public_key: str

    @property
    def fingerprint(self) -> str:
        """The root key's fingerprint, to read aloud or print."""
        return fingerprint(bytes.fromhex(self.public_key))

    def to_json(self) -> str:
        """The public key file's content."""
        return json.dumps({"format": "ots-audit-pubkey", "version": 2, "alg": "ed25519", "log_id": self.log_id,
                           "key_id": self.key_id, "public_key": self.public_key,
                           "fingerprint": self.fingerprint}, indent=2) + "\n"


class AuditLog:
    """One installation's audit log. Open it with :meth:`open`."""

    def __init__(self, store: AuditStore, keystore: KeyStore, *, log_id: str, root: bytes,
                 fingerprint_key: SecretBuffer, app_version: str) -> None:
        self._store = store
        self._keystore = keystore
        self._fp = FingerprintKey(fingerprint_key)
        self.log_id = log_id
        self.public_key = root
        self.key_id = key_id_of(root)
        self._app_version = app_version
        self._actor = _actor()
        self._host = socket.gethostname()
        self._pending: list[dict[str, Any]] | None = None
        self._rotate_next = False
        self._lock = threading.RLock()
        self.problem: VerifyReport | None = None
        self.listeners: list[Any] = []  # committed(log_id, cp) after each anchored commit, closed(): forwarding

    @classmethod
    def open(cls, paths: AppPaths, keystore: KeyStore, *, app_version: str, check: bool = True) -> AuditLog:
        """Open the log of ``paths``, creating it and its keys only on a machine that has neither.

        The whole file is verified (unless ``check`` is False, for a caller that verifies
        next). A file that does not follow from the keychain's state opens in a refused
        state (:attr:`problem`): it can be read and verified, never appended to.
        """
        paths.ensure()
        state = load_state(keystore)
        path = paths.audit_db
        if state is None:
            if has_legacy_keys(keystore):
                raise AuditUnverifiableError(
                    f"the audit log {path} was written by an earlier version of ots whose log was not bound to its "
                    "key. Keep it, and start a new log with `ots audit reset --reason upgrade`: the old file is "
                    "archived and named in the new log's first entry.")
            if path.exists() and path.stat().st_size and not is_sqlite_file(path):
                raise AuditUnverifiableError(f"the audit log {path} is not an SQLite database, and the "
                                             f"{keystore.description} holds no anchor for it. {RECOVERY}")
            store = AuditStore(path)
            if store.is_blank():
                return create_log(cls, store, keystore, app_version=app_version)
            meta = store.meta()
            log = cls(store, keystore, log_id=meta.get("log_id", "unknown"),
                      root=bytes.fromhex(meta.get("root_public_key", "00" * 32)) if _is_hex32(meta) else bytes(32),
                      fingerprint_key=fingerprint_key(keystore, create=False), app_version=app_version)
            log.problem = unverifiable(f"the {keystore.description} holds no anchor for the audit log {path}: the "
                                       "log was made with another keychain, or its keychain entry was deleted",
                                       log_id=log.log_id)
            return log
        if not path.exists() or path.stat().st_size == 0:
            at = state.anchor.seq if state.anchor else 0
            raise AuditTamperedError(
                f"the audit log {path} is missing or empty, but the keychain holds log {state.log_id} up to entry "
                f"{at}: the log was deleted or replaced, and nothing is shared or received until it is back. "
                f"{RECOVERY}")
        if not is_sqlite_file(path):
            raise AuditTamperedError(
                f"the audit log {path} is not an SQLite database any more, but the keychain holds log {state.log_id}: "
                f"it was overwritten, and nothing is shared or received until it is back. {RECOVERY}")
        store = AuditStore(path)
        if state.anchor is None and store.head() is None and store.meta().get("log_id") in (None, state.log_id):
            # A creation that stopped between the keychain write and the first commit.
            return create_log(cls, store, keystore, app_version=app_version, state=state)
        log = cls(store, keystore, log_id=state.log_id, root=state.root,
                  fingerprint_key=fingerprint_key(keystore, create=False), app_version=app_version)
        if check:
            log.verify(state=state)
        else:
            problem = identity_problem(store, state)
            log.problem = tampered(1, problem, log_id=state.log_id) if problem else None
        return log

    # -- state ---------------------------------------------------------------------

    @property
    def blocked_reason(self) -> str | None:
        """Why appends are refused, or None."""
        return self.problem.problem if self.problem is not None else None

    @property
    def fingerprint_text(self) -> str:
        """The root key's fingerprint."""
        return fingerprint(self.public_key)

    def require_usable(self) -> None:
        """Raise unless the log verified: nothing that appends to it may start otherwise."""
        if self.problem is not None:
            raise _refusal(self.problem)

    def anchor(self) -> Checkpoint | None:
        """The latest checkpoint kept in the keychain."""
        state = load_state(self._keystore)
        return state.anchor if state else None

    # -- writing -------------------------------------------------------------------

    @contextlib.contextmanager
    def batch(self) -> Iterator[None]:
        """Group appends into one transaction with one checkpoint."""
        if self._pending is not None:
            yield
            return
        self._pending = []
        try:
            yield
            pending, self._pending = self._pending, None
            if pending:
                self._commit(pending)
        finally:
            self._pending = None

    def append(self, event: AuditEvent) -> None:
        """Record ``event``. Raises AuditError when it could not be stored and signed."""
        record = self._stamp(event.fields())
        if self._pending is not None:
            self._pending.append(record)
        else:
            self._commit([record])

    def rotate(self) -> int:
        """Start a new key epoch now (the old private key is erased); returns the new epoch."""
        self._rotate_next = True
        self._commit([])
        return self.current_epoch()

    def current_epoch(self) -> int:
        """The epoch the keychain's key belongs to."""
        return self.current_key()[0]

    def current_key(self) -> tuple[int, str]:
        """The current epoch and its key id (from the keychain)."""
        state = load_state(self._keystore)
        if state is None:
            raise AuditUnverifiableError("the keychain's anchor for this log was deleted; nothing can be signed")
        return state.epoch, state.key_id

    def _stamp(self, record: dict[str, Any]) -> dict[str, Any]:
        record.update(actor=self._actor, host=self._host, app_version=self._app_version)
        record = {k: v for k, v in record.items() if v != ""}
        validate_fields(record)
        return record

    def _refuse(self, report: VerifyReport) -> AuditError:
        self.problem = report
        return _refusal(report)

    def _commit(self, records: list[dict[str, Any]]) -> None:
        self.require_usable()
        with self._lock:
            try:
                cp, signer = self._write(records)
                self._advance_anchor(cp, signer)
                self._tell("committed", self.log_id, cp)
            except VerifyFailure as failure:
                raise self._refuse(tampered(failure.seq, failure.problem, log_id=self.log_id)) from None
            except OtsError:
                raise
            except Exception as exc:  # noqa: BLE001 - any storage failure must stop the action
                raise AuditError(f"the audit log could not be written ({type(exc).__name__}: {exc}); "
                                 "the action was not carried out") from None

    def _write(self, records: list[dict[str, Any]]) -> tuple[Checkpoint, LogState]:
        with self._store.transaction():
            state = load_state(self._keystore)
            if state is None:
                raise self._refuse(unverifiable("the keychain's anchor for this log was deleted", log_id=self.log_id))
            problem = identity_problem(self._store, state)
            if problem:
                raise VerifyFailure(1, problem)
            pos = check_since_anchor(self._store, state)
            state = settle_rotation(state, pos)
            rotated: LogState | None = None
            if self._rotate_next or state.day != utc_day():
                rotated = self._rotation(state, pos)
                key_state = rotated
            else:
                key_state = state
            key = key_state.signing_key()
            seq, prev = pos.seq, pos.head
            if rotated is not None:
                cert = KeyCertificate(self.log_id, rotated.epoch, rotated.public_key.hex(), seq + 1, prev)
                cert = cert.signed(state.signing_key())
                records = [self._stamp(AuditEvent(EventType.KEY_ROTATED, epoch=cert.epoch, public_key=cert.public_key,
                                                  signature=cert.signature).fields()), *records]
            for record in records:
                seq += 1
                body = canonical_json(dict(record, seq=seq, ts_utc=utc_now(), key_id=key_state.key_id))
                digest = entry_hash(prev, body)
                self._store.insert((seq, body, prev, digest))
                prev = digest
            cp = Checkpoint(self.log_id, seq, prev, utc_now(), key_state.key_id, key_state.epoch).signed(key)
            self._store.put_checkpoint(cp)
        self._rotate_next = False
        return cp, key_state

    def _rotation(self, state: LogState, pos: Position) -> LogState:
        """The next epoch's state; its seed is in the keychain (as pending) before the certificate is written."""
        seed = secrets.token_bytes(32)
        nxt = replace(state, epoch=state.epoch + 1, seed=seed.hex(), day=utc_day(), pending=None)
        save_state(self._keystore, replace(state, pending=PendingEpoch(nxt.epoch, nxt.seed, nxt.day)))
        return nxt

    def _advance_anchor(self, cp: Checkpoint, signer: LogState) -> None:
        """Move the keychain's anchor to ``cp``, under the database lock, unless a later append will.

        When another process appended after ``cp``, its own anchor move covers this one (and
        it read the keychain after this append's key was settled), so nothing is written: the
        anchor and the key never move backwards, and no keychain read is spent here.
        """
        with self._store.transaction():
            head = self._store.head()
            if self._store.replaced() or head is None or head[0] != cp.seq:
                return
            save_state(self._keystore, replace(signer, anchor=cp, pending=None))

    # -- reading -------------------------------------------------------------------

    def fingerprint(self, secret: SecretBuffer | bytes | bytearray | memoryview) -> str:
        """A keyed fingerprint of a secret: lets ``lookup`` find it without storing it."""
        return self._fp.of(secret.view() if isinstance(secret, SecretBuffer) else secret)

    def fingerprint_mac(self) -> Hasher:
        """A keyed hash to feed large secrets (files) chunk by chunk; finish with :meth:`fingerprint_of`."""
        return self._fp.hasher()

    @staticmethod
    def fingerprint_of(mac: Hasher) -> str:
        """The fingerprint text for a fed :meth:`fingerprint_mac`."""
        return text_of(mac)

    def entries(self, *, event_type: str | None = None, text: str | None = None,
                limit: int | None = None, newest_first: bool = False) -> list[dict[str, Any]]:
        """Entries, optionally filtered by type and by a substring of any field."""
        where, params = [], []
        if event_type:
            where.append("json_extract(body, '$.event_type') = ?")
            params.append(event_type)
        if text:
            where.append("instr(lower(body), lower(?)) > 0")
            params.append(text)
        bodies = self._store.bodies(" AND ".join(where), params, limit=limit, newest_first=newest_first)
        return [json.loads(b) for b in bodies]

    def lookup(self, secret: SecretBuffer) -> list[dict[str, Any]]:
        """Entries whose fingerprint matches ``secret``: was it ever shared or received?"""
        found = self._fp.candidates(secret.view())  # this scheme's and the one entries had before it
        where = f"json_extract(body, '$.fingerprint') IN ({', '.join('?' for _ in found)})"
        return [json.loads(b) for b in self._store.bodies(where, found)]

    def verify(self, *, state: LogState | None = None) -> VerifyReport:
        """Verify the whole file against the keychain's root key and anchor; a failure blocks appends.

        ``state`` is the keychain's state when the caller has just read it (it is read otherwise).
        """
        with self._lock:
            report = self._verify(state or load_state(self._keystore))
        self.problem = None if report.ok else report
        return report

    def _verify(self, state: LogState | None) -> VerifyReport:
        if state is None:
            return self.problem if self.problem is not None and self.problem.unverifiable else unverifiable(
                f"the {self._keystore.description} holds no anchor for this log: it cannot be checked",
                log_id=self.log_id)
        return verify_against_state(self._store, state)

    def public_key_record(self) -> PublicKeyRecord:
        """The root public key and ids, for ``ots audit pubkey``."""
        return PublicKeyRecord(self.log_id, self.key_id, self.public_key.hex())

    @property
    def store(self) -> AuditStore:
        """The underlying file, for exports."""
        return self._store

    @property
    def keystore(self) -> KeyStore:
        """Where the keys live."""
        return self._keystore

    def sign(self, message: bytes) -> tuple[int, str, str]:
        """Sign ``message`` with the current epoch's key: (epoch, key id, signature hex)."""
        state = load_state(self._keystore)
        if state is None:
            raise AuditUnverifiableError("the keychain's anchor for this log was deleted; nothing can be signed")
        return state.epoch, state.key_id, state.signing_key().sign(message).signature.hex()

    def _tell(self, what: str, *args: object) -> None:
        for listener in self.listeners:  # they return at once; their errors never fail what the log did
            with contextlib.suppress(Exception):
                getattr(listener, what)(*args)

    def close(self) -> None:
        """Close the file and wipe the fingerprint key."""
        self._tell("closed")
        self._store.close()
        self._fp.close()

    def __enter__(self) -> AuditLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _is_hex32(meta: dict[str, str]) -> bool:
    try:
        return len(bytes.fromhex(meta.get("root_public_key", ""))) == 32
    except ValueError:
        return False


def _refusal(report: VerifyReport) -> AuditError:
    """The error every action gets while the log does not verify: what failed, where, and the way out."""
    where = "" if report.unverifiable or not report.first_bad_seq else f" at entry {report.first_bad_seq}"
    message = (f"the audit log does not verify{where} ({report.problem}), so nothing is shared or received until it "
               f"does. {RECOVERY}")
    if report.unverifiable:
        return AuditUnverifiableError(message)
    return AuditTamperedError(message, seq=report.first_bad_seq)
