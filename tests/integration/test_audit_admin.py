"""The log's own life through real ``ots`` processes: key epochs, resets, keystore moves, older logs.

Also that a log which does not verify stops the wormhole as it stops links: ``ots send``
and ``ots receive`` are refused before the code is used.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
from dataclasses import replace
from pathlib import Path

import pytest

from ots_desktop.core.audit.keystore import SERVICE, KeychainStore, scope_for
from ots_desktop.core.audit.state import STATE, LogState, load_state, save_state
from ots_desktop.core.config import load_config
from ots_desktop.core.errors import ExitCode
from ots_desktop.core.paths import app_paths
from tests.support.audit_forgery import attacker, edit_body
from tests.support.cli import json_lines, run_ots
from tests.support.servers import RunningServer

pytestmark = pytest.mark.usefixtures("keychain")
PASSPHRASE = b"new key file passphrase"


def keychain() -> KeychainStore:
    return KeychainStore(scope_for(app_paths().data_dir))


def state() -> LogState:
    found = load_state(keychain())
    assert found is not None
    return found


def entries() -> list[dict[str, object]]:
    result = run_ots("audit", "list", "--json", "--limit", "1000")
    assert result.returncode == 0, result.stderr
    return list(reversed(json_lines(result.stdout)))


def tamper() -> None:
    with attacker(app_paths().audit_db) as db:
        edit_body(db, 1, label="edited")


def run_with_passphrase(passphrase: bytes, *args: str) -> subprocess.CompletedProcess[str]:
    """``ots ARGS`` with ``passphrase`` on an inherited pipe; ``{fd}`` in ARGS names its descriptor."""
    read_fd, write_fd = os.pipe()
    os.write(write_fd, passphrase + b"\n")
    os.close(write_fd)
    try:
        return run_ots(*(arg.format(fd=read_fd) for arg in args), pass_fds=(read_fd,))
    finally:
        os.close(read_fd)


def test_rotate_starts_a_new_epoch_and_erases_the_old_key() -> None:
    assert run_ots("audit", "verify").returncode == 0
    before = state()
    result = run_ots("audit", "rotate", "--json")
    assert result.returncode == 0, result.stderr
    assert json_lines(result.stdout)[-1]["epoch"] == 1
    after = state()
    assert after.epoch == 1 and before.seed not in after.to_json()
    [rotated] = [e for e in entries() if e["event_type"] == "key_rotated"]
    assert rotated["epoch"] == 1 and rotated["public_key"] == after.public_key.hex()
    report = json_lines(run_ots("audit", "verify", "--json").stdout)[-1]
    assert report["intact"] is True and report["epoch"] == 1


def test_a_new_utc_day_starts_a_new_epoch_at_the_first_entry() -> None:
    assert run_ots("audit", "verify").returncode == 0
    save_state(keychain(), replace(state(), day="2020-01-01"))  # as if the last entry was written back then
    assert run_ots("audit", "verify").returncode == 0  # its review entry is the day's first
    assert state().epoch == 1
    assert run_ots("audit", "verify").returncode == 0
    assert state().epoch == 1


def test_reset_keeps_the_old_file_and_names_it_in_the_new_log() -> None:
    assert run_ots("audit", "verify").returncode == 0
    old_fp = json_lines(run_ots("audit", "pubkey", "--json").stdout)[-1]["fingerprint"]
    old = state()
    assert old.anchor is not None
    tamper()
    assert run_ots("audit", "verify").returncode == ExitCode.TAMPERED
    refused = run_ots("audit", "reset", "--reason", "restored laptop")  # no terminal to confirm on
    assert refused.returncode != 0 and state() == old
    result = run_ots("audit", "reset", "--reason", "laptop restored from backup; ticket SEC-42", "--yes", "--json")
    assert result.returncode == 0, result.stderr
    done = json_lines(result.stdout)[-1]
    assert done["fingerprint"] != old_fp and Path(done["archived"]).exists()
    with sqlite3.connect(done["archived"]) as archived:  # the evidence is kept as it was
        assert "edited" in archived.execute("SELECT body FROM entries WHERE seq = 1").fetchone()[0]
    first = entries()[0]
    assert first["event_type"] == "log_created" and first["reason"] == "reset"
    assert first["label"] == "laptop restored from backup; ticket SEC-42"
    assert (first["prev_log_id"], first["prev_seq"], first["prev_head"]) == (old.log_id, old.anchor.seq,
                                                                              old.anchor.head)
    assert run_ots("audit", "verify").returncode == 0


def test_reset_needs_a_reason_an_auditor_can_read() -> None:
    assert run_ots("audit", "verify").returncode == 0
    for reason in ("   ", "x" * 201, "two\nlines"):
        result = run_ots("audit", "reset", "--reason", reason, "--yes")
        assert result.returncode == ExitCode.INPUT, result
        assert "Traceback" not in result.stderr
    assert run_ots("audit", "verify").returncode == 0


def test_a_log_of_the_earlier_version_is_refused_until_reset() -> None:
    paths = app_paths().ensure()
    store = keychain()
    store.set("audit-signing-seed", "11" * 32)
    store.set("audit-checkpoint", json.dumps({"log_id": "old", "seq": 1}))
    with sqlite3.connect(paths.audit_db) as db:
        db.executescript("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);"
                         "INSERT INTO meta VALUES ('log_id', 'v1-log'), ('schema', '1');")
    result = run_ots("audit", "verify")
    assert result.returncode == ExitCode.CANNOT_VERIFY
    assert "ots audit reset --reason upgrade" in result.stderr
    assert run_ots("send", "--via", "link", "--relay", "http://127.0.0.1:9", stdin=b"x").returncode == 8
    assert run_ots("audit", "reset", "--reason", "upgrade", "--yes").returncode == 0
    assert store.get("audit-signing-seed") is None and store.get("audit-checkpoint") is None
    first = entries()[0]
    assert (first["reason"], first["label"], first["prev_log_id"]) == ("reset", "upgrade", "v1-log")
    assert run_ots("audit", "verify").returncode == 0


def test_keys_move_to_a_key_file_and_back_only_through_the_signed_command() -> None:
    paths = app_paths()
    assert run_ots("audit", "verify").returncode == 0
    before = state()
    result = run_with_passphrase(PASSPHRASE, "audit", "keystore", "file", "--new-passphrase-fd", "{fd}")
    assert result.returncode == 0, result.stderr
    assert load_config(paths.config_file).keystore == "file" and paths.keyfile.exists()
    assert load_state(keychain()) is None
    listed = run_with_passphrase(PASSPHRASE, "--keyfile-passphrase-fd", "{fd}", "audit", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    kinds = [row["event_type"] for row in json_lines(listed.stdout)]
    assert "keystore_changed" in kinds
    back = run_with_passphrase(PASSPHRASE, "--keyfile-passphrase-fd", "{fd}", "audit", "keystore", "keychain")
    assert back.returncode == 0, back.stderr
    assert not paths.keyfile.exists() and load_config(paths.config_file).keystore == "keychain"
    after = state()
    assert after.log_id == before.log_id and after.root_public_key == before.root_public_key
    assert run_ots("audit", "verify").returncode == 0


def test_keys_do_not_move_off_a_log_that_does_not_verify() -> None:
    assert run_ots("audit", "verify").returncode == 0
    tamper()
    result = run_with_passphrase(b"pw", "audit", "keystore", "file", "--new-passphrase-fd", "{fd}")
    assert result.returncode == ExitCode.TAMPERED
    assert not app_paths().keyfile.exists() and load_state(keychain()) is not None


def test_wormhole_send_and_receive_refuse_a_log_that_does_not_verify(wormhole_server: RunningServer) -> None:
    flags = ("--mailbox-url", wormhole_server.mailbox_url, "--transit-helper", wormhole_server.transit_helper)
    assert run_ots("audit", "verify").returncode == 0
    tamper()
    sent = run_ots("send", "--json", *flags, stdin=b"wormhole canary", timeout=60)
    assert sent.returncode == ExitCode.TAMPERED, sent
    assert "ots audit verify" in sent.stderr and '"code"' not in sent.stdout
    got = run_ots("receive", "--json", *flags, stdin=b"7-crossover-clockwork\n", timeout=60)
    assert got.returncode == ExitCode.TAMPERED, got
    assert "ots audit verify" in got.stderr


def test_the_keychain_item_holds_one_seed_and_no_secret_of_the_old_epochs() -> None:
    assert run_ots("audit", "verify").returncode == 0
    seeds = {state().seed}
    for _ in range(3):
        assert run_ots("audit", "rotate").returncode == 0
        seeds.add(state().seed)
    import keyring

    raw = keyring.get_password(SERVICE, f"{STATE}:{scope_for(app_paths().data_dir)}")
    assert raw is not None
    assert sum(seed in raw for seed in seeds) == 1


def test_reset_asks_on_the_terminal_and_no_is_the_default() -> None:
    from tests.support.terminal import Terminal

    assert run_ots("audit", "verify").returncode == 0
    before = state()
    term = Terminal("audit", "reset", "--reason", "testing the prompt")
    term.expect("Start a new audit log?")
    term.type("")
    assert term.wait() == ExitCode.CANCELLED and "cancelled" in term.text
    assert state() == before
    term = Terminal("audit", "reset", "--reason", "testing the prompt")
    term.expect("[y/N]")
    term.type("y")
    assert term.wait() == 0, term.text
    assert "New audit log" in term.text and state().log_id != before.log_id


def test_moving_keys_to_a_file_asks_twice_without_echo() -> None:
    from tests.support.terminal import Terminal

    assert run_ots("audit", "verify").returncode == 0
    term = Terminal("audit", "keystore", "file")
    term.expect("New key file passphrase:")
    term.type("first try 1")
    term.expect("Repeat the passphrase:")
    term.type("first try 2")
    assert term.wait() == ExitCode.INPUT and "differ" in term.text
    assert not app_paths().keyfile.exists()
    term = Terminal("audit", "keystore", "file")
    term.expect("New key file passphrase:")
    term.type("typed at the keyboard")
    term.expect("Repeat the passphrase:")
    term.type("typed at the keyboard")
    assert term.wait() == 0, term.text
    assert "typed at the keyboard" not in term.text and "first try" not in term.text
    assert app_paths().keyfile.exists() and load_state(keychain()) is None


def test_a_keystore_set_by_the_environment_is_not_moved() -> None:
    assert run_ots("audit", "verify").returncode == 0
    result = run_ots("audit", "keystore", "file", env={"OTS_KEYSTORE": "keychain"})
    assert result.returncode == ExitCode.INPUT and "OTS_KEYSTORE" in result.stderr
    assert not app_paths().keyfile.exists()
