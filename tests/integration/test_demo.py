"""`ots demo` runs end to end on embedded servers and the real keychain, and cleans up."""

from __future__ import annotations

import time

import pytest

from tests.conftest import Home
from tests.support.cli import json_lines, run_ots

pytestmark = pytest.mark.usefixtures("keychain")


def keychain_items() -> int:
    """How many items ots-desktop holds in the (test) Secret Service."""
    import secretstorage

    connection = secretstorage.dbus_init()
    try:
        collection = secretstorage.get_default_collection(connection)
        return len(list(collection.search_items({"service": "ots-desktop"})))
    finally:
        connection.close()


def test_demo_runs_every_step_and_removes_its_home(isolated_home: Home) -> None:
    tmp = isolated_home.root / "tmp"
    tmp.mkdir()
    before = keychain_items()
    started = time.monotonic()
    result = run_ots("demo", env={"TMPDIR": str(tmp)})
    assert result.returncode == 0, result.stderr
    assert time.monotonic() - started < 30
    out = result.stdout
    assert "Bob received the" in out and "identical" in out and "DIFFERENT" not in out
    assert "refused (wrong_code)" in out
    assert "Bob opens the link: identical" in out
    assert "Bob opens it again: refused (already_consumed)" in out
    assert "Alice checks the link: revealed, opened from 127.0.0.1" in out
    assert "4 attempts left" in out and "3 attempts left" in out
    assert "one flipped bit: refused (the envelope is damaged" in out
    assert out.count("matches the keychain checkpoint") == 2
    assert out.count("checked offline with only the root key's fingerprint: intact") == 2
    assert list(tmp.iterdir()) == []
    assert keychain_items() == before  # the demo's keys left the user's keychain with its home


def test_demo_json_and_keep_leave_verifiable_logs(isolated_home: Home) -> None:
    tmp = isolated_home.root / "tmp"
    tmp.mkdir()
    result = run_ots("demo", "--keep", "--json", env={"TMPDIR": str(tmp)})
    assert result.returncode == 0, result.stderr
    lines = json_lines(result.stdout)
    steps = [line["step"] for line in lines if line["event"] == "step"]
    assert steps == list(range(1, len(steps) + 1)) and len(steps) >= 9
    (home,) = tmp.iterdir()
    assert lines[-1] == {"event": "done", "seconds": lines[-1]["seconds"], "home": str(home)}
    for who in ("alice", "bob"):
        verify = run_ots("audit", "verify", "--json", env={"OTS_HOME": str(home / who)})
        assert verify.returncode == 0, verify.stderr
        alerts = json_lines(run_ots("audit", "list", "--json", "--type", "alert",
                                    env={"OTS_HOME": str(home / who)}).stdout)
        expected = {"alice": ["wrong_code"],
                    "bob": ["already_consumed", "wrong_code", "wrong_passphrase", "wrong_passphrase"]}[who]
        assert sorted(a["reason"] for a in alerts) == expected
