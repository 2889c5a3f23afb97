"""The audit log on a real keychain: creation, appends, batches, lookup and failing closed."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import sqlite3
import stat

import pytest

from ots_desktop.core.audit.chain import canonical_json, entry_hash, genesis
from ots_desktop.core.audit.events import AuditEvent, Channel, EventType, Outcome, Reason
from ots_desktop.core.audit.keystore import FINGERPRINT_KEY, FileKeyStore, KeychainStore, KeyStore, scope_for
from ots_desktop.core.audit.log import AuditLog
from ots_desktop.core.audit.store import CHECKPOINT_BLOCK
from ots_desktop.core.errors import AuditError, AuditTamperedError, AuditUnverifiableError, InputError, KeychainError
from ots_desktop.core.paths import app_paths
from ots_desktop.core.secret import SecretBuffer
from tests.support.audit import open_log, populate, share_event

pytestmark = pytest.mark.usefixtures("keychain")


def test_new_log_records_its_creation_and_verifies() -> None:
    with open_log() as log:
        rows = log.entries()
        assert [r["event_type"] for r in rows] == ["log_created"]
        first = rows[0]
        assert first["seq"] == 1 and first["key_id"] == log.key_id and first["app_version"] == "test"
        assert first["actor"] and first["host"] and first["ts_utc"].endswith("Z")
        report = log.verify()
        assert report.ok and report.entries == 1 and report.anchored
        assert stat.S_IMODE(log.store.path.stat().st_mode) == 0o600


def test_entries_chain_and_reopen_keeps_identity() -> None:
    populate(5)
    with open_log() as log:
        log_id, key_id = log.log_id, log.key_id
        rows = list(log.store.rows())
        prev = genesis(log.log_id, log.public_key)
        for seq, body, stored_prev, digest in rows:
            assert stored_prev == prev
            assert entry_hash(prev, body) == digest
            assert json.loads(body)["seq"] == seq
            assert canonical_json(json.loads(body)) == body
            prev = digest
        assert log.anchor() is not None and log.anchor().seq == 5  # type: ignore[union-attr]
    with open_log() as again:
        assert (again.log_id, again.key_id) == (log_id, key_id)
        again.append(share_event(6))
        assert again.verify().ok


def test_batch_writes_one_checkpoint() -> None:
    with open_log() as log:
        with log.batch():
            for n in range(10):
                log.append(share_event(n))
            assert len(log.entries()) == 1  # nothing is visible before the batch commits
        assert len(log.entries()) == 11
        assert [cp.seq for cp in log.store.checkpoints()] == [11]


def test_checkpoints_are_thinned_per_block() -> None:
    with open_log() as log:
        total = 1
        for _ in range(12):
            with log.batch():
                for n in range(250):
                    log.append(share_event(n))
            total += 250
        seqs = [cp.seq for cp in log.store.checkpoints()]
        assert seqs[-1] == total
        assert len(seqs) == total // CHECKPOINT_BLOCK + 1
        assert log.verify().ok


def test_fingerprint_lookup_finds_a_secret_without_storing_it() -> None:
    with open_log() as log, SecretBuffer(b"sk_live_51Habc") as secret, SecretBuffer(b"other") as other:
        fp = log.fingerprint(secret)
        assert fp.startswith("blake3:") and len(fp) == len("blake3:") + 32
        log.append(AuditEvent(EventType.SHARE_CREATED, channel=Channel.WORMHOLE, fingerprint=fp, label="stripe"))
        log.append(AuditEvent(EventType.SHARE_DELIVERED, channel=Channel.WORMHOLE, fingerprint=fp))
        assert [r["event_type"] for r in log.lookup(secret)] == ["share_created", "share_delivered"]
        assert log.lookup(other) == []
        assert b"sk_live" not in log.store.path.read_bytes()


def test_an_entry_from_before_blake3_is_still_found_by_its_keyed_sha256_fingerprint() -> None:
    """Entries written before fingerprints moved to BLAKE3 carry HMAC-SHA256 under the installation's key;
    computed here as that version did, straight from the key in the keychain."""
    with open_log() as log, SecretBuffer(b"sk_live_old_entry") as secret:
        key = bytes.fromhex(KeychainStore(scope_for(app_paths().data_dir)).get(FINGERPRINT_KEY) or "")
        old = "hmac-sha256:" + hmac.new(key, b"sk_live_old_entry", hashlib.sha256).hexdigest()[:32]
        log.append(AuditEvent(EventType.SHARE_CREATED, channel=Channel.LINK, fingerprint=old, label="before"))
        log.append(AuditEvent(EventType.SHARE_CREATED, channel=Channel.LINK, fingerprint=log.fingerprint(secret),
                              label="after"))
        log.append(AuditEvent(EventType.SHARE_CREATED, channel=Channel.LINK,
                              fingerprint="hmac-sha256:" + hmac.new(key, b"other", hashlib.sha256).hexdigest()[:32]))
        assert log.fingerprint(secret) != old
        assert [r["label"] for r in log.lookup(secret)] == ["before", "after"]


def test_fingerprints_are_keyed_per_installation(tmp_path: object) -> None:
    with open_log() as log, SecretBuffer(b"same secret") as secret:
        here = log.fingerprint(secret)
    other_paths = app_paths({"OTS_HOME": os.environ["OTS_HOME"] + "-other"})
    with open_log(other_paths) as other, SecretBuffer(b"same secret") as secret:
        assert other.fingerprint(secret) != here


def test_filters_by_type_and_text() -> None:
    with open_log() as log:
        log.append(share_event(1))
        log.append(AuditEvent(EventType.ALERT, outcome=Outcome.ALERT, reason=Reason.WRONG_CODE,
                              channel=Channel.WORMHOLE))
        assert [r["reason"] for r in log.entries(event_type="alert")] == ["wrong_code"]
        assert [r["label"] for r in log.entries(text="DEPLOY TOKEN")] == ["deploy token 1"]
        assert log.entries(limit=1, newest_first=True)[0]["event_type"] == "alert"


@pytest.mark.parametrize(
    "event",
    [
        AuditEvent(EventType.SHARE_CREATED, label="x" * 201),
        AuditEvent(EventType.SHARE_CREATED, recipient="bob\nFAKE ENTRY"),
        AuditEvent(EventType.SHARE_CREATED, max_views=True),  # type: ignore[arg-type]
    ],
)
def test_bad_fields_are_refused_and_nothing_is_written(event: AuditEvent) -> None:
    with open_log() as log:
        with pytest.raises(InputError):
            log.append(event)
        assert len(log.entries()) == 1


class BrokenKeyStore(KeyStore):
    """Wraps the real keychain but refuses writes, like a keychain that locked mid-run."""

    def __init__(self, inner: KeyStore) -> None:
        self.inner = inner
        self.description = "broken"

    def get(self, name: str) -> str | None:
        return self.inner.get(name)

    def set(self, name: str, value: str) -> None:
        raise KeychainError("the OS keychain refused a write: locked")

    def delete(self, name: str) -> None:
        raise KeychainError("the OS keychain refused a delete: locked")


def test_keychain_failure_on_append_raises_so_the_action_stops() -> None:
    populate(2)
    paths = app_paths()
    log = AuditLog.open(paths, BrokenKeyStore(KeychainStore(scope_for(paths.data_dir))), app_version="t")
    with log, pytest.raises(KeychainError, match="refused a write"):
        log.append(share_event(3))


def test_unwritable_database_fails_closed() -> None:
    populate(2)
    with open_log() as log:
        blocker = sqlite3.connect(log.store.path, isolation_level=None, timeout=0)
        blocker.execute("BEGIN EXCLUSIVE")
        log.store._db.execute("PRAGMA busy_timeout = 100")
        try:
            with pytest.raises(AuditError, match=r"could not be written .* not carried out"):
                log.append(share_event(3))
        finally:
            blocker.execute("ROLLBACK")
            blocker.close()
        assert len(log.entries()) == 2


def test_deleted_log_with_a_keychain_checkpoint_is_refused() -> None:
    path = populate(3)
    for suffix in ("", "-wal", "-shm"):
        p = path.with_name(path.name + suffix)
        if p.exists():
            p.unlink()
    with pytest.raises(AuditTamperedError, match="is missing or empty, but the keychain holds log"):
        open_log()
    assert not path.exists()  # nothing was created in its place


def test_log_made_with_another_keystore_is_refused(tmp_path: object) -> None:
    populate(2)
    paths = app_paths()
    with SecretBuffer(b"pw") as pw:
        store = FileKeyStore(paths.keyfile, pw)
    with AuditLog.open(paths, store, app_version="t") as log:
        assert log.problem is not None and log.problem.unverifiable
        assert "holds no anchor" in (log.blocked_reason or "")
        with pytest.raises(AuditUnverifiableError, match="ots audit verify"):
            log.append(share_event(3))
        assert not log.verify().ok
    assert not paths.keyfile.exists()  # no new keys were made for it
