"""Exports walk again elsewhere, the trust root comes from what an auditor holds, config cannot switch keystores.

No keychain: keys sit in a dict (see tests/support/audit_forgery.py); the files are real.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from nacl.signing import SigningKey

from ots_desktop.core.audit.events import AuditEvent, Channel, EventType
from ots_desktop.core.audit.export import export_log, manifest_path
from ots_desktop.core.audit.keys import fingerprint
from ots_desktop.core.audit.keystore_choice import check_keystore_choice, switch_keystore
from ots_desktop.core.audit.lifecycle import reset_log
from ots_desktop.core.audit.log import AuditLog
from ots_desktop.core.audit.offline import TrustRoot, read_trust, verify_file
from ots_desktop.core.audit.state import load_state
from ots_desktop.core.errors import AuditTamperedError, InputError, KeychainError
from ots_desktop.core.paths import app_paths
from tests.support.audit_forgery import MemoryKeyStore, attacker

AWKWARD = ["=SUM(A1:A9)", "+1", "-2", "@cmd", "'quoted", "''twice", "\u00e9t\u00e9 \u2603", "plain, with comma",
           'a "quote"', " leading space"]


def awkward_log(keys: MemoryKeyStore) -> AuditLog:
    log = AuditLog.open(app_paths(), keys, app_version="unit")
    for n, label in enumerate(AWKWARD):
        log.append(AuditEvent(EventType.SHARE_CREATED, channel=Channel.LINK, label=label, recipient=label,
                              size_bytes=n, max_views=1))
    log.rotate()
    log.append(AuditEvent(EventType.SHARE_REVOKED, label="after the rotation"))
    return log


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_every_export_walks_again_from_the_fingerprint(fmt: str, tmp_path: Path) -> None:
    keys = MemoryKeyStore()
    with awkward_log(keys) as log:
        out = tmp_path / f"audit.{fmt}"
        manifest = export_log(log, fmt, out)
        fp = log.fingerprint_text
    assert manifest["verified_intact"] is True and manifest["epoch"] == 1
    report = verify_file(out, TrustRoot(fingerprint=fp))
    assert report.ok, report.problem
    assert report.entries == len(AWKWARD) + 3 and report.epoch == 1


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_an_edited_export_or_manifest_fails(fmt: str, tmp_path: Path) -> None:
    keys = MemoryKeyStore()
    with awkward_log(keys) as log:
        out = tmp_path / f"audit.{fmt}"
        export_log(log, fmt, out)
        trust = TrustRoot(public_key=log.public_key)
    text = out.read_text("utf-8")
    out.write_text(text.replace("after the rotation", "after the rotatioN"), "utf-8")
    report = verify_file(out, trust)
    assert not report.ok and "altered" in (report.problem or "")
    out.write_text(text, "utf-8")
    manifest = json.loads(manifest_path(out).read_text("utf-8"))
    manifest["verified_intact"] = True
    manifest["entries"] = 3
    manifest_path(out).write_text(json.dumps(manifest), "utf-8")
    report = verify_file(out, trust)
    assert not report.ok and "not signed by the log's key" in (report.problem or "")


def test_a_tampered_log_exports_with_a_manifest_that_says_so(tmp_path: Path) -> None:
    keys = MemoryKeyStore()
    with awkward_log(keys) as log:
        with attacker(log.store.path) as db:
            db.execute("UPDATE entries SET body = replace(body, '+1', '+9') WHERE seq = 3")
        out = tmp_path / "audit.jsonl"
        manifest = export_log(log, "jsonl", out)
        trust = TrustRoot(fingerprint=log.fingerprint_text)
    assert manifest["verified_intact"] is False and "entry 3" in manifest["problem"]
    report = verify_file(out, trust)
    assert not report.ok and report.first_bad_seq == 3


def test_the_trust_root_comes_from_a_fingerprint_a_key_file_or_hex(tmp_path: Path) -> None:
    root = bytes(SigningKey.generate().verify_key)
    fp = fingerprint(root)
    assert read_trust(fp.upper()) == TrustRoot(fingerprint=fp)
    assert read_trust(root.hex()) == TrustRoot(public_key=root)
    keyfile = tmp_path / "k.json"
    keyfile.write_text(json.dumps({"public_key": root.hex(), "log_id": "abc"}))
    assert read_trust(str(keyfile)) == TrustRoot(public_key=root, log_id="abc")
    (tmp_path / "fp.txt").write_text(fp + "\n")
    assert read_trust(str(tmp_path / "fp.txt")) == TrustRoot(fingerprint=fp)
    for bad in ("not-a-key", "ab" * 31):
        with pytest.raises(InputError):
            read_trust(bad)


def test_config_alone_cannot_move_the_keys_off_the_keychain(tmp_path: Path) -> None:
    paths = app_paths().ensure()
    keychain = MemoryKeyStore()
    AuditLog.open(paths, keychain, app_version="unit").close()
    with pytest.raises(AuditTamperedError, match="OS keychain holds this installation's audit log"):
        check_keystore_choice(paths, "file", lambda: keychain)
    check_keystore_choice(paths, "keychain", lambda: keychain)

    def no_keychain() -> MemoryKeyStore:
        raise KeychainError("no Secret Service")

    check_keystore_choice(paths, "file", no_keychain)  # a machine without a keychain may use the file
    paths.keyfile.write_text("{}")
    with pytest.raises(AuditTamperedError, match="no longer select it"):
        check_keystore_choice(paths, "keychain", MemoryKeyStore)


def test_a_switch_is_signed_by_the_current_keys_and_empties_the_old_store() -> None:
    paths = app_paths().ensure()
    source, target = MemoryKeyStore(), type("FileLike", (MemoryKeyStore,), {})()
    saved: list[bool] = []
    with AuditLog.open(paths, source, app_version="unit") as log:
        switch_keystore(log, target, "file", lambda: saved.append(True))
        assert log.entries(event_type="keystore_changed")[0]["kind"] == "file"
    assert saved == [True] and source.values == {} and load_state(target) is not None
    with AuditLog.open(paths, target, app_version="unit") as moved:
        assert moved.verify().ok


def test_reset_names_the_old_log_in_the_new_first_entry() -> None:
    paths = app_paths().ensure()
    keys = MemoryKeyStore()
    with AuditLog.open(paths, keys, app_version="unit") as old:
        old.append(AuditEvent(EventType.SHARE_CREATED, label="before"))
        old_state = load_state(keys)
    assert old_state is not None and old_state.anchor is not None
    new, archived = reset_log(paths, keys, "keychain was wiped", app_version="unit")
    with new:
        first = new.entries()[0]
        assert (first["prev_log_id"], first["prev_seq"], first["prev_head"]) == (
            old_state.log_id, old_state.anchor.seq, old_state.anchor.head)
        assert first["label"] == "keychain was wiped" and new.log_id != old_state.log_id
        assert new.verify().ok
    assert archived is not None and archived.exists()
    with pytest.raises(InputError):
        reset_log(paths, keys, "bad\x07note", app_version="unit")
