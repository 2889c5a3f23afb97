"""Secret requests end to end on the command line: `ots request`, `ots answer`, `ots request watch|open|status|
list|revoke`, with a real ``ots server`` relay, two installations (requester and answerer) with their audit
logs and the real Secret Service. Every wait has a deadline.

The attacker here can touch the relay (its store and log), HTTP headers and the request id without the
fragment; each attack is played and refused, and a canary answer shows up in no file the flow wrote except
the requester's chosen output.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from ots_desktop.core.audit.keystore import KeychainStore, scope_for
from ots_desktop.core.ids import b64u_decode
from tests.conftest import CANARY, Home
from tests.integration.test_link_cli import Links, Side, leaks
from tests.support.canary import files_under, find_canary
from tests.support.relay import FOREIGN_TOKEN, RelayClient, http_session, run_async
from tests.support.servers import RunningServer, start_ots_server

pytestmark = pytest.mark.usefixtures("keychain")


@pytest.fixture
def relay_server(isolated_home: Home) -> Iterator[RunningServer]:
    server = start_ots_server(isolated_home.root, "--no-wormhole", "--create-rate", "0", "--reveal-rate", "0")
    yield server
    server.stop()


@pytest.fixture
def tool(isolated_home: Home, relay_server: RunningServer) -> Iterator[Links]:
    links = Links(isolated_home.root, relay_server)
    yield links
    links.close()


def make_request(tool: Links, *args: str) -> dict[str, Any]:
    made = tool.ots("request", "--json", "--label", "Vendor API key for the migration", "--recipient", "Kim",
                    *args, side=tool.sender)
    assert made.returncode == 0, made
    (row,) = made.lines()
    assert row["event"] == "request" and row["link"] == f"{tool.relay}/r/{row['id']}#{row['link'].split('#')[1]}"
    assert len(row["link"].split("#")[1]) == 86
    return row


def private_key(side: Side, request_id: str) -> str | None:
    return KeychainStore(scope_for(side.home / "data")).get(f"request-key-{request_id}")


def events(tool: Links, side: Side) -> list[tuple[str, str, str | None]]:
    return [(row["event_type"], row["outcome"], row.get("reason")) for row in tool.audit(side)
            if row["event_type"].startswith("request_") or row["event_type"] == "alert"]


def test_request_answer_watch_and_a_second_answer_refused(tool: Links) -> None:
    row = make_request(tool)
    request_id, link = row["id"], row["link"]
    key = private_key(tool.sender, request_id)
    assert key, "the private key waits in the keychain"
    listed = tool.ots("request", "list", "--json", side=tool.sender)
    assert [r["id"] for r in listed.lines()] == [request_id]
    # The answerer (another installation) sends the canary from stdin.
    answered = tool.ots("answer", link, side=tool.receiver, stdin=CANARY)
    assert answered.returncode == 0, answered
    assert "only the requester can open it" in answered.stdout
    assert "Vendor API key for the migration" in answered.stderr
    # A second answer and a replay by the same link: refused, clearly.
    again = tool.ots("answer", link, side=tool.receiver, stdin=b"second answer")
    assert again.returncode != 0 and "already answered" in again.stderr, again
    # The requester is told at once: watch prints the secret, and alerts on the refused answer.
    watched = tool.ots("request", "watch", request_id, "--interval", "0.2", "--timeout", "60s", side=tool.sender)
    assert watched.returncode == 0, watched
    assert watched.stdout.encode() == CANARY
    assert "ALERT" in watched.stderr and "again" in watched.stderr
    # Collected once: the key is erased and a second open is refused.
    assert private_key(tool.sender, request_id) is None
    reopened = tool.ots("request", "open", request_id, side=tool.sender)
    assert reopened.returncode != 0 and "no longer in the keychain" in reopened.stderr
    status = tool.ots("request", "status", request_id, "--json", side=tool.sender)
    assert status.lines()[-1]["state"] == "opened" and status.lines()[-1]["refused_answers"] == 1
    # Both audit logs, every step; the fingerprint answers `ots audit lookup` on both sides.
    assert events(tool, tool.sender) == [("request_created", "ok", None), ("request_answered", "ok", None),
                                         ("alert", "alert", "second_answer"), ("request_opened", "ok", None)]
    assert events(tool, tool.receiver) == [("request_answered", "ok", None),
                                           ("request_answered", "alert", "second_answer")]
    for side in (tool.sender, tool.receiver):
        found = tool.ots("audit", "lookup", "--json", side=side, stdin=CANARY)
        assert {r.get("event_type") for r in found.lines()[1:]} & {"request_opened", "request_answered"}, found
    # Nothing but ciphertext anywhere: not in either installation, the relay's store or its log.
    roots = [tool.sender.home, tool.receiver.home, tool.server.data_dir, tool.root / "home"]
    assert files_under(roots)
    assert find_canary(roots, CANARY) == []
    assert leaks(roots, b64u_decode(key)) == []
    assert leaks([tool.server.data_dir], b64u_decode(link.split("#")[1])) == []


def test_a_file_answer_is_saved_byte_identical(tool: Links) -> None:
    payload = bytes(range(256)) * 4000 + CANARY
    source = tool.root / "id_ed25519.bin"
    source.write_bytes(payload)
    row = make_request(tool)
    assert tool.ots("answer", row["link"], "--file", str(source), side=tool.receiver).returncode == 0
    out = tool.out / "got-key"
    opened = tool.ots("request", "open", row["id"], "--output", str(out), "--json", side=tool.sender)
    assert opened.returncode == 0, opened
    assert out.read_bytes() == payload and (out.stat().st_mode & 0o777) == 0o600
    assert find_canary([tool.sender.home, tool.receiver.home, tool.server.data_dir], CANARY) == []


def test_revoked_request_refuses_answers_and_the_key_is_erased(tool: Links) -> None:
    row = make_request(tool)
    revoked = tool.ots("request", "revoke", row["id"], "--json", side=tool.sender)
    assert revoked.returncode == 0 and revoked.lines()[-1]["revoked_now"] is True, revoked
    assert private_key(tool.sender, row["id"]) is None
    refused = tool.ots("answer", row["link"], side=tool.receiver, stdin=CANARY)
    assert refused.returncode != 0 and "withdrew" in refused.stderr, refused
    assert ("request_revoked", "ok", "revoked") in events(tool, tool.sender)


def test_the_id_without_the_fragment_cannot_answer_or_burn(tool: Links) -> None:
    row = make_request(tool)
    request_id = row["id"]

    async def attack() -> list[int]:
        async with http_session() as session:
            client = RelayClient(session, tool.relay)
            path = f"/api/v1/requests/{request_id}"
            return [(await client.request("POST", f"{path}/answer", json_body=body)).status for body in (
                {"answer": "T1RTQQ"}, {"request_proof": FOREIGN_TOKEN, "answer": "T1RTQQ"})] + [
                (await client.request("DELETE", path)).status, (await client.request("POST", f"{path}/open")).status]

    assert run_async(attack()) == [400, 401, 401, 401]
    # Still answerable by the real link, and the requester gets it.
    assert tool.ots("answer", row["link"], side=tool.receiver, stdin=CANARY).returncode == 0
    opened = tool.ots("request", "open", request_id, side=tool.sender)
    assert opened.returncode == 0 and opened.stdout.encode() == CANARY


def test_a_damaged_link_is_refused_before_anything_is_sent(tool: Links) -> None:
    row = make_request(tool)
    for bad, words in ((row["link"].split("#")[0], "no key"), (row["link"][:-3], "86 base64url"),
                       (row["link"].replace("/r/", "/s/"), "not an ots request link")):
        result = tool.ots("answer", bad, side=tool.receiver, stdin=CANARY)
        assert result.returncode != 0 and words in result.stderr, result
    assert tool.ots("request", "status", row["id"], "--json", side=tool.sender).lines()[-1]["state"] == "pending"


def test_an_expired_request_refuses_answers_and_is_audited(isolated_home: Home) -> None:
    from tests.support.secret_requests import local_request_relay

    with local_request_relay(isolated_home.root / "clocked-relay") as relay:
        tool = Links.__new__(Links)
        tool.root, tool.relay = isolated_home.root, relay.url
        tool.sender, tool.receiver = tool.side("sender"), tool.side("receiver")
        row = make_request(tool, "--expire", "10m")
        relay.clock.now += 601
        refused = tool.ots("answer", row["link"], side=tool.receiver, stdin=CANARY)
        assert refused.returncode != 0 and "expired" in refused.stderr, refused
        status = tool.ots("request", "status", row["id"], "--json", side=tool.sender)
        assert status.lines()[-1]["state"] == "expired", status
        assert private_key(tool.sender, row["id"]) is None
        assert ("request_expired", "ok", "expired") in events(tool, tool.sender)
        watched = tool.ots("request", "watch", row["id"], "--timeout", "5s", side=tool.sender)
        assert watched.returncode != 0 and "expired" in watched.stderr
