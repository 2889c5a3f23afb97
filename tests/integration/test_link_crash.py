"""SIGKILL the relay in the middle of a create/reveal load, restart it, and account for every share.

Workers create shares and reveal some of the ones already acknowledged, each share at most
once, until the relay is killed under them. Then it restarts on the same store (the same
SQLite file, or the same redis-server, which keeps running), and this repeats. At the end:

* every share that got a 201 and whose reveal got a 200 before a kill answers 410 ``revealed``;
* every share that got a 201 and was never asked for is revealed exactly once (the right
  plaintext), then answers 410;
* a share whose reveal was in flight at a kill may have been claimed (410) or not (one 200),
  never both; a create in flight at a kill may or may not exist, and is revealed at most once.
"""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp

from tests.support.redis_server import RedisServer
from tests.support.relay import RelayClient, RelayProcess, Share, http_session, make_share, run_async, start_relay

CYCLES = 3
WORKERS = 12
# Kill once this cycle has acknowledged this many creates and reveals.
KILL_AFTER_CREATES = 150
KILL_AFTER_REVEALS = 50
VERIFY_CONCURRENCY = 32
LOST = (aiohttp.ClientError, TimeoutError)


@dataclass
class Ledger:
    """What the clients saw, across all cycles."""

    plaintexts: dict[str, bytes] = field(default_factory=dict)
    created: dict[str, Share] = field(default_factory=dict)  # got a 201
    unacknowledged: dict[str, Share] = field(default_factory=dict)  # create sent, no answer
    revealed: set[str] = field(default_factory=set)  # reveal got a 200
    uncertain: set[str] = field(default_factory=set)  # reveal sent, no answer
    to_reveal: list[str] = field(default_factory=list)  # acknowledged and not asked for yet
    cut: int = 0  # requests that were on the wire when the relay died (not refused connections)
    serial: int = 0

    def lost(self, error: BaseException) -> None:
        if not isinstance(error, aiohttp.ClientConnectorError):
            self.cut += 1

    def new_share(self) -> Share:
        self.serial += 1
        plaintext = f"crash test secret {self.serial}".encode()
        share = make_share(plaintext)
        self.plaintexts[share.id] = plaintext
        return share


async def _load(relay: RelayProcess, ledger: Ledger, rng: random.Random) -> tuple[int, int]:
    """Create and reveal until the relay dies; kill it once enough was acknowledged this cycle."""
    counts = {"created": 0, "revealed": 0}

    def maybe_kill() -> None:
        if relay.alive() and counts["created"] >= KILL_AFTER_CREATES and counts["revealed"] >= KILL_AFTER_REVEALS:
            relay.kill()  # the other workers' requests are in flight right now

    async def worker(client: RelayClient) -> None:
        while True:
            share = ledger.new_share()
            try:
                reply = await client.create(share)
            except LOST as error:
                ledger.unacknowledged[share.id] = share
                ledger.lost(error)
                return
            assert reply.status == 201, reply.body
            ledger.created[share.id] = share
            ledger.to_reveal.append(share.id)
            counts["created"] += 1
            if rng.random() < 0.5 and ledger.to_reveal:
                target = ledger.to_reveal.pop(rng.randrange(len(ledger.to_reveal)))
                try:
                    reply = await client.reveal(ledger.created[target])
                except LOST as error:
                    ledger.uncertain.add(target)
                    ledger.lost(error)
                    return
                assert reply.status == 200, reply.body
                assert ledger.created[target].open(reply.body["envelope"]) == ledger.plaintexts[target]
                ledger.revealed.add(target)
                counts["revealed"] += 1
            maybe_kill()

    async with http_session(WORKERS) as session:
        client = RelayClient(session, relay.url)
        await asyncio.gather(*(worker(client) for _ in range(WORKERS)))
    assert not relay.alive()
    return counts["created"], counts["revealed"]


async def _reveal_twice(client: RelayClient, share: Share, semaphore: asyncio.Semaphore) -> tuple[int, int, bytes]:
    async with semaphore:
        first = await client.reveal(share)
        second = await client.reveal(share)
    opened = share.open(first.body["envelope"]) if first.status == 200 else b""
    assert second.status in (404, 410), second.body
    if second.status == 410:
        assert second.body["state"] == "revealed", second.body
    return first.status, second.status, opened


async def _verify(relay: RelayProcess, ledger: Ledger) -> None:
    semaphore = asyncio.Semaphore(VERIFY_CONCURRENCY)
    async with http_session(VERIFY_CONCURRENCY) as session:
        client = RelayClient(session, relay.url)
        shares = {**ledger.unacknowledged, **ledger.created}
        ids = list(shares)
        results = dict(zip(ids, await asyncio.gather(*(_reveal_twice(client, shares[i], semaphore) for i in ids)),
                           strict=True))
    for share_id, (first, second, opened) in results.items():
        if first == 200:
            assert opened == ledger.plaintexts[share_id]
            assert second == 410
        if share_id in ledger.revealed:
            assert first == 410, f"a share revealed before a kill was served again ({first})"
        elif share_id in ledger.uncertain:
            assert first in (200, 410), first
        elif share_id in ledger.created:
            assert first == 200, f"an acknowledged, unrevealed share was lost: {first}"
        else:
            assert first in (200, 404), first
            assert (first, second) != (404, 410)


def _crash_cycles(tmp_path: Path, store: str, redis: RedisServer | None = None) -> Ledger:
    ledger = Ledger()
    rng = random.Random(20261128)
    data_dir = tmp_path / "relay-data"
    for cycle in range(CYCLES):
        relay = start_relay(tmp_path, name=f"relay-{cycle}", store=store, data_dir=data_dir)
        try:
            created, revealed = run_async(_load(relay, ledger, rng))
        finally:
            relay.stop()
        assert created >= KILL_AFTER_CREATES and revealed >= KILL_AFTER_REVEALS
        assert "Traceback" not in relay.log_text(), relay.log_text()
        if redis is not None:
            assert redis.service.alive()
    relay = start_relay(tmp_path, name="relay-final", store=store, data_dir=data_dir)
    try:
        run_async(_verify(relay, ledger))
        assert relay.alive()
    finally:
        relay.stop()
    assert "Traceback" not in relay.log_text(), relay.log_text()
    # The kills landed mid-load: requests were on the wire, not just refused afterwards.
    untouched = len(ledger.created) - len(ledger.revealed) - len(ledger.uncertain)
    assert ledger.cut > 0
    assert len(ledger.revealed) >= CYCLES * KILL_AFTER_REVEALS
    assert untouched >= CYCLES * KILL_AFTER_CREATES // 3, untouched
    return ledger


def test_sigkill_under_load_loses_nothing_and_serves_nothing_twice_on_sqlite(tmp_path: Path) -> None:
    _crash_cycles(tmp_path, "sqlite")


def test_sigkill_under_load_loses_nothing_and_serves_nothing_twice_on_redis(
        tmp_path: Path, redis_server: RedisServer, redis_url: str) -> None:
    _crash_cycles(tmp_path, redis_url, redis_server)
