"""``ots server --syslog``: the relay's security events reach a real rsyslogd, and give nothing away.

A real relay process sends to a real rsyslogd (plain TCP on loopback): wrong passphrases up to
the burn, a reveal from outside the allowed networks, a revoke, and a create rate limit. Each
message is checked against RFC 5424; the share ids appear only as their keyed hash, and no
token, key, envelope or id is in anything rsyslog wrote.
"""

from __future__ import annotations

from pathlib import Path

from ots_desktop.core.ids import b64u_encode
from tests.support.processes import wait_until
from tests.support.relay import (
    FOREIGN_TOKEN,
    RelayClient,
    http_session,
    make_share,
    run_async,
    start_relay,
    wrong_auth_token,
)
from tests.support.rfc5424 import parse
from tests.support.rsyslog import start_rsyslog

PASSPHRASE = "relay events passphrase"


async def _flow(url: str) -> dict[str, object]:
    burned = make_share(b"burn me", passphrase=PASSPHRASE)
    fenced = make_share(b"fenced")
    revoked = make_share(b"revoke me")
    async with http_session() as session:
        client = RelayClient(session, url)
        tokens = {}
        for share, policy in ((burned, {}), (fenced, {"allow_cidrs": ["10.0.0.0/8"]}), (revoked, {})):
            created = await client.create(share, **policy)
            assert created.status == 201, created.body
            tokens[share.id] = created.body["status_token"]
        statuses = [(await client.reveal(burned, wrong_auth_token())).status for _ in range(5)]
        assert statuses == [401, 401, 401, 401, 410], statuses
        assert (await client.reveal(fenced)).status == 403
        assert (await client.revoke(revoked.id, tokens[revoked.id])).status == 200
        limited = 0
        for _ in range(6):
            limited += (await client.create(make_share(b"x"))).status == 429
        assert limited >= 1
    return {"shares": [burned, fenced, revoked], "tokens": tokens}


def test_security_events_reach_syslog_without_ids_or_tokens(tmp_path: Path) -> None:
    collector = start_rsyslog(tmp_path / "rsyslog")
    relay = start_relay(tmp_path, extra=["--reveal-rate", "0", "--create-rate", "3/3", "--syslog", collector.url])
    try:
        flow = run_async(_flow(relay.url))
        wait_until(lambda: sum(b"rate_limited" in m for m in collector.raw_messages()) >= 1
                   and sum(b"link_revoked" in m for m in collector.raw_messages()) == 1,
                   timeout=30, what="the relay's events at rsyslog")
    finally:
        relay.stop()
        collector.stop()
    messages = [parse(raw) for raw in collector.raw_messages()]
    events = [m.msgid for m in messages]
    assert events.count("reveal_wrong_passphrase") == 4 and events.count("link_burned") == 1
    assert events.count("reveal_refused_network") == 1 and events.count("link_revoked") == 1
    assert events.count("rate_limited") >= 1
    for message in messages:
        assert message.app_name == "ots-server" and message.facility == 10
        assert message.sd["ots@32473"]["event"] == message.msgid and message.sd["ots@32473"]["client"] == "127.0.0.1"
        assert message.severity == {"link_revoked": 6, "rate_limited": 5}.get(message.msgid, 4)
    hashes = {m.sd["ots@32473"].get("share") for m in messages if m.msgid != "rate_limited"}
    assert len(hashes) == 3 and all(h and len(h) == 32 for h in hashes)
    burn = [m.sd["ots@32473"]["share"] for m in messages if m.msgid in ("reveal_wrong_passphrase", "link_burned")]
    assert len(set(burn)) == 1, "events about one link carry one hash"
    written = collector.raw_log.read_bytes() + collector.parsed_log.read_bytes() + relay.log_text().encode()
    for share in flow["shares"]:  # type: ignore[attr-defined]
        for needle in (share.id, share.auth_token, share.fragment_key_b64u, share.link_proof or "-",
                       b64u_encode(share.envelope[:48]), PASSPHRASE, flow["tokens"].get(share.id, "-")):  # type: ignore[attr-defined]
            assert needle.encode() not in written, needle


def test_a_wrong_request_proof_and_a_second_answer_reach_syslog(tmp_path: Path) -> None:
    from tests.support.secret_requests import REQUESTS, make_request

    req = make_request()
    answer = req.seal(b"the one answer")
    collector = start_rsyslog(tmp_path / "rsyslog")
    relay = start_relay(tmp_path, extra=["--reveal-rate", "0", "--create-rate", "0", "--syslog", collector.url])

    async def flow() -> list[int]:
        async with http_session() as session:
            client = RelayClient(session, relay.url)
            body = req.register_body(label_box=req.label_box("Vendor API key"))
            created = await client.request("POST", REQUESTS, json_body=body)
            assert created.status == 201, created.body
            path = f"{REQUESTS}/{req.id}/answer"
            return [(await client.request("POST", path, json_body=body)).status for body in (
                req.answer_body(answer, proof=FOREIGN_TOKEN), req.answer_body(answer), req.answer_body(answer))]

    try:
        assert run_async(flow()) == [401, 201, 409]
        wait_until(lambda: sum(b"answer_" in m for m in collector.raw_messages()) >= 2, timeout=30,
                   what="the answer events at rsyslog")
    finally:
        relay.stop()
        collector.stop()
    messages = [parse(raw) for raw in collector.raw_messages()]
    answers = [m for m in messages if m.msgid.startswith("answer_")]
    assert [m.msgid for m in answers] == ["answer_wrong_proof", "answer_second_attempt"]
    assert all(m.severity == 4 and m.sd["ots@32473"]["client"] == "127.0.0.1" for m in answers)
    assert {m.sd["ots@32473"]["code"] for m in answers} == {"wrong_request_proof", "already_answered"}
    hashes = {m.sd["ots@32473"]["share"] for m in answers}
    assert len(hashes) == 1 and len(hashes.pop()) == 32, "events about one request carry one hash"
    written = collector.raw_log.read_bytes() + collector.parsed_log.read_bytes() + relay.log_text().encode()
    for needle in (req.id, req.proof, req.fragment, FOREIGN_TOKEN, b64u_encode(answer[:48])):
        assert needle.encode() not in written, needle
