"""Concurrent reveals of one link: exactly one wins, on every store and across processes.

Each round parks a fresh one-view share and fires 16 reveals at it at once over 16 warm
keep-alive connections. With two relay processes on one Redis, the 16 requests alternate
between the two processes (each on its own port), so the race is between processes.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path

from tests.support.relay import RelayClient, Reply, http_session, make_share, relays, run_async

ROUNDS = 200
CONCURRENCY = 16
PLAINTEXT = b"race test secret"


async def _round(clients: list[RelayClient]) -> list[Reply]:
    share = make_share(PLAINTEXT)
    created = await clients[0].create(share)
    assert created.status == 201, created.body
    return await asyncio.gather(*(clients[n % len(clients)].reveal(share) for n in range(CONCURRENCY)))


async def _race(urls: list[str]) -> Counter[str]:
    """Run the rounds against ``urls`` (one client per process) and tally the statuses."""
    outcomes: Counter[str] = Counter()
    async with http_session(CONCURRENCY) as session:
        clients = [RelayClient(session, url) for url in urls]
        for round_no in range(ROUNDS):
            replies = await _round(clients)
            winners = [r for r in replies if r.status == 200]
            losers = [r for r in replies if r.status != 200]
            assert len(winners) == 1, f"round {round_no}: {len(winners)} reveals won: {replies}"
            assert winners[0].body["views_left"] == 0
            assert all(r.status == 410 and r.body["state"] == "revealed" for r in losers), losers
            outcomes.update(str(r.status) for r in replies)
        # The race reached the store: most losers passed the "still pending?" look-up together
        # with the winner and lost in the store's atomic claim, not before it.
        contested = sum([await c.metric("ots_relay_reveals_total", outcome="gone") for c in clients])
        assert contested >= ROUNDS, f"only {contested} reveals lost inside the store"
    return outcomes


def _check(outcomes: Counter[str]) -> None:
    assert outcomes == Counter({"200": ROUNDS, "410": ROUNDS * (CONCURRENCY - 1)})


def test_one_winner_per_round_on_sqlite(tmp_path: Path) -> None:
    with relays(tmp_path) as (relay,):
        _check(run_async(_race([relay.url])))
        assert relay.alive()


def test_one_winner_per_round_on_redis_one_process(tmp_path: Path, redis_url: str) -> None:
    with relays(tmp_path, store=redis_url) as (relay,):
        _check(run_async(_race([relay.url])))
        assert relay.alive()


def test_one_winner_per_round_on_redis_two_processes(tmp_path: Path, redis_url: str) -> None:
    with relays(tmp_path, 2, store=redis_url) as pair:
        assert pair[0].port != pair[1].port
        _check(run_async(_race([p.url for p in pair])))
        assert all(p.alive() for p in pair)
        # Both processes really served reveals: each one's access log has them.
        for process in pair:
            served = process.log_text().count("POST /api/v1/secrets/{id}/reveal ")
            assert served >= ROUNDS * CONCURRENCY // 2, f"{process.service.name} served {served} reveals"


def test_two_processes_can_share_one_port(tmp_path: Path, redis_url: str) -> None:
    async def spread(url: str) -> list[Reply]:
        # Fresh connections (no keep-alive reuse), so the kernel picks a listener for each.
        share = make_share(PLAINTEXT)
        async with http_session(64) as session:
            client = RelayClient(session, url)
            assert (await client.create(share)).status == 201
            return await asyncio.gather(*(client.request("GET", "/healthz", headers={"Connection": "close"})
                                          for _ in range(64)))

    with relays(tmp_path, 2, store=redis_url, share_port=True) as pair:
        assert pair[0].port == pair[1].port
        replies = run_async(spread(pair[0].url))
        assert all(r.status == 200 for r in replies)
        counts = [p.log_text().count("GET /healthz 200") for p in pair]
        assert sum(counts) == 64 and min(counts) > 0, counts
