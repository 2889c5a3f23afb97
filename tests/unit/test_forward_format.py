"""The forwarding formats, destinations and spool, without a network."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ots_desktop.core.audit.chain import canonical_json, entry_hash
from ots_desktop.core.audit.crosscheck import read_collected
from ots_desktop.core.audit.forward_format import Outgoing, http_body, octet_counted, syslog_message
from ots_desktop.core.audit.forward_spool import ForwardSpool
from ots_desktop.core.audit.forward_targets import parse_http_url, parse_syslog_url
from ots_desktop.core.errors import InputError
from tests.support.rfc5424 import parse

BODY = canonical_json({"event_type": "alert", "outcome": "alert", "reason": "already_consumed", "seq": 7,
                       "ts_utc": "2026-01-02T03:04:05.678Z", "host": "laptop-7", "key_id": "ab" * 8,
                       "label": 'quote " bracket ] back \\ slash', "recipient": "J\u00fcrgen"})
ENTRY = Outgoing("entry", "log-1", 7, BODY, "0" * 64, entry_hash("0" * 64, BODY))


def test_syslog_message_is_rfc5424_with_the_body_as_msg() -> None:
    message = parse(syslog_message(ENTRY, "fallback"))
    assert (message.facility, message.severity) == (10, 3)  # authpriv; someone else got at a share: error
    assert (message.app_name, message.msgid, message.hostname) == ("ots-desktop", "alert", "laptop-7")
    assert message.timestamp == "2026-01-02T03:04:05.678Z"
    sd = message.sd["ots@32473"]
    assert sd["seq"] == "7" and sd["log_id"] == "log-1" and sd["label"] == 'quote " bracket ] back \\ slash'
    assert sd["recipient"] == "J\u00fcrgen"
    assert message.msg.decode() == BODY and entry_hash(sd["prev_hash"], BODY) == sd["entry_hash"]
    framed = octet_counted(syslog_message(ENTRY, "x"))
    length, _, rest = framed.partition(b" ")
    assert int(length) == len(rest)


def test_http_bodies() -> None:
    hec = json.loads(http_body([ENTRY], "hec", "fallback"))
    assert hec["sourcetype"] == "ots:audit" and hec["host"] == "laptop-7" and hec["time"] > 1.7e9
    assert canonical_json(hec["event"]["entry"]) == BODY and hec["event"]["entry_hash"] == ENTRY.entry_hash
    lines = http_body([ENTRY, ENTRY], "jsonl", "fallback").decode().splitlines()
    assert len(lines) == 2 and json.loads(lines[0])["seq"] == 7


@pytest.mark.parametrize(("url", "problem"), [
    ("tcp://10.1.2.3:514", "not encrypted"), ("udp://logs.example.com", "not encrypted"),
    ("http://hec.example.com/services/collector/event", "not encrypted"), ("syslog://x", "tls://"),
    ("tls://user:pw@x:6514", "no user name"), ("unix://dev/log", "absolute"),
])
def test_refused_destinations(url: str, problem: str) -> None:
    with pytest.raises(InputError, match=problem):
        if url.startswith("http"):
            parse_http_url(url)
        else:
            parse_syslog_url(url)


def test_accepted_destinations() -> None:
    assert parse_syslog_url("tls://logs.example.com").url == "tls://logs.example.com:6514"
    assert parse_syslog_url("tcp://127.0.0.1:1514").port == 1514
    assert parse_syslog_url("tcp://10.1.2.3:514", plaintext="any").host == "10.1.2.3"
    assert parse_syslog_url("unix:///dev/log").path == "/dev/log"
    assert parse_http_url("https://hec.example.com:8088/services/collector/event").secure


def test_spool_keeps_order_and_never_spools_twice(tmp_path: Path) -> None:
    spool = ForwardSpool(tmp_path / "spool.sqlite3")
    rows = [(n, f'{{"seq":{n}}}', "p", "h") for n in range(1, 6)]
    assert spool.add("syslog", "log-1", rows[:3], None) == 3
    assert spool.add("syslog", "log-1", rows, None) == 2  # 1-3 were spooled already
    assert spool.add("syslog", "log-1", [rows[0]], None) == 0
    assert [i.item.seq for i in spool.pending("syslog", 10)] == [1, 2, 3, 4, 5]
    assert (tmp_path / "spool.sqlite3").stat().st_mode & 0o777 == 0o600
    assert spool.take_lease("syslog", "1-a", 30) and not spool.take_lease("syslog", "2-b", 30)
    spool.delivered("syslog", "tcp://x", spool.pending("syslog", 2))
    assert spool.backlog("syslog") == 3 and spool.status("syslog").last_seq == 2
    spool.close()


def test_collected_checkpoints_from_syslog_and_json_lines(tmp_path: Path) -> None:
    cp = {"log_id": "l", "seq": 3, "head": "ab", "ts_utc": "t", "key_id": "k", "epoch": 0, "signature": "00"}
    text = "\n".join([
        '<86>1 2026-01-01T00:00:00Z h ots-desktop - checkpoint [ots@32473 seq="3"] ' + json.dumps(cp),
        '<86>1 2026-01-01T00:00:00Z h ots-desktop - share_created [ots@32473 label="{x"] {"seq":2}',
        json.dumps({"event": {"kind": "checkpoint", "checkpoint": dict(cp, seq=4)}}),
        "not json at all {",
    ])
    (tmp_path / "c.log").write_text(text)
    assert [c.seq for c in read_collected(tmp_path / "c.log")] == [3, 4]
