"""Collectors that are down or silent cost the shares nothing, and lose nothing.

Real ``ots`` processes share and receive one-time links through a real relay while a real
rsyslogd (TLS) and the aiohttp event collector are first down (connections refused), then
silent (a socket that accepts and never answers, so a share that waited on them would take
the 5 s handshake timeout). When they come back on the same ports, every seq arrives at each
exactly once and in order, with the checkpoints. A process killed with SIGKILL while the
spool holds entries loses none of them. The secret, the link keys, the passphrase and the
collector's token never appear in what the collectors received, in the spool or in any
process's output.
"""

from __future__ import annotations

import os
import signal
import socket
import statistics
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ots_desktop.core.errors import ExitCode
from ots_desktop.core.ids import b64u_decode
from ots_desktop.installation import Installation
from tests.conftest import CANARY, Home
from tests.integration.test_audit_forward_syslog import check_collector_copy
from tests.support.canary import encodings, files_under
from tests.support.cli import OTS, json_lines, run_ots
from tests.support.hec_collector import HecCollector, start_collector
from tests.support.processes import wait_until
from tests.support.rfc5424 import Message, parse
from tests.support.rsyslog import Rsyslog, free_port, start_rsyslog
from tests.support.servers import RunningServer, start_ots_server
from tests.support.tls import make_pki
from tests.support.wormhole_cli import CliProcess

pytestmark = pytest.mark.usefixtures("keychain")
PASSPHRASE = "forwarding passphrase 91ab"
HEC_TOKEN = "hec-token-3f9d1c77-do-not-leak"
HANDSHAKE_TIMEOUT_S = 5.0


class Silent:
    """A listening socket that never accepts or answers: a collector that hangs."""

    def __init__(self, port: int) -> None:
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", port))
        self.sock.listen(64)

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def relay(isolated_home: Home) -> Iterator[RunningServer]:
    server = start_ots_server(isolated_home.root, "--no-wormhole", "--create-rate", "0", "--reveal-rate", "0")
    yield server
    server.stop()


class Site:
    """The installation's settings, the collectors' ports and what every command printed."""

    def __init__(self, root: Path, relay: RunningServer, monkeypatch: pytest.MonkeyPatch) -> None:
        self.root = root
        self.pki = make_pki(root / "pki")
        self.syslog_port, self.http_port = free_port(), free_port()
        self.outputs: list[str] = []
        assert relay.link_url
        for name, value in (("OTS_RELAY_URL", relay.link_url),
                            ("OTS_AUDIT_SYSLOG", f"tls://127.0.0.1:{self.syslog_port}"),
                            ("OTS_AUDIT_SYSLOG_CA_FILE", str(self.pki.ca_cert)),
                            ("OTS_AUDIT_HTTP", f"http://127.0.0.1:{self.http_port}/services/collector/event"),
                            ("OTS_AUDIT_FORWARD_RETRY_MAX_S", "1")):
            monkeypatch.setenv(name, value)

    def ots(self, *args: str, stdin: bytes = b"", fds: tuple[int, ...] = (), expect: int = 0) -> Any:
        result = run_ots(*args, stdin=stdin, pass_fds=fds)
        self.outputs += [result.stdout, result.stderr]
        assert result.returncode == expect, (args, result.returncode, result.stderr)
        return result

    def with_passphrase(self, text: str, *args: str, stdin: bytes = b"", expect: int = 0) -> Any:
        read_fd, write_fd = os.pipe()
        os.write(write_fd, text.encode() + b"\n")
        os.close(write_fd)
        try:
            return self.ots(*args, "--passphrase-fd", str(read_fd), stdin=stdin, fds=(read_fd,), expect=expect)
        finally:
            os.close(read_fd)

    def share_and_receive(self, n: int) -> tuple[float, str]:
        """One link share and its receive; returns the share's wall time and the link."""
        started = time.monotonic()
        made = json_lines(self.ots("send", "--via", "link", "--json", "--label", f"db password {n}",
                                   stdin=CANARY).stdout)[-1]
        took = time.monotonic() - started
        received = self.ots("receive", made["link"])
        assert received.stdout.encode() == CANARY
        return took, made["link"]

    def rsyslog(self) -> Rsyslog:
        return start_rsyslog(self.root / "rsyslog", pki=self.pki, port=self.syslog_port)

    def collector(self) -> HecCollector:
        return start_collector(self.root / "hec", HEC_TOKEN, port=self.http_port)


def status() -> dict[str, dict[str, Any]]:
    result = run_ots("audit", "forward", "--status", "--json")
    assert result.returncode == 0, result.stderr
    return {line["dest"]: line for line in json_lines(result.stdout)}


def head_seq() -> int:
    install = Installation()
    with install.open_audit_log(install.keychain()) as log:
        head = log.store.head()
        assert head is not None
        return head[0]


def until_checkpoint(rsyslog: Rsyslog, head: int) -> list[Message]:
    """Every message rsyslog wrote, once the checkpoint at ``head`` (the last one sent) is among them."""
    def arrived() -> bool:
        return any(m.msgid == "checkpoint" and m.sd["ots@32473"]["seq"] == str(head)
                   for m in map(parse, rsyslog.raw_messages()))

    wait_until(arrived, timeout=30, what=f"the checkpoint at entry {head} at rsyslog")
    return [parse(raw) for raw in rsyslog.raw_messages()]


def check_http_copy(collector: HecCollector, head: int) -> None:
    events = [e for e in collector.events() if e["kind"] == "entry"]
    assert [e["seq"] for e in events] == list(range(1, head + 1)), "entries lost, repeated or out of order"
    checkpoints = [e for e in collector.events() if e["kind"] == "checkpoint"]
    assert checkpoints and checkpoints[-1]["seq"] == head


def test_outage_loses_nothing_and_no_share_waits(isolated_home: Home, relay: RunningServer,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    site = Site(isolated_home.root, relay, monkeypatch)
    site.ots("audit", "forward", "token", stdin=HEC_TOKEN.encode() + b"\n")
    links, down, silent_times = [], [], []
    # Down: nothing listens on either port.
    for n in range(5):
        took, link = site.share_and_receive(n)
        down.append(took)
        links.append(link)
    before = status()
    assert before["syslog"]["backlog"] > 0 and before["syslog"]["last_error"], before
    assert before["http"]["backlog"] > 0 and before["http"]["last_error"], before
    # Silent: both ports accept connections and never answer.
    silent = [Silent(site.syslog_port), Silent(site.http_port)]
    try:
        for n in range(5, 10):
            took, link = site.share_and_receive(n)
            silent_times.append(took)
            links.append(link)
        protected = json_lines(site.with_passphrase(PASSPHRASE, "send", "--via", "link", "--json",
                                                    stdin=CANARY).stdout)[-1]
        links.append(protected["link"])
        site.with_passphrase("not the passphrase", "receive", protected["link"], expect=ExitCode.WRONG_CODE)
    finally:
        for sock in silent:
            sock.close()
    # A share that waited for a silent collector would take at least the handshake timeout.
    assert max(silent_times) < HANDSHAKE_TIMEOUT_S, silent_times
    assert statistics.median(silent_times) < statistics.median(down) + 1.0, (down, silent_times)
    rsyslog, collector = site.rsyslog(), site.collector()
    try:
        flushed = {line["dest"]: line for line in json_lines(site.ots("audit", "forward", "--json").stdout)}
        assert flushed["syslog"]["backlog"] == 0 and flushed["http"]["backlog"] == 0, flushed
        head = head_seq()
        found = until_checkpoint(rsyslog, head)
        with Installation().open_audit_log(Installation().keychain()) as log:
            seqs, checkpoints = check_collector_copy(found, log)
            alerts = [e for e in log.entries(event_type="alert")]
        assert seqs == list(range(1, head + 1)), "syslog: entries lost, repeated or out of order"
        assert checkpoints[-1].seq == head
        assert [a["reason"] for a in alerts] == ["wrong_passphrase"]
        check_http_copy(collector, head)
        after = status()
        assert after["syslog"]["backlog"] == 0 and after["syslog"]["last_success"], after
        # Canary: nothing secret in what the collectors got, in the spool or in any output.
        keys = [b64u_decode(link.rpartition("#")[2]) for link in links]
        texts = [CANARY, PASSPHRASE.encode(), HEC_TOKEN.encode(), *(link.rpartition("#")[2].encode() for link in links)]
        roots = [rsyslog.root, collector.root, isolated_home.ots_home]
        files = [p for p in files_under(roots) if p.name != "token"]  # the collector's own copy of its token
        for needle in texts:
            forms = encodings(needle).values()
            assert not [p for p in files if any(form in p.read_bytes() for form in forms)], needle
            assert needle not in collector.bodies()
        for key in keys:
            assert not [p for p in files if key in p.read_bytes() or key.hex().encode() in p.read_bytes()]
        for text in site.outputs[2:]:  # the receives print the secret itself, as they should; nothing else does
            assert PASSPHRASE not in text and HEC_TOKEN not in text
        assert HEC_TOKEN not in rsyslog.service.log_text() + collector.service.log_text()
    finally:
        rsyslog.stop()
        collector.stop()


def test_sigkill_while_the_spool_holds_entries(isolated_home: Home, relay: RunningServer,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    site = Site(isolated_home.root, relay, monkeypatch)
    monkeypatch.delenv("OTS_AUDIT_HTTP")
    made = json_lines(site.with_passphrase(PASSPHRASE, "send", "--via", "link", "--json", stdin=b"watched").stdout)
    link = made[-1]
    watch = CliProcess("watch", [*OTS, "link", "watch", link["id"], "--json", "--interval", "0.2",
                                 "--timeout", "2m"])
    try:
        site.with_passphrase("wrong", "receive", link["link"], expect=ExitCode.WRONG_CODE)
        watch.wait_for_line(lambda event: event.get("event") == "failed_attempts", timeout=60)
        head = head_seq()

        def spooled() -> bool:
            state = status()["syslog"]
            return state["not_spooled"] == 0 and state["spooled"] >= head

        wait_until(spooled, timeout=30, what="the watching process to spool every entry")
        os.kill(watch.pid, signal.SIGKILL)
        watch.proc.wait(30)
    finally:
        watch.close()
    rsyslog = site.rsyslog()
    try:
        site.ots("audit", "forward")
        found = until_checkpoint(rsyslog, head)
        with Installation().open_audit_log(Installation().keychain()) as log:
            seqs, _ = check_collector_copy(found, log)
            rows = log.entries()
        assert seqs == list(range(1, head + 1))
        # The failed attempt the killed process recorded is among them.
        assert sum(1 for row in rows if row.get("reason") == "wrong_passphrase" and row["seq"] <= head) == 2
        assert status()["syslog"]["backlog"] == 0
    finally:
        rsyslog.stop()


def test_wrong_token_is_reported_and_the_entries_wait(isolated_home: Home, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    collector = start_collector(tmp_path / "hec", HEC_TOKEN)
    try:
        monkeypatch.setenv("OTS_AUDIT_HTTP", collector.url)
        assert run_ots("audit", "forward", "token", stdin=b"not-the-token\n").returncode == 0
        run_ots("audit", "list")
        refused = run_ots("audit", "forward", "--json")
        assert refused.returncode == ExitCode.SERVER_UNREACHABLE, refused.stderr
        line, failed = json_lines(refused.stdout)
        assert failed["event"] == "error" and failed["exit_code"] == ExitCode.SERVER_UNREACHABLE
        assert "401" in line["error"] and "Invalid token" in line["error"] and line["backlog"] > 0, line
        assert collector.events() == []
        assert run_ots("audit", "forward", "token", stdin=HEC_TOKEN.encode()).returncode == 0
        delivered = run_ots("audit", "forward", "--json")
        assert delivered.returncode == 0, delivered.stderr
        check_http_copy(collector, head_seq())
        test = run_ots("audit", "forward", "--test", "--json")
        assert test.returncode == 0 and json_lines(test.stdout)[0]["delivered"] is True
        assert collector.events()[-1]["kind"] == "test"
    finally:
        collector.stop()
