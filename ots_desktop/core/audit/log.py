"""The audit log as the app uses it: open, append (fail closed), query, verify.

Every append writes the entries and a signed checkpoint in one transaction, then
stores that checkpoint in the keychain. If any step fails the caller gets an
AuditError and must not go on with the action it was about to record.
"""

from __future__ import annotations

import contextlib
import getpass
import hashlib
import hmac
import json
import os
import secrets
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from nacl.signing import SigningKey

from ots_desktop.core.audit.chain import GENESIS, canonical_json, entry_hash
from ots_desktop.core.audit.checkpoint import Checkpoint, key_id_of
from ots_desktop.core.audit.events import AuditEvent, EventType, validate_fields
from ots_desktop.core.audit.keystore import CHECKPOINT, FINGERPRINT_KEY, SIGNING_SEED, KeyStore
from ots_desktop.core.audit.store import AuditStore
from ots_desktop.core.audit.verify import VerifyReport, verify_rows
from ots_desktop.core.errors import AuditError, AuditTamperedError, KeychainError
from ots_desktop.core.paths import AppPaths
from ots_desktop.core.secret import SecretBuffer

FINGERPRINT_PREFIX = "hmac-sha256:"


def utc_now() -> str:
    """The current time as the log writes it (ISO 8601, UTC, milliseconds)."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _actor() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return f"uid:{os.getuid()}" if hasattr(os, "getuid") else "unknown"


@dataclass(frozen=True)
class PublicKeyRecord:
    """What an auditor needs to verify the log elsewhere."""

    log_id: str
    key_id: str
    public_key: str

    def to_json(self) -> str:
        """The public key file's content."""
        return json.dumps({"format": "ots-audit-pubkey", "alg": "ed25519", "log_id": self.log_id,
                           "key_id": self.key_id, "public_key": self.public_key}, indent=2) + "\n"


class AuditLog:
    """One installation's audit log. Open it with :meth:`open`."""

    def __init__(self, store: AuditStore, keystore: KeyStore, *, signing_key: SigningKey,
                 fingerprint_key: SecretBuffer, log_id: str, app_version: str) -> None:
        self._store = store
        self._keystore = keystore
        self._signing_key = signing_key
        self._fp_key = fingerprint_key
        self.log_id = log_id
        self.public_key = bytes(signing_key.verify_key)
        self.key_id = key_id_of(self.public_key)
        self._app_version = app_version
        self._actor = _actor()
        self._host = socket.gethostname()
        self._pending: list[dict[str, Any]] | None = None
        self.blocked_reason: str | None = None

    @classmethod
    def open(cls, paths: AppPaths, keystore: KeyStore, *, app_version: str) -> AuditLog:
        """Open the log of ``paths``, creating it and its keys on first use."""
        paths.ensure()
        existed = paths.audit_db.exists() and paths.audit_db.stat().st_size > 0
        anchor_text = keystore.get(CHECKPOINT)
        if not existed and anchor_text:
            raise AuditTamperedError(
                f"the audit log {paths.audit_db} is missing, but the keychain holds a checkpoint for it: "
                "the log was deleted. Restore it from a backup to go on.")
        store = AuditStore(paths.audit_db)
        meta = store.meta()
        seed_hex = keystore.get(SIGNING_SEED)
        fp_hex = keystore.get(FINGERPRINT_KEY)
        if "log_id" not in meta:
            if seed_hex is None:
                seed_hex = secrets.token_hex(32)
                keystore.set(SIGNING_SEED, seed_hex)
            if fp_hex is None:
                fp_hex = secrets.token_hex(32)
                keystore.set(FINGERPRINT_KEY, fp_hex)
        if seed_hex is None or fp_hex is None:
            store.close()
            raise KeychainError(f"{keystore.description} has no key for the audit log {paths.audit_db}; "
                                "it was made with another keychain or the keychain was reset")
        signing_key = SigningKey(bytes.fromhex(seed_hex))
        log = cls(store, keystore, signing_key=signing_key, fingerprint_key=SecretBuffer(bytes.fromhex(fp_hex)),
                  log_id=meta.get("log_id") or secrets.token_hex(16), app_version=app_version)
        if "log_id" not in meta:
            store.set_meta({"schema": "1", "log_id": log.log_id, "public_key": log.public_key.hex(),
                            "key_id": log.key_id})
            log.append(AuditEvent(EventType.LOG_CREATED))
        elif meta.get("public_key") != log.public_key.hex():
            store.close()
            raise KeychainError("the keychain's signing key does not match this audit log's public key")
        else:
            log._check_anchor(anchor_text)
        return log

    def _check_anchor(self, anchor_text: str | None) -> None:
        if anchor_text is None:
            if self._store.head() is not None:
                self.blocked_reason = "the keychain holds no checkpoint for this log"
            return
        # A quick check on every open; the full walk is `ots audit verify`.
        try:
            anchor = Checkpoint.from_json(anchor_text)
        except ValueError:
            self.blocked_reason = "the keychain's audit checkpoint is unreadable"
            return
        head = self._store.head()
        last = head[0] if head else 0
        if not anchor.is_valid(self.public_key) or anchor.log_id != self.log_id:
            self.blocked_reason = "the keychain's audit checkpoint does not verify"
        elif anchor.seq > last:
            self.blocked_reason = (f"the keychain's checkpoint is at entry {anchor.seq} but the log ends at "
                                   f"entry {last}: the log was truncated or rolled back")
        elif self._store.hash_at(anchor.seq) != anchor.head:
            self.blocked_reason = f"the log differs from the keychain's checkpoint at entry {anchor.seq}"

    def anchor(self) -> Checkpoint | None:
        """The latest checkpoint kept in the keychain."""
        text = self._keystore.get(CHECKPOINT)
        if text is None:
            return None
        try:
            return Checkpoint.from_json(text)
        except ValueError:
            raise AuditTamperedError("the keychain's audit checkpoint is unreadable") from None

    # -- writing -----------------------------------------------------------------

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
        record = event.fields()
        record.update(actor=self._actor, host=self._host, app_version=self._app_version, key_id=self.key_id)
        validate_fields(record)
        if self._pending is not None:
            self._pending.append(record)
        else:
            self._commit([record])

    def _commit(self, records: list[dict[str, Any]]) -> None:
        if self.blocked_reason:
            raise AuditTamperedError(f"the audit log will not take new entries until it is checked: "
                                     f"{self.blocked_reason}. Run `ots audit verify`.")
        try:
            with self._store.transaction():
                head = self._store.head()
                seq, prev = head if head is not None else (0, GENESIS)
                for record in records:
                    seq += 1
                    body = canonical_json(dict(record, seq=seq, ts_utc=utc_now()))
                    digest = entry_hash(prev, body)
                    self._store.insert((seq, body, prev, digest))
                    prev = digest
                cp = Checkpoint(self.log_id, seq, prev, utc_now(), self.key_id).signed(self._signing_key)
                self._store.put_checkpoint(cp)
        except AuditError:
            raise
        except Exception as exc:  # noqa: BLE001 - any storage failure must stop the action
            raise AuditError(f"the audit log could not be written ({type(exc).__name__}: {exc}); "
                             "the action was not carried out") from None
        current = self.anchor()
        if current is None or current.seq < cp.seq:
            self._keystore.set(CHECKPOINT, cp.to_json())

    # -- reading -------------------------------------------------------------------

    def fingerprint(self, secret: SecretBuffer | bytes | bytearray | memoryview) -> str:
        """A keyed fingerprint of a secret: lets ``lookup`` find it without storing it."""
        data = secret.view() if isinstance(secret, SecretBuffer) else secret
        mac = hmac.new(bytes(self._fp_key.view()), data, hashlib.sha256).hexdigest()
        return FINGERPRINT_PREFIX + mac[:32]

    def fingerprint_mac(self) -> hmac.HMAC:
        """A keyed hash to feed large secrets (files) chunk by chunk; finish with :meth:`fingerprint_of`."""
        return hmac.new(bytes(self._fp_key.view()), digestmod=hashlib.sha256)

    @staticmethod
    def fingerprint_of(mac: hmac.HMAC) -> str:
        """The fingerprint text for a fed :meth:`fingerprint_mac`."""
        return FINGERPRINT_PREFIX + mac.hexdigest()[:32]

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
        fp = self.fingerprint(secret)
        return [json.loads(b) for b in self._store.bodies("json_extract(body, '$.fingerprint') = ?", [fp])]

    def verify(self) -> VerifyReport:
        """Verify the whole file against the public key and the keychain's checkpoint."""
        return verify_rows(self._store.rows(), self._store.checkpoints(), self.public_key,
                           log_id=self.log_id, anchor=self.anchor())

    def public_key_record(self) -> PublicKeyRecord:
        """The public key and ids, for ``ots audit pubkey``."""
        return PublicKeyRecord(self.log_id, self.key_id, self.public_key.hex())

    @property
    def store(self) -> AuditStore:
        """The underlying file, for exports."""
        return self._store

    def sign(self, message: bytes) -> str:
        """An Ed25519 signature (hex) by the log's key, for export manifests."""
        return self._signing_key.sign(message).signature.hex()

    def close(self) -> None:
        """Close the file and wipe the fingerprint key."""
        self._store.close()
        self._fp_key.close()

    def __enter__(self) -> AuditLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
