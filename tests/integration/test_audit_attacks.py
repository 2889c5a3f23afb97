"""The attacker suite: each attack of docs/audit-log.md against real ``ots`` processes and a real keychain.

The attacker (a) writes files under OTS_HOME but not the keychain; (b) also read the
keychain once; (c) is an auditor's adversary handing over an export. Every test does
the attack, then asserts what ``ots audit verify`` reports (exit code, entry named), that
the keychain's anchor did not move, and that no share can start: ``ots send --via link``
against a real relay is refused before anything reaches it.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from ots_desktop.core.audit.keystore import KeychainStore, scope_for
from ots_desktop.core.audit.state import STATE, LogState, load_state
from ots_desktop.core.errors import ExitCode
from ots_desktop.core.paths import app_paths
from tests.conftest import Home
from tests.support.audit_forgery import append_forged, attacker, edit_body, rehash_from, resign_all
from tests.support.cli import json_lines, run_ots
from tests.support.servers import RunningServer, start_ots_server

pytestmark = pytest.mark.usefixtures("keychain")
SECRET = b"attack-suite canary secret"


@pytest.fixture(scope="module")
def relay(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """One real link relay for the module, stopped by PID."""
    server = start_ots_server(tmp_path_factory.mktemp("relay"), "--no-wormhole", "--create-rate", "0")
    yield server
    server.stop()


def db_path() -> Path:
    return app_paths().audit_db


def keychain_state() -> LogState | None:
    return load_state(KeychainStore(scope_for(app_paths().data_dir)))


def use_the_log(relay: RunningServer, shares: int = 3) -> None:
    """A normal history: shares by link, reviews, each a real process."""
    for _ in range(shares):
        result = run_ots("send", "--via", "link", "--relay", relay.link_url or "", "--json", stdin=SECRET)
        assert result.returncode == 0, result.stderr
    assert run_ots("audit", "verify").returncode == 0


def verify(*extra: str) -> tuple[int, dict[str, object]]:
    result = run_ots("audit", "verify", "--json", *extra)
    lines = json_lines(result.stdout)
    return result.returncode, (lines[-1] if lines else {"error": result.stderr})


def assert_no_share_starts(relay: RunningServer, code: int) -> None:
    """``ots send`` is refused with ``code``, names the way out, and prints no link."""
    result = run_ots("send", "--via", "link", "--relay", relay.link_url or "", "--json", stdin=SECRET)
    assert result.returncode == code, result
    assert "ots audit verify" in result.stderr or "ots audit keystore" in result.stderr
    assert "/s/" not in result.stdout


def assert_caught(relay: RunningServer, seq: int | None, words: str, *,
                  code: int = ExitCode.TAMPERED, anchor_before: LogState | None = None) -> None:
    rc, report = verify()
    assert rc == code, report
    assert report.get("intact") is not True
    if seq is not None:
        assert report.get("first_bad_seq") == seq, report
    assert words in str(report.get("problem") or report.get("error")), report
    assert_no_share_starts(relay, code)
    if anchor_before is not None:
        after = keychain_state()
        assert after is not None and after.anchor == anchor_before.anchor, "the keychain anchor moved"


def test_reinitialised_log_over_a_rehashed_padded_chain_is_never_signed(relay: RunningServer) -> None:
    use_the_log(relay)
    before = keychain_state()
    assert before is not None and before.anchor is not None
    with attacker(db_path()) as db:
        edit_body(db, 2, label="never shared", outcome="failed")
        db.execute("DELETE FROM entries WHERE seq = 3")
        db.execute("UPDATE entries SET seq = seq - 1 WHERE seq > 3")
        rehash_from(db, 2)
        append_forged(db, before.anchor.seq + 1 - db.execute("SELECT max(seq) FROM entries").fetchone()[0])
        db.execute("DELETE FROM checkpoints")
        db.execute("DELETE FROM meta")
    # Every command the auditor or user might run afterwards, then the checks.
    for command in (("audit", "list"), ("audit", "pubkey"), ("audit", "verify")):
        assert run_ots(*command).returncode != 0 or command[1] != "verify"
    assert_caught(relay, 1, "has no log identity", anchor_before=before)
    entries = json_lines(run_ots("audit", "list", "--json", "--limit", "100").stdout)
    assert not [e for e in entries if e.get("event_type") == "log_created" and e.get("seq") != 1]


def test_made_up_database_without_meta_is_refused(relay: RunningServer) -> None:
    use_the_log(relay, shares=1)
    before = keychain_state()
    assert before is not None and before.anchor is not None
    path = db_path()
    for suffix in ("", "-wal", "-shm"):
        path.with_name(path.name + suffix).unlink(missing_ok=True)
    db = sqlite3.connect(path)
    db.executescript("CREATE TABLE entries (seq INTEGER PRIMARY KEY, body TEXT, prev_hash TEXT, entry_hash TEXT);"
                     "CREATE TABLE checkpoints (seq INTEGER PRIMARY KEY, body TEXT);")
    db.execute("INSERT INTO entries VALUES (1, '{}', ?, ?)", ("0" * 64, "1" * 64))
    db.commit()
    db.close()
    with attacker(path) as raw:
        append_forged(raw, before.anchor.seq + 1)
    assert_caught(relay, 1, "has no log identity", anchor_before=before)


def test_rollback_plus_padding_is_caught_at_the_anchor(relay: RunningServer) -> None:
    use_the_log(relay, shares=1)
    path = db_path()
    backup = path.with_name("old-copy.sqlite3")
    run_ots("audit", "verify")
    shutil.copyfile(path, backup)
    use_the_log(relay, shares=2)
    before = keychain_state()
    assert before is not None and before.anchor is not None
    for suffix in ("-wal", "-shm"):
        path.with_name(path.name + suffix).unlink(missing_ok=True)
    shutil.copyfile(backup, path)
    with attacker(path) as db:
        start = db.execute("SELECT max(seq) FROM entries").fetchone()[0]
        append_forged(db, before.anchor.seq + 2 - start)
    # The padding reaches past the anchor, but nothing can sign it.
    assert_caught(relay, start + 1, "not covered by a signed checkpoint", anchor_before=before)
    shutil.copyfile(backup, path)  # the rollback alone
    assert_caught(relay, start + 1, "truncated or rolled back", anchor_before=before)


@pytest.mark.parametrize("blank", ["zero bytes", "empty sqlite", "not sqlite"])
def test_an_empty_database_in_place_of_the_file(relay: RunningServer, blank: str) -> None:
    use_the_log(relay, shares=1)
    before = keychain_state()
    path = db_path()
    for suffix in ("", "-wal", "-shm"):
        path.with_name(path.name + suffix).unlink(missing_ok=True)
    if blank == "zero bytes":
        path.write_bytes(b"")
        words = "missing or empty"
    elif blank == "not sqlite":
        path.write_bytes(b"MZ" + os.urandom(4000))
        words = "not an SQLite database"
    else:
        sqlite3.connect(path).execute("CREATE TABLE t (x)").connection.close()
        words = "has no log identity"
    assert_caught(relay, None, words, anchor_before=before)
    assert keychain_state() == before  # no new log, no new key


def test_the_file_of_another_installation_is_refused(relay: RunningServer, isolated_home: Home) -> None:
    use_the_log(relay, shares=1)
    other = isolated_home.root / "other-ots"
    assert run_ots("audit", "verify", env={"OTS_HOME": str(other)}).returncode == 0
    path = db_path()
    for suffix in ("-wal", "-shm"):
        path.with_name(path.name + suffix).unlink(missing_ok=True)
    shutil.copyfile(other / "data" / "audit.sqlite3", path)
    assert_caught(relay, 1, "but the keychain holds log")


def test_entries_of_another_log_spliced_into_the_middle(relay: RunningServer, isolated_home: Home) -> None:
    use_the_log(relay, shares=2)
    other = isolated_home.root / "other-ots"
    assert run_ots("audit", "verify", env={"OTS_HOME": str(other)}).returncode == 0
    with sqlite3.connect(other / "data" / "audit.sqlite3") as src:
        foreign_body, foreign_cp = src.execute(
            "SELECT e.body, c.body FROM entries e, checkpoints c WHERE e.seq = 1 ORDER BY c.seq DESC").fetchone()
    with attacker(db_path()) as db:
        db.execute("UPDATE entries SET body = ? WHERE seq = 3", (foreign_body.replace('"seq":1,', '"seq":3,'),))
        rehash_from(db, 3)
        db.execute("INSERT OR REPLACE INTO checkpoints VALUES (3, ?)", (foreign_cp,))
    assert_caught(relay, 3, "another log")


def test_missing_keychain_anchor_cannot_be_verified(relay: RunningServer) -> None:
    use_the_log(relay, shares=1)
    KeychainStore(scope_for(app_paths().data_dir)).delete(STATE)  # a keychain reset, not the attacker
    assert_caught(relay, None, "holds no anchor", code=ExitCode.CANNOT_VERIFY)
    assert db_path().exists()


def test_keystore_downgrade_through_config_is_refused(relay: RunningServer) -> None:
    use_the_log(relay, shares=1)
    paths = app_paths()
    before = keychain_state()
    paths.config_file.write_text('keystore = "file"\n')
    read_fd, write_fd = os.pipe()
    os.write(write_fd, b"any passphrase at all\n")
    os.close(write_fd)
    try:
        result = run_ots("--keyfile-passphrase-fd", str(read_fd), "audit", "verify", pass_fds=(read_fd,))
    finally:
        os.close(read_fd)
    assert result.returncode == ExitCode.TAMPERED, result
    assert "OS keychain holds this installation's audit log" in result.stderr
    assert not paths.keyfile.exists()
    assert_no_share_starts(relay, ExitCode.TAMPERED)
    assert keychain_state() == before


def test_exports_of_a_tampered_log_never_verify_as_intact(relay: RunningServer, tmp_path: Path) -> None:
    use_the_log(relay, shares=2)
    key = tmp_path / "audit.pub.json"
    assert run_ots("audit", "pubkey", "--out", str(key)).returncode == 0
    fp = json.loads(key.read_text())["fingerprint"]
    path = db_path()
    backup = path.with_name("old.sqlite3")
    shutil.copyfile(path, backup)
    use_the_log(relay, shares=1)
    for suffix in ("-wal", "-shm"):
        path.with_name(path.name + suffix).unlink(missing_ok=True)
    shutil.copyfile(backup, path)  # a rollback: the file alone is consistent, the anchor is not
    for fmt in ("csv", "jsonl"):
        out = tmp_path / f"audit.{fmt}"
        exported = run_ots("audit", "export", "--format", fmt, "--out", str(out), "--json")
        assert exported.returncode == 0, exported.stderr
        assert json_lines(exported.stdout)[-1]["verified_intact"] is False
        for trust in (str(key), fp):
            rc, report = verify("--log", str(out), "--pubkey", trust)
            assert rc == ExitCode.TAMPERED, report
            assert "already failed verification when it was exported" in str(report["problem"])
    assert_no_share_starts(relay, ExitCode.TAMPERED)


def test_a_key_read_before_an_epoch_change_cannot_resign_the_past(relay: RunningServer, tmp_path: Path) -> None:
    use_the_log(relay, shares=2)
    fp = json.loads(run_ots("audit", "pubkey", "--json").stdout.splitlines()[-1])["fingerprint"]
    assert run_ots("audit", "rotate").returncode == 0
    stolen = keychain_state()  # attacker (b) reads the keychain once, in epoch 1
    assert stolen is not None and stolen.epoch == 1
    use_the_log(relay, shares=1)
    assert run_ots("audit", "rotate").returncode == 0  # epoch 2: the stolen key is erased
    after = keychain_state()
    assert after is not None and after.epoch == 2 and stolen.seed not in after.to_json()
    path = db_path()
    with attacker(path) as db:
        seq = db.execute("SELECT min(seq) FROM entries WHERE body LIKE '%share_created%'").fetchone()[0]
        edit_body(db, seq, label="it was never shared")
        rehash_from(db, seq)
        resign_all(db, stolen.signing_key(), 1)
    rc, report = verify()
    assert rc == ExitCode.TAMPERED and report["first_bad_seq"] is not None
    copy = tmp_path / "copy.sqlite3"
    shutil.copyfile(path, copy)
    rc, offline = verify("--log", str(copy), "--pubkey", fp)
    assert rc == ExitCode.TAMPERED, offline
    assert "epoch" in str(offline["problem"])
    assert_no_share_starts(relay, ExitCode.TAMPERED)


def test_a_stolen_key_cannot_certify_a_new_epoch_on_the_users_machine(relay: RunningServer) -> None:
    from nacl.signing import SigningKey

    from ots_desktop.core.audit.events import AuditEvent, EventType
    from ots_desktop.core.audit.keys import KeyCertificate

    use_the_log(relay, shares=1)
    stolen = keychain_state()
    assert stolen is not None and stolen.anchor is not None
    mallory = SigningKey.generate()
    with attacker(db_path()) as db:
        seq, prev = db.execute("SELECT seq, entry_hash FROM entries ORDER BY seq DESC LIMIT 1").fetchone()
        cert = KeyCertificate(stolen.log_id, 1, bytes(mallory.verify_key).hex(), seq + 1, prev)
        cert = cert.signed(stolen.signing_key())
        fields = AuditEvent(EventType.KEY_ROTATED, epoch=1, public_key=cert.public_key,
                            signature=cert.signature).fields()
        from ots_desktop.core.audit.chain import canonical_json, entry_hash

        body = canonical_json(dict(fields, seq=seq + 1, ts_utc="2026-01-01T00:00:00.000Z"))
        db.execute("INSERT INTO entries VALUES (?, ?, ?, ?)", (seq + 1, body, prev, entry_hash(prev, body)))
        resign_all(db, mallory, 1, from_seq=seq + 1)
    rc, report = verify()
    assert rc == ExitCode.TAMPERED and report["first_bad_seq"] == seq + 1, report
    assert "never held" in str(report["problem"])
    assert_no_share_starts(relay, ExitCode.TAMPERED)
    after = keychain_state()
    assert after is not None and after.epoch == 0 and after.anchor == stolen.anchor
