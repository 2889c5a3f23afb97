"""The relay API in-process on a real SQLite store, with a clock the test moves.

The aiohttp app is the real one (`build_app`) served on a loopback port by aiohttp's
test server; only the clock is the test's, so expiry can be checked without waiting.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from ots_desktop.core.envelope import HEADER_LEN, read_header
from ots_desktop.core.ids import b64u_decode, b64u_encode
from ots_desktop.server.link_api import RelaySettings, build_app
from ots_desktop.server.link_service import RUNNER_OPTIONS
from ots_desktop.server.ratelimit import Rate
from ots_desktop.server.store_sqlite import SqliteStore
from tests.support.relay import Share as Sealed
from tests.support.relay import make_share as sealed_share
from tests.support.relay import wrong_auth_token


class Clock:
    """A settable clock."""

    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class Share:
    """What a sender keeps: the id, the auth token (b64u) and, after create, the status token."""

    id: str
    body: dict[str, Any]
    auth_token: str
    sealed: Sealed
    status_token: str = ""

    def reveal_body(self, token: str | None = None) -> dict[str, str]:
        return self.sealed.reveal_body(token)


def make_share(passphrase: str | None = None, **policy: Any) -> Share:
    sealed = sealed_share(b"api test secret", passphrase=passphrase)
    return Share(id=sealed.id, body=sealed.create_body(**policy), auth_token=sealed.auth_token, sealed=sealed)


@asynccontextmanager
async def relay(tmp_path: Path, **settings: Any) -> AsyncIterator[tuple[TestClient[Any, Any], Clock]]:
    clock = Clock()
    store = await SqliteStore.open(tmp_path / "links.sqlite3")
    options: dict[str, Any] = {"public_url": "http://relay.test", "max_size": 64 * 1024,
                               "create_rate": Rate(0, 1), "reveal_rate": Rate(0, 1), "clock": clock}
    options.update(settings)
    server = TestServer(build_app(store, RelaySettings(**options)))
    await server.start_server(**RUNNER_OPTIONS)  # the runner options `ots server` uses: no aiohttp access log
    client: TestClient[Any, Any] = TestClient(server)
    await client.start_server()
    try:
        yield client, clock
    finally:
        await client.close()
        await store.close()


def run(tmp_path: Path, scenario: Callable[[TestClient[Any, Any], Clock], Awaitable[None]], **settings: Any) -> None:
    async def main() -> None:
        async with relay(tmp_path, **settings) as (client, clock):
            await scenario(client, clock)

    asyncio.run(main())


async def create(client: TestClient[Any, Any], share: Share) -> dict[str, Any]:
    response = await client.post("/api/v1/secrets", json=share.body)
    assert response.status == 201, await response.text()
    data: dict[str, Any] = await response.json()
    share.status_token = data["status_token"]
    return data


async def reveal(client: TestClient[Any, Any], share: Share, token: str | None = None) -> tuple[int, dict[str, Any]]:
    response = await client.post(f"/api/v1/secrets/{share.id}/reveal", json=share.reveal_body(token))
    return response.status, await response.json()


async def status(client: TestClient[Any, Any], share: Share) -> dict[str, Any]:
    response = await client.get(f"/api/v1/secrets/{share.id}/status",
                                headers={"Authorization": f"Bearer {share.status_token}"})
    assert response.status == 200, await response.text()
    data: dict[str, Any] = await response.json()
    return data


def test_create_look_reveal_once_then_gone(tmp_path: Path) -> None:
    async def scenario(client: TestClient[Any, Any], clock: Clock) -> None:
        share = make_share()
        created = await create(client, share)
        assert created["id"] == share.id and created["expires_at"] == "2027-01-15T09:00:00Z"
        meta = await client.get(f"/api/v1/secrets/{share.id}")
        assert meta.status == 200
        assert (await meta.json())["needs_passphrase"] is False
        code, body = await reveal(client, share)
        assert code == 200 and body["views_left"] == 0 and body["envelope"] == share.body["envelope"]
        code, body = await reveal(client, share)
        assert (code, body["code"], body["state"]) == (410, "gone", "revealed")
        gone = await client.get(f"/api/v1/secrets/{share.id}")
        assert gone.status == 410
        seen = await status(client, share)
        assert seen["state"] == "revealed" and seen["reveals"][0]["from"] == "127.0.0.1"
        again = await client.post("/api/v1/secrets", json=share.body)
        assert again.status == 409

    run(tmp_path, scenario)


def test_expiry_follows_the_clock(tmp_path: Path) -> None:
    async def scenario(client: TestClient[Any, Any], clock: Clock) -> None:
        share = make_share(expires_in=300)
        await create(client, share)
        clock.now += 299
        assert (await client.get(f"/api/v1/secrets/{share.id}")).status == 200
        clock.now += 1
        meta = await client.get(f"/api/v1/secrets/{share.id}")
        assert meta.status == 410 and (await meta.json())["state"] == "expired"
        code, body = await reveal(client, share)
        assert (code, body["state"]) == (410, "expired")
        assert (await status(client, share))["state"] == "expired"

    run(tmp_path, scenario)


def test_n_views_then_gone(tmp_path: Path) -> None:
    async def scenario(client: TestClient[Any, Any], clock: Clock) -> None:
        share = make_share(max_views=3)
        await create(client, share)
        left = [(await reveal(client, share))[1]["views_left"] for _ in range(3)]
        assert left == [2, 1, 0]
        assert (await reveal(client, share))[0] == 410
        assert len((await status(client, share))["reveals"]) == 3

    run(tmp_path, scenario)


def test_four_wrong_passphrases_then_right_succeeds(tmp_path: Path) -> None:
    async def scenario(client: TestClient[Any, Any], clock: Clock) -> None:
        share = make_share(passphrase="correct horse")
        await create(client, share)
        meta = await (await client.get(f"/api/v1/secrets/{share.id}")).json()
        assert meta["needs_passphrase"] is True
        left = []
        for _ in range(4):
            code, body = await reveal(client, share, wrong_auth_token())
            assert code == 401 and body["code"] == "wrong_auth" and "passphrase" in body["error"]
            left.append(body["attempts_left"])
        assert left == [4, 3, 2, 1]
        code, _ = await reveal(client, share)
        assert code == 200
        assert (await status(client, share))["failed_attempts"] == 4

    run(tmp_path, scenario)


def test_five_wrong_passphrases_burn(tmp_path: Path) -> None:
    async def scenario(client: TestClient[Any, Any], clock: Clock) -> None:
        share = make_share(passphrase="correct horse")
        await create(client, share)
        codes = [(await reveal(client, share, wrong_auth_token()))[0] for _ in range(5)]
        assert codes == [401, 401, 401, 401, 410]
        code, body = await reveal(client, share)
        assert (code, body["state"]) == (410, "burned")
        assert (await status(client, share))["state"] == "burned"

    run(tmp_path, scenario)


def test_network_allowlist_denies_without_consuming(tmp_path: Path) -> None:
    async def scenario(client: TestClient[Any, Any], clock: Clock) -> None:
        denied = make_share(allow_cidrs=["10.0.0.0/8", "2001:db8::/32"])
        await create(client, denied)
        for _ in range(2):
            code, body = await reveal(client, denied)
            assert (code, body["code"]) == (403, "forbidden_network")
        seen = await status(client, denied)
        assert (seen["state"], seen["blocked_attempts"], seen["views_left"]) == ("pending", 2, 1)
        allowed = make_share(allow_cidrs=["127.0.0.0/8"])
        await create(client, allowed)
        assert (await reveal(client, allowed))[0] == 200

    run(tmp_path, scenario)


def test_trusted_proxy_address_is_used_for_the_allowlist(tmp_path: Path) -> None:
    async def scenario(client: TestClient[Any, Any], clock: Clock) -> None:
        share = make_share(allow_cidrs=["192.0.2.0/24"])
        await create(client, share)
        response = await client.post(f"/api/v1/secrets/{share.id}/reveal", json=share.reveal_body(),
                                     headers={"X-Forwarded-For": "192.0.2.7, 10.1.1.1"})
        assert response.status == 200
        assert (await status(client, share))["reveals"][0]["from"] == "192.0.2.7"

    # 10.1.1.1 is a second proxy of ours, in front of the one on loopback: read from the right, past both.
    run(tmp_path, scenario, trust_proxy=(ipaddress.ip_network("127.0.0.0/8"), ipaddress.ip_network("10.0.0.0/8")))


def test_forwarded_for_from_an_untrusted_peer_is_ignored(tmp_path: Path) -> None:
    async def scenario(client: TestClient[Any, Any], clock: Clock) -> None:
        share = make_share(allow_cidrs=["192.0.2.0/24"])
        await create(client, share)
        response = await client.post(f"/api/v1/secrets/{share.id}/reveal", json=share.reveal_body(),
                                     headers={"X-Forwarded-For": "192.0.2.7"})
        assert response.status == 403
        assert (await response.json())["code"] == "forbidden_network"
        seen = await status(client, share)
        assert (seen["state"], seen["blocked_attempts"], seen["reveals"]) == ("pending", 1, [])

    # The test client connects from loopback, which is outside the one trusted proxy network.
    run(tmp_path, scenario, trust_proxy=(ipaddress.ip_network("10.0.0.0/8"),))


def test_truncated_envelope_gets_400_and_oversized_gets_413(tmp_path: Path) -> None:
    async def scenario(client: TestClient[Any, Any], clock: Clock) -> None:
        share = make_share()
        envelope = b64u_decode(share.body["envelope"])
        cut = envelope[: HEADER_LEN + read_header(envelope).meta_len + 5]
        truncated = await client.post("/api/v1/secrets", json={**share.body, "envelope": b64u_encode(cut)})
        assert truncated.status == 400 and "cut short" in (await truncated.json())["error"]
        share.body["envelope"] = share.body["envelope"] + "A" * (90 * 1024)
        response = await client.post("/api/v1/secrets", json=share.body)
        assert response.status == 413
        assert (await response.json())["max_size"] == 64 * 1024
        huge = await client.post("/api/v1/secrets", data=b"x" * (200 * 1024),
                                 headers={"Content-Type": "application/json"})
        assert huge.status == 413 and (await huge.json())["code"] == "too_large"

    run(tmp_path, scenario)


def test_rate_limits_answer_429_with_retry_after(tmp_path: Path) -> None:
    async def scenario(client: TestClient[Any, Any], clock: Clock) -> None:
        codes = []
        for _ in range(3):
            response = await client.post("/api/v1/secrets", json=make_share().body)
            codes.append(response.status)
        assert codes == [201, 201, 429]
        assert int(response.headers["Retry-After"]) >= 1
        share = make_share()
        reveals = [(await reveal(client, share))[0] for _ in range(3)]
        assert reveals == [404, 404, 429]

    run(tmp_path, scenario, create_rate=Rate(2, 2), reveal_rate=Rate(2, 2))


def test_bots_get_and_head_never_consume(tmp_path: Path) -> None:
    async def scenario(client: TestClient[Any, Any], clock: Clock) -> None:
        share = make_share()
        await create(client, share)
        for path in (f"/s/{share.id}", f"/api/v1/secrets/{share.id}", f"/api/v1/secrets/{share.id}/reveal"):
            for _ in range(3):
                await client.get(path)
                await client.head(path)
        page = await client.get(f"/s/{share.id}")
        assert page.status == 200 and "frame-ancestors 'none'" in page.headers["Content-Security-Policy"]
        assert (await reveal(client, share))[0] == 200

    run(tmp_path, scenario)


def test_revoke_needs_the_status_token(tmp_path: Path) -> None:
    async def scenario(client: TestClient[Any, Any], clock: Clock) -> None:
        share = make_share()
        await create(client, share)
        path = f"/api/v1/secrets/{share.id}"
        assert (await client.delete(path)).status == 401
        wrong = await client.delete(path, headers={"Authorization": f"Bearer {wrong_auth_token()}"})
        assert wrong.status == 403
        revoked = await client.delete(path, headers={"Authorization": f"Bearer {share.status_token}"})
        assert revoked.status == 200 and (await revoked.json())["state"] == "revoked"
        code, body = await reveal(client, share)
        assert (code, body["state"]) == (410, "revoked")
        again = await client.delete(path, headers={"Authorization": f"Bearer {share.status_token}"})
        assert again.status == 410

    run(tmp_path, scenario)


@pytest.mark.parametrize(("method", "path", "kwargs", "expected"), [
    ("post", "/api/v1/secrets", {"data": b"{not json", "headers": {"Content-Type": "application/json"}}, 400),
    ("post", "/api/v1/secrets", {"data": b"id=1", "headers": {"Content-Type": "text/plain"}}, 415),
    ("post", "/api/v1/secrets", {"json": []}, 400),
    ("post", "/api/v1/secrets", {"json": {"id": "short", "envelope": "AA", "auth_hash": "0" * 64}}, 400),
    ("post", "/api/v1/secrets", {"json": {**make_share().body, "max_views": 11}}, 400),
    ("post", "/api/v1/secrets", {"json": {**make_share().body, "expires_in": 60}}, 400),
    ("post", "/api/v1/secrets", {"json": {**make_share().body, "allow_cidrs": ["not-a-net"]}}, 400),
    ("post", "/api/v1/secrets", {"json": {**make_share().body, "envelope": b64u_encode(b"plain text!")}}, 400),
    ("get", "/api/v1/secrets/not-an-id", {}, 400),
    ("get", "/api/v1/secrets/AAAAAAAAAAAAAAAAAAAAAA", {}, 404),
    ("post", "/api/v1/secrets/AAAAAAAAAAAAAAAAAAAAAA/reveal", {"json": {"auth_token": "x"}}, 400),
    ("put", "/api/v1/secrets", {}, 405),
    ("get", "/no/such/route", {}, 404),
])  # fmt: skip
def test_malformed_requests_get_a_json_4xx(tmp_path: Path, method: str, path: str, kwargs: dict[str, Any],
                                           expected: int) -> None:
    async def scenario(client: TestClient[Any, Any], clock: Clock) -> None:
        response = await getattr(client, method)(path, **kwargs)
        assert response.status == expected
        body = await response.json()
        assert body["error"] and body["code"]

    run(tmp_path, scenario)


def test_logs_name_routes_not_ids_or_tokens(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    share = make_share()

    async def scenario(client: TestClient[Any, Any], clock: Clock) -> None:
        await create(client, share)
        await status(client, share)
        await reveal(client, share, wrong_auth_token())
        await reveal(client, share)

    with caplog.at_level(logging.DEBUG):
        run(tmp_path, scenario)
    text = caplog.text
    assert "POST /api/v1/secrets/{id}/reveal 200" in text
    body = share.body
    for needle in (share.id, share.auth_token, str(share.sealed.link_proof), share.status_token, body["auth_hash"],
                   body["link_hash"], body["envelope"][:40]):
        assert needle not in text


def test_health_and_metrics(tmp_path: Path) -> None:
    async def scenario(client: TestClient[Any, Any], clock: Clock) -> None:
        health = await client.get("/healthz")
        assert health.status == 200 and (await health.json()) == {"status": "ok", "store": "sqlite",
                                                                       "country_rules": False, "streaming": True}
        await create(client, make_share())
        metrics = await (await client.get("/metrics")).text()
        assert "ots_relay_shares_created_total 1.0" in metrics
        assert 'route="/api/v1/secrets",status="201"' in metrics

    run(tmp_path, scenario)
