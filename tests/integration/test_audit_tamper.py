"""The tamper suite: every kind of tampering is caught and the first bad entry is named."""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path

import pytest
from nacl.signing import SigningKey

from ots_desktop.core.audit.chain import canonical_json, entry_hash
from ots_desktop.core.audit.checkpoint import Checkpoint
from ots_desktop.core.audit.keys import fingerprint
from ots_desktop.core.audit.offline import TrustRoot, verify_file
from ots_desktop.core.audit.state import load_state
from ots_desktop.core.audit.verify import VerifyReport
from ots_desktop.core.errors import AuditTamperedError
from tests.support.audit import attacker, open_log, populate, share_event

pytestmark = pytest.mark.usefixtures("keychain")


def verify_here() -> VerifyReport:
    with open_log() as log:
        return log.verify()


def assert_tampered(report: VerifyReport, seq: int, words: str) -> None:
    assert not report.ok
    assert report.first_bad_seq == seq, report.problem
    assert words in (report.problem or ""), report.problem
    assert f"entry {seq}" in report.summary()


def test_untouched_log_verifies() -> None:
    populate(8)
    report = verify_here()
    assert report.ok and report.entries == 8 and report.anchored
    assert report.first_bad_seq is None


def test_edited_byte_in_the_file() -> None:
    path = populate(8)
    raw = bytearray(path.read_bytes())
    at = raw.index(b"deploy token 5")
    raw[at + len("deploy token ")] = ord("9")
    path.write_bytes(bytes(raw))
    assert_tampered(verify_here(), 5, "was altered")


def test_edited_byte_that_breaks_json() -> None:
    path = populate(6)
    raw = bytearray(path.read_bytes())
    at = raw.index(b'"label":"deploy token 4"')
    raw[at] = ord("{")
    path.write_bytes(bytes(raw))
    assert_tampered(verify_here(), 4, "not valid JSON")


def test_deleted_entry() -> None:
    path = populate(8)
    with attacker(path) as db:
        db.execute("DELETE FROM entries WHERE seq = 4")
    assert_tampered(verify_here(), 4, "missing")


def test_inserted_entry_that_does_not_fit_the_chain() -> None:
    path = populate(6)
    with attacker(path) as db:
        rows = db.execute("SELECT seq, body, prev_hash, entry_hash FROM entries WHERE seq >= 3 ORDER BY seq DESC")
        for seq, body, prev, digest in rows.fetchall():
            db.execute("DELETE FROM entries WHERE seq = ?", (seq,))
            db.execute("INSERT INTO entries VALUES (?, ?, ?, ?)", (seq + 1, body, prev, digest))
        forged = canonical_json({"seq": 3, "event_type": "share_created", "label": "planted"})
        db.execute("INSERT INTO entries VALUES (3, ?, ?, ?)", (forged, "0" * 64, "f" * 64))
    assert_tampered(verify_here(), 3, "does not follow entry 2")


def test_inserted_entry_forged_to_fit_the_chain() -> None:
    path = populate(6)
    with attacker(path) as db:
        prev = db.execute("SELECT entry_hash FROM entries WHERE seq = 2").fetchone()[0]
        rows = db.execute("SELECT seq, body, prev_hash, entry_hash FROM entries WHERE seq >= 3 ORDER BY seq DESC")
        for seq, body, old_prev, digest in rows.fetchall():
            db.execute("DELETE FROM entries WHERE seq = ?", (seq,))
            db.execute("INSERT INTO entries VALUES (?, ?, ?, ?)", (seq + 1, body, old_prev, digest))
        forged = canonical_json({"seq": 3, "event_type": "share_created", "label": "planted"})
        db.execute("INSERT INTO entries VALUES (3, ?, ?, ?)", (forged, prev, entry_hash(prev, forged)))
    # The planted entry is self-consistent; the chain breaks at the next one.
    assert_tampered(verify_here(), 4, "another sequence number")


def test_reordered_entries() -> None:
    path = populate(8)
    with attacker(path) as db:
        a = db.execute("SELECT body, prev_hash, entry_hash FROM entries WHERE seq = 5").fetchone()
        b = db.execute("SELECT body, prev_hash, entry_hash FROM entries WHERE seq = 6").fetchone()
        db.execute("UPDATE entries SET body=?, prev_hash=?, entry_hash=? WHERE seq = 5", b)
        db.execute("UPDATE entries SET body=?, prev_hash=?, entry_hash=? WHERE seq = 6", a)
    assert_tampered(verify_here(), 5, "another sequence number")


def test_truncated_tail_with_its_checkpoints_removed() -> None:
    path = populate(8)
    with attacker(path) as db:
        db.execute("DELETE FROM entries WHERE seq > 6")
        db.execute("DELETE FROM checkpoints")
    report = verify_here()
    assert_tampered(report, 1, "no signed checkpoint")


def test_truncated_tail_with_a_resigned_looking_checkpoint_is_caught_by_the_keychain() -> None:
    path = populate(8)
    with open_log() as log:
        state = load_state(log.keystore)  # the attacker has the file only; this builds the valid old checkpoint
        assert state is not None
        cp6 = Checkpoint(log.log_id, 6, log.store.hash_at(6) or "", "2026-01-01T00:00:00.000Z", state.key_id,
                         state.epoch).signed(state.signing_key())
    with attacker(path) as db:
        db.execute("DELETE FROM entries WHERE seq > 6")
        db.execute("DELETE FROM checkpoints")
        db.execute("INSERT INTO checkpoints VALUES (6, ?)", (cp6.to_json(),))
    assert_tampered(verify_here(), 7, "truncated or rolled back")


def test_truncated_tail_leaving_the_checkpoint() -> None:
    path = populate(8)
    with attacker(path) as db:
        db.execute("DELETE FROM entries WHERE seq > 5")
    assert_tampered(verify_here(), 6, "entries were removed")


def test_rolled_back_file() -> None:
    path = populate(5)
    backup = path.with_name("backup.sqlite3")
    shutil.copyfile(path, backup)
    with open_log() as log:
        for n in range(6, 9):
            log.append(share_event(n))
    shutil.copyfile(backup, path)
    assert_tampered(verify_here(), 6, "truncated or rolled back")
    # ...and the app refuses to write on top of a rolled-back log.
    with open_log() as log:
        assert log.blocked_reason and "rolled back" in log.blocked_reason
        with pytest.raises(AuditTamperedError, match=r"does not verify at entry 6 .*ots audit verify"):
            log.append(share_event(9))
    assert_tampered(verify_here(), 6, "truncated or rolled back")


def test_forged_checkpoint_signature() -> None:
    path = populate(5)
    with attacker(path) as db:
        body = db.execute("SELECT body FROM checkpoints WHERE seq = 5").fetchone()[0]
        cp = Checkpoint.from_json(body)
        sig = ("1" if cp.signature[0] != "1" else "2") + cp.signature[1:]
        forged = replace(cp, signature=sig)
        db.execute("UPDATE checkpoints SET body = ? WHERE seq = 5", (forged.to_json(),))
    assert_tampered(verify_here(), 5, "does not verify")


def test_rewritten_chain_signed_with_the_attackers_key() -> None:
    path = populate(5)
    mallory = SigningKey.generate()
    with attacker(path) as db:
        cp = Checkpoint.from_json(db.execute("SELECT body FROM checkpoints WHERE seq = 5").fetchone()[0])
        forged = cp.signed(mallory)
        db.execute("UPDATE checkpoints SET body = ? WHERE seq = 5", (forged.to_json(),))
    assert_tampered(verify_here(), 5, "does not verify")


def test_wrong_public_key_offline(tmp_path: Path) -> None:
    path = populate(4)
    wrong = bytes(SigningKey.generate().verify_key)
    report = verify_file(path, TrustRoot(public_key=wrong))
    assert_tampered(report, 1, "does not create this log with this root key")
    report = verify_file(path, TrustRoot(fingerprint=fingerprint(wrong)))
    assert_tampered(report, 1, f"not {fingerprint(wrong)}")


def test_right_public_key_offline() -> None:
    path = populate(4)
    with open_log() as log:
        key, fp = log.public_key, log.fingerprint_text
    for trust in (TrustRoot(public_key=key), TrustRoot(fingerprint=fp)):
        report = verify_file(path, trust)
        assert report.ok and report.entries == 4 and not report.anchored
