"""Quotas of a real relay process, each on SQLite and on Redis: storage budget, bytes in flight per address,
create tokens, memory.

- ``--storage-budget``: creates beyond it get 507 with Retry-After, on SQLite and on Redis; a
  revealed link gives its room back.
- ``--in-flight-per-address``: a second body from an address that already has one on its way
  gets 429 with Retry-After, until the first is in.
- ``--create-token-file``: without a token 401 ``create_token_required``, with a wrong one 401
  ``wrong_create_token``, with a listed one 201; the token is never logged.
- Memory: eight concurrent creates of the largest size (10 MiB envelopes, 13.4 MB of JSON each)
  raise the relay's peak RSS (``VmHWM``) by less than ``RSS_GROWTH_LIMIT``. The relay holds at
  most ``--upload-memory`` of bodies at once (by default two of the largest, 27 MB), each with its
  envelope decoded in place beside it: about 2 x 27 MB, plus what SQLite and the allocator keep.
  Before these limits the same eight creates took it from 60 to 296 MiB.
"""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ots_desktop.channels.link_errors import LinkFailure
from ots_desktop.channels.relay_client import RelayClient as AppRelayClient
from ots_desktop.core.ids import b64u_encode
from tests.support.redis_server import RedisServer
from tests.support.relay import (
    UNLIMITED,
    RelayClient,
    http_session,
    make_share,
    run_async,
    start_relay,
)

RSS_GROWTH_LIMIT_MIB = 96
TOKEN = "relay-create-token-0123456789abcdef"


@pytest.fixture(params=["sqlite", "redis"])
def store(request: pytest.FixtureRequest) -> Iterator[str]:
    if request.param == "sqlite":
        yield "sqlite"
        return
    server: RedisServer = request.getfixturevalue("redis_server")
    yield request.getfixturevalue("redis_url")
    assert server.answers()


def _rss_mib(pid: int) -> dict[str, int]:
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            fields[name] = int(value.split()[0]) // 1024
    return fields


def test_the_storage_budget_refuses_with_507_until_room_comes_back(tmp_path: Path, store: str) -> None:
    relay = start_relay(tmp_path, store=store, extra=[*UNLIMITED, "--storage-budget", "50KiB"])
    shares = [make_share(bytes(20_000)) for _ in range(4)]

    async def scenario() -> None:
        async with http_session() as session:
            client = RelayClient(session, relay.url)
            created = [await client.create(share) for share in shares[:2]]
            assert [reply.status for reply in created] == [201, 201]
            full = await client.create(shares[2])
            assert (full.status, full.code) == (507, "storage_full"), full
            assert full.headers.get("Retry-After") == "60"
            # Revoking the first share drops its envelope: its room comes back.
            assert (await client.revoke(shares[0].id, str(created[0].body["status_token"]))).status == 200
            again = await client.create(shares[2])
            assert again.status == 201, again
            assert (await client.create(shares[3])).status == 507

    try:
        run_async(scenario())
    finally:
        relay.stop()


def test_bytes_in_flight_per_address_are_capped(tmp_path: Path, store: str) -> None:
    relay = start_relay(tmp_path, store=store, extra=[*UNLIMITED, "--in-flight-per-address", "64KiB"])
    share = make_share(b"small")

    async def scenario() -> None:
        async with http_session() as session:
            client = RelayClient(session, relay.url)
            with socket.create_connection(("127.0.0.1", relay.port), timeout=5) as held:
                # A 65,000-byte body on its way (only its first bytes sent) from this address.
                held.sendall(b"POST /api/v1/secrets HTTP/1.1\r\nHost: relay\r\nContent-Type: application/json\r\n"
                             b"Content-Length: 65000\r\n\r\n{\"id\": ")
                deadline = time.monotonic() + 10
                refused = await client.create(share)
                while refused.status == 201 and time.monotonic() < deadline:  # the held body not admitted yet
                    share2 = make_share(b"small")
                    refused = await client.create(share2)
                assert (refused.status, refused.code) == (429, "in_flight"), refused
                assert refused.headers.get("Retry-After") == "5"
            # The held connection is gone: its bytes no longer count.
            deadline = time.monotonic() + 10
            while True:
                created = await client.create(make_share(b"later"))
                if created.status == 201 or time.monotonic() > deadline:
                    break
                await asyncio.sleep(0.05)
            assert created.status == 201, created

    try:
        run_async(scenario())
    finally:
        relay.stop()


def test_a_closed_relay_creates_only_with_a_token(tmp_path: Path, store: str) -> None:
    token_file = tmp_path / "create-tokens"
    token_file.write_text(f"# the team's tokens\n\n{TOKEN}\nanother-token-for-rotation-000000\n")
    token_file.chmod(0o600)
    relay = start_relay(tmp_path, store=store, extra=[*UNLIMITED, "--create-token-file", str(token_file)])
    share = make_share(b"closed relay")

    async def scenario() -> None:
        async with http_session() as session:
            client = RelayClient(session, relay.url)
            missing = await client.create(share)
            assert (missing.status, missing.code) == (401, "create_token_required"), missing
            assert missing.headers.get("WWW-Authenticate", "").startswith("Bearer")
            wrong = await client.request("POST", "/api/v1/secrets", json_body=share.create_body(),
                                         headers={"Authorization": "Bearer " + "x" * len(TOKEN)})
            assert (wrong.status, wrong.code) == (401, "wrong_create_token"), wrong
            right = await client.request("POST", "/api/v1/secrets", json_body=share.create_body(),
                                         headers={"Authorization": f"Bearer {TOKEN}"})
            assert right.status == 201, right
            # Everything else needs no create token: a link or a status token is the credential.
            assert (await client.meta(share.id)).status == 200
            assert (await client.revoke(share.id, str(right.body["status_token"]))).status == 200
        # The app's own client sends the token it is given, and says what is wrong without one.
        other = make_share(b"from the app's client")
        async with AppRelayClient(relay.url, create_token=lambda: TOKEN) as app_client:
            created = await app_client.create(other.id, other.envelope, other.auth_hash, expires_in=300, max_views=1)
            assert created.share_id == other.id
        async with AppRelayClient(relay.url) as tokenless:
            with pytest.raises(LinkFailure, match="OTS_RELAY_TOKEN"):
                third = make_share(b"no token")
                await tokenless.create(third.id, third.envelope, third.auth_hash, expires_in=300, max_views=1)

    try:
        run_async(scenario())
    finally:
        relay.stop()
    assert TOKEN not in relay.log_text()


def test_a_bad_token_file_is_a_usage_error(tmp_path: Path) -> None:
    token_file = tmp_path / "tokens"
    token_file.write_text("short\n")
    with pytest.raises(RuntimeError) as failed:
        start_relay(tmp_path, extra=[*UNLIMITED, "--create-token-file", str(token_file)], timeout=20)
    assert "line 1" in str(failed.value) and "short" not in str(failed.value).split("line 1", 1)[1]


def test_concurrent_largest_creates_keep_memory_flat(tmp_path: Path, store: str) -> None:
    relay = start_relay(tmp_path, store=store, extra=[*UNLIMITED, "--in-flight-per-address", "1GiB"])
    size = int(relay.ready["max_size"]) - 64 * 1024  # the envelope's own overhead keeps it under the limit
    shares = [make_share(bytes(size)) for _ in range(8)]
    bodies = [share.create_body() for share in shares]
    assert all(len(b64u_encode(share.envelope)) > 13_000_000 for share in shares)

    async def scenario() -> tuple[dict[str, int], list[int], dict[str, int]]:
        async with http_session() as session:
            client = RelayClient(session, relay.url)
            assert (await client.health()).status == 200
            before = _rss_mib(relay.pid)
            replies = await asyncio.gather(*(client.request("POST", "/api/v1/secrets", json_body=body)
                                             for body in bodies))
            return before, [reply.status for reply in replies], _rss_mib(relay.pid)

    try:
        before, statuses, after = run_async(scenario())
    finally:
        relay.stop()
    assert statuses == [201] * 8, statuses
    growth = after["VmHWM"] - before["VmRSS"]
    assert growth < RSS_GROWTH_LIMIT_MIB, (before, after)


def test_answers_to_secret_requests_count_in_the_storage_budget(tmp_path: Path, store: str) -> None:
    from tests.support.secret_requests import REQUESTS, make_request

    relay = start_relay(tmp_path, store=store, extra=[*UNLIMITED, "--storage-budget", "50KiB"])
    requests = [make_request() for _ in range(3)]

    async def scenario() -> None:
        async with http_session() as session:
            client = RelayClient(session, relay.url)
            tokens = []
            for req in requests:
                created = await client.request("POST", REQUESTS, json_body=req.register_body())
                assert created.status == 201, created.body
                tokens.append(str(created.body["status_token"]))
            for req in requests[:2]:
                answered = await client.request("POST", f"{REQUESTS}/{req.id}/answer",
                                                json_body=req.answer_body(req.seal(bytes(20_000))))
                assert answered.status == 201, answered.body
            # 40 KB of answers wait: neither a third answer nor a link of 20 KB fits in 50 KiB.
            third = await client.request("POST", f"{REQUESTS}/{requests[2].id}/answer",
                                         json_body=requests[2].answer_body(requests[2].seal(bytes(20_000))))
            assert (third.status, third.code) == (507, "storage_full"), third.body
            assert (await client.create(make_share(bytes(20_000)))).status == 507
            # Collecting an answer deletes it on the relay: its room comes back.
            opened = await client.request("POST", f"{REQUESTS}/{requests[0].id}/open",
                                          headers={"Authorization": f"Bearer {tokens[0]}"})
            assert opened.status == 200, opened.body
            assert (await client.create(make_share(bytes(20_000)))).status == 201

    try:
        run_async(scenario())
    finally:
        relay.stop()


def test_the_served_openapi_documents_every_quota_refusal(tmp_path: Path) -> None:
    """What a client generated from the relay's own OpenAPI document must handle: 429 and 507 with
    Retry-After on both create operations, and the 401 of a closed relay."""
    relay = start_relay(tmp_path, extra=[*UNLIMITED])

    async def fetch() -> dict[str, Any]:
        async with http_session() as session:
            reply = await RelayClient(session, relay.url).request("GET", "/api/v1/openapi.json")
            assert reply.status == 200, reply
            return dict(reply.body)

    try:
        document = run_async(fetch())
    finally:
        relay.stop()
    paths = document["paths"]
    for operation in (paths["/api/v1/secrets"]["post"], paths["/api/v1/secrets/{id}"]["put"]):
        responses = operation["responses"]
        for code in ("429", "507"):
            assert "Retry-After" in responses[code].get("headers", {}), (operation["operationId"], code)
        assert "401" in responses and "create token" in operation.get("description", "") + str(responses["401"])
