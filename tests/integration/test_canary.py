"""After the audit flows, no file anywhere under the test's homes holds the canary secret."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from ots_desktop.core.audit.events import AuditEvent, Channel, EventType, Outcome, Reason
from ots_desktop.core.secret import SecretBuffer
from tests.conftest import CANARY, Home
from tests.support.audit import open_log
from tests.support.canary import encodings, files_under, find_canary
from tests.support.cli import run_ots
from tests.support.secret_service import SecretServiceSession


def test_the_scanner_finds_every_encoding(tmp_path: Path) -> None:
    tmp_path = tmp_path / "scan"
    tmp_path.mkdir()
    for name, form in encodings(CANARY).items():
        if name.startswith("base64"):
            continue
        (tmp_path / f"{name}.bin").write_bytes(b"prefix" + form + b"suffix")
    for shift in range(3):
        (tmp_path / f"b64-{shift}.txt").write_bytes(base64.b64encode(b"x" * shift + CANARY + b"tail"))
    hits = find_canary([tmp_path], CANARY)
    assert len({h.split(":")[0] for h in hits}) == len(list(tmp_path.iterdir()))


def test_audit_flows_never_write_the_canary(isolated_home: Home, keychain: SecretServiceSession) -> None:
    with open_log() as log, SecretBuffer(CANARY) as secret:
        fp = log.fingerprint(secret)
        log.append(AuditEvent(EventType.SHARE_CREATED, channel=Channel.LINK, fingerprint=fp, label="canary",
                              kind="text", size_bytes=len(secret)))
        log.append(AuditEvent(EventType.ALERT, outcome=Outcome.ALERT, reason=Reason.WRONG_PASSPHRASE,
                              channel=Channel.LINK, fingerprint=fp))
    assert run_ots("audit", "lookup", stdin=CANARY + b"\n").returncode == 0
    assert run_ots("audit", "lookup", "--json", stdin=CANARY).returncode == 0
    export_dir = isolated_home.home / "exports"
    export_dir.mkdir()
    for fmt in ("csv", "jsonl"):
        assert run_ots("audit", "export", "--format", fmt, "--out", str(export_dir / f"a.{fmt}")).returncode == 0
    assert run_ots("audit", "list", "--json").returncode == 0
    assert run_ots("audit", "verify").returncode == 0
    roots = [isolated_home.root, keychain.data_home]
    assert len(files_under(roots)) >= 6
    assert find_canary(roots, CANARY) == []


@pytest.mark.parametrize("form", ["raw", "hex", "utf-16-le"])
def test_a_leak_would_be_caught(isolated_home: Home, form: str) -> None:
    leak = isolated_home.ots_home / "leak.log"
    leak.write_bytes(b"log line: " + encodings(CANARY)[form])
    assert find_canary([isolated_home.root], CANARY)
