"""``--trust-proxy`` through a real ``ots server`` process: the forwarding header counts only when the TCP
peer is inside a trusted network, and then it is read from the right, past the trusted proxies.

Requests come from 127.0.0.1 with the header a reverse proxy would add; the addresses in it
(203.0.113.0/24, 198.51.100.0/24: documentation networks) are only text in a header, nothing
is sent to them. One server trusts 127.0.0.1/32, as it would behind a proxy on the same
machine; the other trusts only 10.0.0.0/8, so the same header from 127.0.0.1 must be ignored.
The chain of two proxies and the rate limits, whose buckets on Redis are kept in Redis under
the address this reading gives, run on SQLite and on Redis.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from tests.support.relay import (
    API,
    UNLIMITED,
    RelayClient,
    RelayProcess,
    Reply,
    Share,
    http_session,
    make_share,
    run_async,
    start_relay,
    wrong_auth_token,
)

CLIENT = "203.0.113.7"
OUTSIDER = "198.51.100.9"
ALLOWLIST = ["203.0.113.0/24"]
SECRET = b"forwarded reveal"


def _relay(tmp_path: Path, name: str, trust: str, extra: Sequence[str] = UNLIMITED,
           store: str = "sqlite") -> RelayProcess:
    return start_relay(tmp_path, name=name, store=store, extra=[*extra, "--trust-proxy", trust])


@pytest.fixture
def behind_local_proxy(tmp_path: Path) -> Iterator[RelayProcess]:
    relay = _relay(tmp_path, "trusts-loopback", "127.0.0.1/32")
    yield relay
    relay.stop()


@pytest.fixture
def behind_other_proxy(tmp_path: Path) -> Iterator[RelayProcess]:
    relay = _relay(tmp_path, "trusts-10", "10.0.0.0/8")
    yield relay
    relay.stop()


async def _reveal(client: RelayClient, share: Share, auth_token: str, forwarded_for: str | None) -> Reply:
    headers = {"X-Forwarded-For": forwarded_for} if forwarded_for is not None else {}
    return await client.request("POST", f"{API}/{share.id}/reveal", json_body=share.reveal_body(auth_token),
                                headers=headers)


async def _park(client: RelayClient, share: Share, allow_cidrs: list[str]) -> str:
    created = await client.create(share, allow_cidrs=allow_cidrs)
    assert created.status == 201, created
    return str(created.body["status_token"])


def test_trusted_proxy_passes_the_client_address(behind_local_proxy: RelayProcess) -> None:
    share = make_share(SECRET)

    async def scenario() -> None:
        async with http_session() as session:
            client = RelayClient(session, behind_local_proxy.url)
            token = await _park(client, share, ALLOWLIST)
            # The proxy itself (no header) and a forwarded outsider are both refused, consuming nothing.
            for forwarded in (None, OUTSIDER):
                refused = await _reveal(client, share, share.auth_token, forwarded)
                assert (refused.status, refused.code) == (403, "forbidden_network"), refused
            assert (await client.meta(share.id)).body["state"] == "pending"
            # Only the first hop counts: the proxy's own address after it changes nothing.
            allowed = await _reveal(client, share, share.auth_token, f"{CLIENT}, 127.0.0.1")
            assert allowed.status == 200, allowed
            assert share.open(allowed.body["envelope"]) == SECRET
            status = await client.status(share.id, token)
            assert status.body["state"] == "revealed"
            assert status.body["reveals"][0]["from"] == CLIENT
            assert status.body["blocked_attempts"] == 2

    run_async(scenario())


def test_untrusted_peer_cannot_claim_an_address(behind_other_proxy: RelayProcess) -> None:
    blocked, open_share = make_share(SECRET), make_share(SECRET)

    async def scenario() -> None:
        async with http_session() as session:
            client = RelayClient(session, behind_other_proxy.url)
            token = await _park(client, blocked, ALLOWLIST)
            refused = await _reveal(client, blocked, blocked.auth_token, CLIENT)
            assert (refused.status, refused.code) == (403, "forbidden_network"), refused
            status = await client.status(blocked.id, token)
            assert (status.body["state"], status.body["blocked_attempts"]) == ("pending", 1)
            # Where the peer itself is allowed, the header is not what gets recorded either.
            token = await _park(client, open_share, ["127.0.0.1/32"])
            allowed = await _reveal(client, open_share, open_share.auth_token, CLIENT)
            assert allowed.status == 200, allowed
            status = await client.status(open_share.id, token)
            assert status.body["reveals"][0]["from"] == "127.0.0.1"

    run_async(scenario())


@pytest.mark.parametrize(("trust", "second_status"), [("127.0.0.1/32", 401), ("10.0.0.0/8", 429)])
def test_reveal_rate_limit_is_per_real_client(tmp_path: Path, trust: str, second_status: int,
                                              relay_store: str) -> None:
    # One reveal attempt per minute per client address: behind a trusted proxy two clients get one
    # each; from an untrusted peer a new header does not buy a new allowance.
    relay = _relay(tmp_path, "limited", trust, ["--create-rate", "0", "--reveal-rate", "1/1"], relay_store)
    share = make_share(SECRET)

    async def scenario() -> None:
        async with http_session() as session:
            client = RelayClient(session, relay.url)
            await _park(client, share, [])
            first = await _reveal(client, share, wrong_auth_token(), CLIENT)
            assert first.status == 401, first
            second = await _reveal(client, share, wrong_auth_token(), OUTSIDER)
            assert second.status == second_status, second
            again = await _reveal(client, share, wrong_auth_token(), CLIENT)
            assert (again.status, again.code) == (429, "rate_limited"), again

    try:
        run_async(scenario())
    finally:
        relay.stop()


@pytest.mark.parametrize("header", ["x-forwarded-for", "forwarded"])
def test_a_client_written_entry_left_of_the_proxies_gets_nothing(tmp_path: Path, header: str,
                                                                 relay_store: str) -> None:
    # Two trusted proxies: 127.0.0.1 (the TCP peer) and 10.1.2.3 before it. The client wrote an allowed
    # address itself; each proxy appended what it saw. Read from the right, the client is the outsider.
    relay = _relay(tmp_path, f"chain-{header}", "127.0.0.1/32",
                   [*UNLIMITED, "--trust-proxy", "10.0.0.0/8", "--proxy-header", header], relay_store)
    share = make_share(SECRET)
    hops = [CLIENT, OUTSIDER, "10.1.2.3"]
    if header == "forwarded":
        value = ", ".join(f'for="{hop}"' if i else f"for={hop};proto=https" for i, hop in enumerate(hops))
        headers = {"Forwarded": value, "X-Forwarded-For": CLIENT}  # the other header is not read
    else:
        headers = {"X-Forwarded-For": ", ".join(hops)}

    async def scenario() -> None:
        async with http_session() as session:
            client = RelayClient(session, relay.url)
            token = await _park(client, share, ALLOWLIST)
            refused = await client.request("POST", f"{API}/{share.id}/reveal",
                                           json_body=share.reveal_body(), headers=headers)
            assert (refused.status, refused.code) == (403, "forbidden_network"), refused
            status = await client.status(share.id, token)
            assert (status.body["state"], status.body["blocked_attempts"]) == ("pending", 1)
            # The same chain without the forged entry, from an allowed client, opens it and records that client.
            honest = dict(headers)
            if header == "forwarded":
                honest["Forwarded"] = f'for={CLIENT}, for="10.1.2.3"'
            else:
                honest["X-Forwarded-For"] = f"{CLIENT}, 10.1.2.3"
            allowed = await client.request("POST", f"{API}/{share.id}/reveal",
                                           json_body=share.reveal_body(), headers=honest)
            assert allowed.status == 200, allowed
            status = await client.status(share.id, token)
            assert status.body["reveals"][0]["from"] == CLIENT

    try:
        run_async(scenario())
    finally:
        relay.stop()
