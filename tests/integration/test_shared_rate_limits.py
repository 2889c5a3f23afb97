"""Rate limits of relay processes on one Redis are one limit, not one per process.

Two real relay processes share one real ``redis-server`` (the session's, on its unix socket).
With ``--create-rate 3/3`` the client address gets three creates in all, wherever they land;
the fourth is refused by either process with a 429 and a Retry-After. The buckets live in
Redis under the store's prefix and expire on their own. Relays on SQLite keep theirs in memory.
"""

from __future__ import annotations

from pathlib import Path

from tests.support.redis_server import RedisServer
from tests.support.relay import RelayClient, http_session, make_share, relays, run_async, wrong_auth_token

LIMITS = ("--create-rate", "3/3", "--reveal-rate", "2/2")


def test_two_processes_on_one_redis_share_the_limits(tmp_path: Path, redis_server: RedisServer,
                                                     redis_url: str) -> None:
    async def scenario(urls: list[str]) -> tuple[list[int], list[int], str | None]:
        async with http_session() as session:
            first, second = (RelayClient(session, url) for url in urls)
            creates = []
            for client in (first, second, first, second, first):
                creates.append((await client.create(make_share(b"limited"))).status)
            target = make_share(b"target")
            reveals = []
            for client in (second, first, second):
                reveals.append((await client.reveal(target.id, wrong_auth_token())).status)
            refused = await second.create(make_share(b"one more"))
            return creates, reveals, refused.headers.get("Retry-After")

    with relays(tmp_path, 2, store=redis_url, extra=LIMITS) as started:
        creates, reveals, retry_after = run_async(scenario([relay.url for relay in started]))
        logs = [relay.log_text() for relay in started]
    # 3 creates in all, 2 alternating across the two processes then a third: the 4th and 5th are refused.
    assert creates == [201, 201, 201, 429, 429], creates
    # Two reveal attempts (of an unknown id: 404) in all; the third, on either process, is a 429.
    assert reveals == [404, 404, 429], reveals
    assert retry_after is not None and 1 <= int(retry_after) <= 60, retry_after
    buckets = sorted(key.decode() for key in redis_server.client().keys("ots:rate:*"))
    assert buckets == ["ots:rate:create:127.0.0.1", "ots:rate:reveal:127.0.0.1"], buckets
    assert all(0 < redis_server.client().pttl(key) <= 61_000 for key in buckets)
    assert not any("fall back" in log for log in logs), logs


def test_processes_on_sqlite_keep_their_own_limits(tmp_path: Path) -> None:
    async def scenario(urls: list[str]) -> list[int]:
        async with http_session() as session:
            first, second = (RelayClient(session, url) for url in urls)
            return [(await client.create(make_share(b"own"))).status for client in (first, first, second, second)]

    with relays(tmp_path, 2, extra=("--create-rate", "1/1", "--reveal-rate", "0")) as started:
        statuses = run_async(scenario([relay.url for relay in started]))
    assert statuses == [201, 429, 201, 429], statuses
