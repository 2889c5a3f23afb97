"""Audit entries and checkpoints forwarded to a real rsyslogd, over TLS (RFC 5425) and plain TCP (RFC 6587).

Each message rsyslog wrote is parsed against RFC 5424 (tests.support.rfc5424) and compared with
rsyslog's own reading of it; then the collector's copy alone is checked as an auditor would:
every seq once and in order, each entry's hash recomputed from prev_hash and MSG, and each
checkpoint's signature verified with the log's key.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from ots_desktop.core.audit.chain import entry_hash
from ots_desktop.core.audit.checkpoint import Checkpoint
from ots_desktop.core.audit.events import AuditEvent, Channel, EventType, Outcome, Reason
from ots_desktop.core.audit.log import AuditLog
from ots_desktop.core.audit.state import load_state
from ots_desktop.core.errors import ExitCode
from ots_desktop.installation import Installation
from tests.support.audit import share_event
from tests.support.audit_forgery import attacker, edit_body, rehash_from, resign_all
from tests.support.cli import run_ots
from tests.support.processes import wait_until
from tests.support.rfc5424 import Message, parse
from tests.support.rsyslog import Rsyslog, start_rsyslog
from tests.support.tls import make_pki

pytestmark = pytest.mark.usefixtures("keychain")
DELIVERY_TIMEOUT_S = 30.0


def alert_event() -> AuditEvent:
    return AuditEvent(EventType.ALERT, outcome=Outcome.ALERT, reason=Reason.WRONG_PASSPHRASE, channel=Channel.LINK,
                      share_id="share0099", label="db password")


def open_forwarding_log() -> tuple[Installation, AuditLog]:
    install = Installation()
    log = install.open_audit_log(install.keychain())
    assert install.forwarder is not None, "forwarding did not start"
    return install, log


def messages(collector: Rsyslog, count: int) -> list[Message]:
    wait_until(lambda: len(collector.raw_messages()) >= count, timeout=DELIVERY_TIMEOUT_S,
               what=f"{count} messages at rsyslog")
    return [parse(raw) for raw in collector.raw_messages()]


def check_collector_copy(found: list[Message], log: AuditLog) -> tuple[list[int], list[Checkpoint]]:
    """What an auditor checks from the collector's copy alone; returns the entry seqs and the checkpoints."""
    seqs, checkpoints, heads = [], [], {}
    for message in found:
        assert message.version == 1 and message.app_name == "ots-desktop" and message.facility == 10
        sd = message.sd["ots@32473"]
        assert sd["log_id"] == log.log_id
        if message.msgid == "checkpoint":
            cp = Checkpoint.from_json(message.msg.decode())
            assert cp.epoch == 0 and cp.is_valid(log.public_key), "a forwarded checkpoint does not verify"
            assert sd["head"] == cp.head and int(sd["seq"]) == cp.seq and sd["signature"] == cp.signature
            checkpoints.append(cp)
            continue
        body = message.msg.decode("ascii")
        fields = json.loads(body)
        seq = int(sd["seq"])
        assert fields["seq"] == seq and message.msgid == fields["event_type"]
        assert message.timestamp == fields["ts_utc"] and message.hostname == fields["host"]
        assert entry_hash(sd["prev_hash"], body) == sd["entry_hash"], f"entry {seq}'s hash does not match its MSG"
        assert seq == 1 or heads[seq - 1] == sd["prev_hash"], f"entry {seq} does not chain to {seq - 1}"
        assert sd["key_id"] == fields["key_id"] and sd["event_type"] == fields["event_type"]
        expected = 4 if fields["outcome"] == "alert" else 6
        assert message.severity == expected, (fields["event_type"], message.severity)
        heads[seq] = sd["entry_hash"]
        seqs.append(seq)
    for cp in checkpoints:
        assert heads[cp.seq] == cp.head, "a checkpoint signs a head the forwarded entries do not reach"
    return seqs, checkpoints


def run_shares(log: AuditLog, count: int) -> None:
    for n in range(count):
        log.append(share_event(n))
    log.append(alert_event())


@pytest.mark.parametrize("tls", [True, False], ids=["tls", "tcp"])
def test_entries_reach_rsyslog_in_order_and_verify(tls: bool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pki = make_pki(tmp_path / "pki") if tls else None
    collector = start_rsyslog(tmp_path / "rsyslog", pki=pki)
    try:
        monkeypatch.setenv("OTS_AUDIT_SYSLOG", collector.url)
        if pki is not None:
            monkeypatch.setenv("OTS_AUDIT_SYSLOG_CA_FILE", str(pki.ca_cert))
        _, log = open_forwarding_log()
        with log:
            run_shares(log, 5)
            head = log.store.head()
            assert head is not None
        # log_created, 5 shares, the alert: 7 entries, and a checkpoint per commit.
        found = messages(collector, 7 + 7)
        seqs, checkpoints = check_collector_copy(found, log)
        assert seqs == list(range(1, head[0] + 1))
        assert checkpoints[-1].seq == head[0]
        # rsyslog read every message as RFC 5424 too: its MSGID, APP-NAME and structured data.
        parsed = collector.parsed()
        assert len(parsed) == len(found)
        for ours, theirs in zip(found, parsed, strict=True):
            assert theirs["msgid"] == ours.msgid and theirs["app-name"] == "ots-desktop"
            assert theirs["structured-data"].startswith("[ots@32473 seq=")
            assert int(theirs["pri"]) == ours.pri
    finally:
        collector.stop()


def test_tls_collector_with_an_unknown_certificate_is_refused_and_nothing_is_lost(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Verified against the system's CAs (no audit_syslog_ca_file), a throwaway CA's certificate is refused."""
    pki = make_pki(tmp_path / "pki")
    collector = start_rsyslog(tmp_path / "rsyslog", pki=pki)
    try:
        monkeypatch.setenv("OTS_AUDIT_SYSLOG", collector.url)
        _, log = open_forwarding_log()
        with log:
            run_shares(log, 2)
        status = run_ots("audit", "forward", "--status", "--json")
        assert status.returncode == 0, status.stderr
        (line,) = [json.loads(x) for x in status.stdout.splitlines()]
        assert line["backlog"] >= 4 and "certificate" in (line["last_error"] or ""), line
        assert collector.raw_messages() == []
        # With the CA named, the next command delivers everything the first run left behind.
        monkeypatch.setenv("OTS_AUDIT_SYSLOG_CA_FILE", str(pki.ca_cert))
        flushed = run_ots("audit", "forward", "--json")
        assert flushed.returncode == 0, flushed.stderr
        (sent,) = [json.loads(x) for x in flushed.stdout.splitlines()]
        assert sent["backlog"] == 0 and sent["first_seq"] == 1 and sent["error"] is None, sent
        with Installation().open_audit_log(Installation().keychain()) as again:
            found = messages(collector, sent["entries"] + sent["checkpoints"])
            seqs, _ = check_collector_copy(found, again)
        assert seqs == list(range(1, sent["last_seq"] + 1))
    finally:
        collector.stop()


def test_collector_checkpoints_catch_a_log_rewritten_with_a_stolen_key(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Attacker (b) re-signs a rewritten copy with the key of the day: it verifies offline, but not against
    the checkpoints the collector already received (docs/compliance.md, cross-checking with the collector)."""
    collector = start_rsyslog(tmp_path / "rsyslog")
    try:
        monkeypatch.setenv("OTS_AUDIT_SYSLOG", collector.url)
        install, log = open_forwarding_log()
        with log:
            run_shares(log, 3)
            head = log.store.head()
            assert head is not None
            key = load_state(log.keystore)
            assert key is not None
            stolen, epoch = key.signing_key(), key.epoch
        wait_until(lambda: any(m.msgid == "checkpoint" and m.sd["ots@32473"]["seq"] == str(head[0])
                               for m in map(parse, collector.raw_messages())), timeout=DELIVERY_TIMEOUT_S,
                   what="the last checkpoint at rsyslog")
        assert run_ots("audit", "pubkey", "--out", str(tmp_path / "pub.json")).returncode == 0
        exported = run_ots("audit", "export", "--format", "jsonl", "--out", str(tmp_path / "audit.jsonl"))
        assert exported.returncode == 0, exported.stderr
        local = run_ots("audit", "verify", "--checkpoints", str(collector.raw_log))
        assert local.returncode == 0 and "matches the collector's" in local.stderr, local.stderr
        good = run_ots("audit", "verify", "--log", str(tmp_path / "audit.jsonl"), "--pubkey",
                       str(tmp_path / "pub.json"), "--checkpoints", str(collector.raw_log))
        assert good.returncode == 0, good.stderr + good.stdout
        forged = tmp_path / "forged.sqlite3"
        with sqlite3.connect(install.paths.audit_db) as source, sqlite3.connect(forged) as target:
            source.backup(target)
        with attacker(forged) as db:
            edit_body(db, head[0] - 1, recipient="someone else")
            rehash_from(db, head[0] - 1)
            resign_all(db, stolen, epoch)
        offline = run_ots("audit", "verify", "--log", str(forged), "--pubkey", str(tmp_path / "pub.json"))
        assert offline.returncode == 0, "the forged copy should pass without the collector's checkpoints"
        caught = run_ots("audit", "verify", "--log", str(forged), "--pubkey", str(tmp_path / "pub.json"),
                         "--checkpoints", str(collector.raw_log), "--json")
        assert caught.returncode == ExitCode.TAMPERED, caught.stdout
        line = json.loads(caught.stdout.splitlines()[-1])
        assert line["first_bad_seq"] == head[0] - 1 and "rewritten after it was forwarded" in line["problem"]
    finally:
        collector.stop()
