"""The chain, checkpoint, certificate and continuity checks as pure functions (no keychain, milliseconds).

Each test builds a small log on a temporary SQLite file with keys in a dict, attacks the
file as docs/audit-log.md's attacker would, and asserts what the walk reports.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
from nacl.signing import SigningKey

from ots_desktop.core.audit.chain import canonical_json, genesis
from ots_desktop.core.audit.checkpoint import Checkpoint
from ots_desktop.core.audit.continuity import check_since_anchor, settle_rotation
from ots_desktop.core.audit.events import AuditEvent, Channel, EventType
from ots_desktop.core.audit.keys import fingerprint, normalize_fingerprint
from ots_desktop.core.audit.log import AuditLog
from ots_desktop.core.audit.state import PendingEpoch, load_state, save_state
from ots_desktop.core.audit.store import AuditStore
from ots_desktop.core.audit.verify import VerifyFailure, VerifyReport, verify_rows
from ots_desktop.core.errors import AuditTamperedError
from ots_desktop.core.paths import app_paths
from tests.support.audit_forgery import MemoryKeyStore, append_forged, attacker, edit_body, rehash_from, resign_all


def new_log(keys: MemoryKeyStore, entries: int = 6) -> AuditLog:
    log = AuditLog.open(app_paths(), keys, app_version="unit")
    for n in range(2, entries + 1):
        log.append(AuditEvent(EventType.SHARE_CREATED, channel=Channel.LINK, label=f"token {n}"))
    return log


def walk_file(path: Path, keys: MemoryKeyStore, *, anchored: bool = True) -> VerifyReport:
    state = load_state(keys)
    assert state is not None
    store = AuditStore(path, read_only=True)
    try:
        return verify_rows(store.rows(), store.checkpoints(), state.root, state.log_id,
                           anchor=state.anchor if anchored else None)
    finally:
        store.close()


def bad(report: VerifyReport, seq: int, words: str) -> None:
    assert not report.ok, report
    assert report.first_bad_seq == seq, report.problem
    assert words in (report.problem or ""), report.problem


@pytest.fixture
def keys() -> MemoryKeyStore:
    return MemoryKeyStore()


def test_a_fresh_log_is_bound_to_its_id_and_root(keys: MemoryKeyStore) -> None:
    with new_log(keys) as log:
        path = log.store.path
        first = next(log.store.rows())
        assert first[2] == genesis(log.log_id, log.public_key)
        body = json.loads(first[1])
        assert (body["event_type"], body["log_id"], body["public_key"]) == ("log_created", log.log_id,
                                                                            log.public_key.hex())
    report = walk_file(path, keys)
    assert report.ok and report.entries == 6 and report.epoch == 0 and report.anchored


def test_the_same_chain_under_another_log_id_fails_at_entry_1(keys: MemoryKeyStore) -> None:
    with new_log(keys) as log:
        rows, cps = list(log.store.rows()), log.store.checkpoints()
        other = verify_rows(rows, [replace(cp, log_id="f" * 32) for cp in cps], log.public_key, "f" * 32)
    bad(other, 1, "does not create this log")


def test_rotation_certifies_the_next_key_and_checkpoints_follow_their_epoch(keys: MemoryKeyStore) -> None:
    with new_log(keys, 3) as log:
        old = load_state(keys)
        assert log.rotate() == 1
        log.append(AuditEvent(EventType.SHARE_CREATED, label="after"))
        assert log.rotate() == 2
        new = load_state(keys)
        assert old is not None and new is not None and new.seed != old.seed and new.pending is None
        assert old.seed not in json.dumps(keys.values)  # the erased key is nowhere in the keystore
        rotated = log.entries(event_type="key_rotated")
        assert [r["epoch"] for r in rotated] == [1, 2]
        assert log.verify().ok
        path = log.store.path
    report = walk_file(path, keys)
    assert report.ok and report.epoch == 2 and len(report.epoch_keys) == 3


def test_a_key_read_in_epoch_1_cannot_resign_epoch_0(keys: MemoryKeyStore) -> None:
    with new_log(keys, 5) as log:
        log.rotate()
        log.append(AuditEvent(EventType.SHARE_CREATED, label="epoch 1"))
        stolen = load_state(keys)
        assert stolen is not None and stolen.epoch == 1
        log.rotate()
        log.append(AuditEvent(EventType.SHARE_CREATED, label="epoch 2"))
        path = log.store.path
    with attacker(path) as db:
        edit_body(db, 3, label="rewritten in epoch 0")
        rehash_from(db, 3)
        # Everything the stolen key could sign, signed: the epoch 1 and 2 checkpoints (and a new epoch 2
        # certificate would not help: epoch 1's certificate is signed by the erased epoch 0 key).
        resign_all(db, stolen.signing_key(), 1, from_seq=1)
    report = walk_file(path, keys, anchored=False)
    assert not report.ok and report.first_bad_seq is not None and report.first_bad_seq <= 6
    assert "epoch" in (report.problem or "")


def test_a_certificate_signed_by_a_foreign_key_is_rejected(keys: MemoryKeyStore) -> None:
    with new_log(keys, 3) as log:
        log.rotate()
        path = log.store.path
    mallory = SigningKey.generate()
    with attacker(path) as db:
        seq = db.execute("SELECT seq FROM entries WHERE body LIKE '%key_rotated%'").fetchone()[0]
        edit_body(db, seq, public_key=bytes(mallory.verify_key).hex())
        rehash_from(db, seq)
        resign_all(db, mallory, 1, from_seq=seq)
    bad(walk_file(path, keys, anchored=False), seq, "is not signed by the key of epoch 0")


def test_log_created_in_the_middle_is_rejected_even_when_signed(keys: MemoryKeyStore) -> None:
    with new_log(keys, 4) as log:
        path = log.store.path
        state = load_state(keys)
        assert state is not None
    with attacker(path) as db:
        edit_body(db, 3, event_type="log_created")
        rehash_from(db, 3)
        resign_all(db, state.signing_key(), 0)  # an attacker holding the current key
    bad(walk_file(path, keys, anchored=False), 3, "claims to start a new log")


def test_checkpoints_from_another_log_are_rejected(keys: MemoryKeyStore, tmp_path: Path) -> None:
    with new_log(keys, 4) as log:
        path = log.store.path
    other_keys = MemoryKeyStore()
    other = AuditLog.open(app_paths({"OTS_HOME": str(tmp_path / "other")}), other_keys, app_version="unit")
    with other:
        foreign = other.store.checkpoints()[-1]
    with attacker(path) as db:
        db.execute("INSERT OR REPLACE INTO checkpoints VALUES (1, ?)", (foreign.to_json(),))
    bad(walk_file(path, keys), 1, "belongs to another log")


def test_a_checkpoint_in_a_later_epoch_key_over_an_earlier_entry_is_rejected(keys: MemoryKeyStore) -> None:
    with new_log(keys, 4) as log:
        log.rotate()
        state = load_state(keys)
        assert state is not None
        path = log.store.path
        head2 = log.store.hash_at(2) or ""
    forged = Checkpoint(state.log_id, 2, head2, "2026-01-01T00:00:00.000Z", state.key_id, state.epoch)
    with attacker(path) as db:
        db.execute("INSERT INTO checkpoints VALUES (2, ?)", (forged.signed(state.signing_key()).to_json(),))
    bad(walk_file(path, keys, anchored=False), 2, "names key epoch 1")


def test_padding_past_the_anchor_without_a_signature_is_caught(keys: MemoryKeyStore) -> None:
    with new_log(keys, 4) as log:
        path = log.store.path
        with attacker(path) as db:
            append_forged(db, 2)
        state = load_state(keys)
        assert state is not None
        with pytest.raises(VerifyFailure, match="not covered by a signed checkpoint"):
            check_since_anchor(log.store, state)
        with pytest.raises(AuditTamperedError, match="does not verify at entry 5"):
            log.append(AuditEvent(EventType.SHARE_CREATED, label="on top"))
        assert log.problem is not None
    bad(walk_file(path, keys), 5, "not covered")


def test_the_anchored_head_rewritten_under_an_open_log_refuses_the_next_append(keys: MemoryKeyStore) -> None:
    with new_log(keys, 5) as log:
        with attacker(log.store.path) as db:
            edit_body(db, 5, label="rewritten head")
            rehash_from(db, 5)
        with pytest.raises(AuditTamperedError, match="differs from the keychain's checkpoint at entry 5"):
            log.append(AuditEvent(EventType.SHARE_CREATED, label="next"))
        assert len(log.entries()) == 5  # nothing was signed on top


def test_a_deleted_tail_under_an_open_log_refuses_the_next_append(keys: MemoryKeyStore) -> None:
    with new_log(keys, 5) as log:
        with attacker(log.store.path) as db:
            db.execute("DELETE FROM entries WHERE seq > 3")
            db.execute("DELETE FROM checkpoints")
        with pytest.raises(AuditTamperedError, match="truncated or rolled back"):
            log.append(AuditEvent(EventType.SHARE_CREATED, label="next"))


@pytest.mark.posix_open_files  # the attacker swaps the file while the log holds it open (POSIX allows it)
def test_a_file_swapped_under_an_open_log_refuses_the_next_append(keys: MemoryKeyStore) -> None:
    with new_log(keys, 3) as log:
        path = log.store.path
        copy = path.with_name("copy.sqlite3")
        copy.write_bytes(path.read_bytes())
        copy.replace(path)
        with pytest.raises(AuditTamperedError, match="replaced or moved"):
            log.append(AuditEvent(EventType.SHARE_CREATED, label="next"))


def test_an_interrupted_rotation_is_finished_and_a_stolen_rotation_is_refused(keys: MemoryKeyStore) -> None:
    with new_log(keys, 3) as log:
        before = load_state(keys)
        assert before is not None
        log.rotate()
        after = load_state(keys)
        assert after is not None
        # The crash: the keychain still holds epoch 0 with the next seed pending.
        crashed = replace(before, pending=PendingEpoch(after.epoch, after.seed, after.day))
        pos = check_since_anchor(log.store, crashed)
        assert pos.epoch == 1
        assert settle_rotation(crashed, pos).seed == after.seed
        with pytest.raises(VerifyFailure, match="never held"):
            settle_rotation(replace(before, pending=None), pos)
        save_state(keys, crashed)
        log.append(AuditEvent(EventType.SHARE_CREATED, label="after the crash"))
        settled = load_state(keys)
        assert settled is not None and settled.epoch == 1 and settled.pending is None
        assert log.verify().ok


def test_fingerprints_read_aloud_normalise() -> None:
    root = bytes(SigningKey.generate().verify_key)
    fp = fingerprint(root)
    assert len(fp.split("-")) == 8 and all(len(g) == 4 for g in fp.split("-"))
    assert normalize_fingerprint(fp.upper().replace("-", " ")) == fp
    assert normalize_fingerprint("not a fingerprint") is None
    assert canonical_json({"b": 1, "a": "\u00e9"}) == '{"a":"\\u00e9","b":1}'
