"""`ots audit ...` end to end, as separate processes on the real keychain."""

from __future__ import annotations

import csv
import json
import os
import sqlite3
from pathlib import Path

import pytest

from ots_desktop import __version__
from ots_desktop.core.errors import ExitCode
from tests.support.audit import attacker, open_log
from tests.support.cli import json_lines, run_ots

pytestmark = pytest.mark.usefixtures("keychain")


def test_version() -> None:
    result = run_ots("--version")
    assert result.returncode == 0
    assert __version__ in result.stdout


def test_verify_on_a_fresh_home_exits_zero() -> None:
    result = run_ots("audit", "verify")
    assert result.returncode == 0, result.stderr
    assert "intact" in result.stdout
    data = json_lines(run_ots("audit", "verify", "--json").stdout)[0]
    assert data["intact"] is True and data["anchored_to_keychain"] is True
    assert data["first_bad_seq"] is None


def test_fail_backend_exits_nonzero_and_says_why() -> None:
    result = run_ots("audit", "verify", env={"PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring"})
    assert result.returncode == ExitCode.KEYCHAIN
    assert "keyring.backends.fail.Keyring does not store secrets safely" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (Path(os.environ["OTS_HOME"]) / "data" / "audit.sqlite3").exists()


def test_no_session_bus_exits_nonzero_and_says_why() -> None:
    result = run_ots("audit", "list", "--json", drop=("DBUS_SESSION_BUS_ADDRESS",))
    assert result.returncode == ExitCode.KEYCHAIN
    error = json_lines(result.stdout)[0]
    assert error["event"] == "error" and "cannot use the OS keychain" in error["error"]


def test_reviews_are_audited_and_listed_as_json() -> None:
    assert run_ots("audit", "verify").returncode == 0
    rows = json_lines(run_ots("audit", "list", "--json").stdout)
    assert [r["event_type"] for r in rows] == ["audit_reviewed", "audit_reviewed", "log_created"]
    assert [r.get("reason") for r in rows[:2]] == ["list", "verify_intact"]
    only = json_lines(run_ots("audit", "list", "--json", "--type", "log_created").stdout)
    assert [r["event_type"] for r in only] == ["log_created"]


def test_tampered_log_exits_3_naming_the_entry() -> None:
    for _ in range(3):
        assert run_ots("audit", "verify").returncode == 0
    path = Path(os.environ["OTS_HOME"]) / "data" / "audit.sqlite3"
    with attacker(path) as db:
        db.execute("UPDATE entries SET body = replace(body, 'verify_intact', 'verify_intacT') WHERE seq = 3")
    result = run_ots("audit", "verify")
    assert result.returncode == ExitCode.TAMPERED
    assert "TAMPERED at entry 3" in result.stdout
    data = json_lines(run_ots("audit", "verify", "--json").stdout)[-1]
    assert data["intact"] is False and data["first_bad_seq"] == 3


def test_export_jsonl_and_verify_on_another_machine(tmp_path: Path) -> None:
    out = tmp_path / "export.jsonl"
    key = tmp_path / "audit.pub.json"
    assert run_ots("audit", "export", "--format", "jsonl", "--out", str(out)).returncode == 0
    assert run_ots("audit", "pubkey", "--out", str(key)).returncode == 0
    manifest = json.loads((tmp_path / "export.jsonl.manifest.json").read_text())
    assert manifest["entries"] == 2 and manifest["signature"] and manifest["verified_intact"]
    # "Another machine": no D-Bus, no keychain, a different OTS_HOME.
    elsewhere = {"OTS_HOME": str(tmp_path / "auditor"), "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring"}
    for log_file in (out, Path(os.environ["OTS_HOME"]) / "data" / "audit.sqlite3"):
        result = run_ots("audit", "verify", "--log", str(log_file), "--pubkey", str(key), "--json",
                         env=elsewhere, drop=("DBUS_SESSION_BUS_ADDRESS",))
        assert result.returncode == 0, result.stderr
        assert json_lines(result.stdout)[0]["intact"] is True
    # An edited entry breaks the chain; a change the chain cannot see still fails the signed manifest.
    text = out.read_text()
    out.write_text(text.replace("log_created", "log_createD"))
    result = run_ots("audit", "verify", "--log", str(out), "--pubkey", str(key), env=elsewhere,
                     drop=("DBUS_SESSION_BUS_ADDRESS",))
    assert result.returncode == ExitCode.TAMPERED
    assert "TAMPERED at entry 1" in result.stdout
    out.write_text(text + "\n")
    result = run_ots("audit", "verify", "--log", str(out), "--pubkey", str(key), env=elsewhere,
                     drop=("DBUS_SESSION_BUS_ADDRESS",))
    assert result.returncode == ExitCode.TAMPERED
    assert "does not match the SHA-256" in result.stdout


def test_export_without_its_manifest_cannot_be_verified(tmp_path: Path) -> None:
    out = tmp_path / "export.jsonl"
    key = tmp_path / "k.json"
    run_ots("audit", "export", "--format", "jsonl", "--out", str(out))
    run_ots("audit", "pubkey", "--out", str(key))
    (tmp_path / "export.jsonl.manifest.json").unlink()
    lines = out.read_text().splitlines()
    lines[1] = lines[1].replace('"outcome":"ok"', '"outcome":"failed"')
    out.write_text("\n".join(lines) + "\n")
    result = run_ots("audit", "verify", "--log", str(out), "--pubkey", str(key))
    assert result.returncode == ExitCode.CANNOT_VERIFY
    assert "verified with its signed manifest beside it" in result.stderr


def test_export_csv_with_manifest(tmp_path: Path) -> None:
    out = tmp_path / "audit.csv"
    result = run_ots("audit", "export", "--format", "csv", "--out", str(out), "--json")
    assert result.returncode == 0, result.stderr
    rows = list(csv.DictReader(out.open()))
    assert [r["event_type"] for r in rows] == ["log_created", "audit_exported"]
    assert rows[0]["entry_hash"] and rows[1]["prev_hash"] == rows[0]["entry_hash"]
    assert (tmp_path / "audit.csv.manifest.json").exists()
    assert oct(out.stat().st_mode & 0o777) == "0o600"


def test_export_refuses_unknown_format(tmp_path: Path) -> None:
    result = run_ots("audit", "export", "--format", "xml", "--out", str(tmp_path / "x"))
    assert result.returncode == ExitCode.USAGE


def test_lookup_reads_stdin_and_finds_the_secret() -> None:
    from ots_desktop.core.audit.events import AuditEvent, Channel, EventType
    from ots_desktop.core.secret import SecretBuffer

    with open_log() as log, SecretBuffer(b"AKIAIOSFODNN7EXAMPLE") as secret:
        log.append(AuditEvent(EventType.SHARE_CREATED, channel=Channel.LINK, fingerprint=log.fingerprint(secret)))
    found = json_lines(run_ots("audit", "lookup", "--json", stdin=b"AKIAIOSFODNN7EXAMPLE\n").stdout)
    assert found[0] == {"event": "lookup", "matches": 1}
    assert found[1]["event_type"] == "share_created"
    missing = run_ots("audit", "lookup", stdin=b"something else")
    assert missing.returncode == 0 and "No event" in missing.stdout
    empty = run_ots("audit", "lookup", stdin=b"")
    assert empty.returncode == ExitCode.INPUT and "no secret was given" in empty.stderr


def test_lookup_never_takes_the_secret_from_argv() -> None:
    result = run_ots("audit", "lookup", "AKIAIOSFODNN7EXAMPLE")
    assert result.returncode == ExitCode.USAGE
    assert "AKIAIOSFODNN7EXAMPLE" not in result.stderr


def test_verify_log_needs_pubkey(tmp_path: Path) -> None:
    result = run_ots("audit", "verify", "--log", str(tmp_path / "x.jsonl"))
    assert result.returncode == ExitCode.INPUT and "--log needs --pubkey" in result.stderr


def test_keyfile_fallback_is_explicit_and_uses_a_passphrase_fd(tmp_path: Path) -> None:
    read_fd, write_fd = os.pipe()
    os.write(write_fd, b"keyfile passphrase\n")
    os.close(write_fd)
    env = {"OTS_KEYSTORE": "file", "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring"}
    result = run_ots("--keyfile-passphrase-fd", str(read_fd), "audit", "verify", env=env,
                     drop=("DBUS_SESSION_BUS_ADDRESS",), pass_fds=(read_fd,))
    os.close(read_fd)
    assert result.returncode == 0, result.stderr
    keyfile = Path(os.environ["OTS_HOME"]) / "data" / "audit-keys.json"
    assert keyfile.exists()
    wrong_r, wrong_w = os.pipe()
    os.write(wrong_w, b"not it\n")
    os.close(wrong_w)
    result = run_ots("--keyfile-passphrase-fd", str(wrong_r), "audit", "verify", env=env,
                     drop=("DBUS_SESSION_BUS_ADDRESS",), pass_fds=(wrong_r,))
    os.close(wrong_r)
    assert result.returncode == ExitCode.KEYCHAIN and "is wrong" in result.stderr


def test_database_is_append_only_at_the_sql_level() -> None:
    run_ots("audit", "verify")
    db = sqlite3.connect(Path(os.environ["OTS_HOME"]) / "data" / "audit.sqlite3")
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        db.execute("DELETE FROM entries")
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        db.execute("UPDATE entries SET body = '{}'")
    db.close()
