"""A relay whose store stops answering: a clear 503 for every request that needs it, never a 500 with a trace.

A real ``ots server`` on a real ``redis-server`` of its own, which the test stops by PID
while the relay runs (an operator's restart, a crash, a full ``maxmemory``). Then the
relay is asked to create, reveal and stream; once Redis is back, everything works again.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
from pathlib import Path

import aiohttp
import pytest

from tests.integration.test_link_large import API, MIB, _put, _stream_headers
from tests.support.redis_server import start_redis
from tests.support.relay import make_share
from tests.support.servers import start_ots_server


async def _answers(url: str) -> list[tuple[int, str | None, str | None]]:
    """Status, error code and Retry-After of a JSON create, a reveal, a streamed create and /healthz."""
    share, big = make_share(b"while the store is down"), make_share(os.urandom(2 * MIB))
    results: list[tuple[int, str | None, str | None]] = []
    async with aiohttp.ClientSession() as session:
        for method, path, kwargs in (("POST", API, {"json": share.create_body()}),
                                     ("POST", f"{API}/{share.id}/reveal", {"json": share.reveal_body()})):
            async with session.request(method, f"{url}{path}", **kwargs) as response:
                body = await response.json(content_type=None)
                results.append((response.status, body.get("code"), response.headers.get("Retry-After")))
        status, body = await _put(url, big.id, big.envelope, _stream_headers(big, len(big.envelope)))
        results.append((status, body.get("code"), None))
        async with session.get(f"{url}/healthz") as response:
            results.append((response.status, (await response.json())["status"], None))
    return results


def test_a_store_that_stops_answering_gets_a_clear_503_and_recovers(tmp_path: Path) -> None:
    work = Path(tempfile.mkdtemp(prefix="ots-rd-", dir="/tmp"))  # short: the socket path must fit, and stay
    redis = start_redis(work)
    relay = start_ots_server(tmp_path, "--no-wormhole", "--store", redis.url, "--create-rate", "0",
                             "--reveal-rate", "0", "--max-size", "20MiB")
    try:
        url = str(relay.link_url)
        redis.stop()
        answers = asyncio.run(_answers(url))
        assert answers == [(503, "store_unavailable", "5"), (503, "store_unavailable", "5"),
                           (503, "store_unavailable", None), (503, "unavailable", None)], answers
        log = relay.service.log_text()
        assert "the store failed on POST /api/v1/secrets" in log
        assert "Traceback" not in log and "internal error" not in log
        # Redis back on the same socket: the same relay process serves again, without a restart.
        redis = start_redis(work)
        share = make_share(b"after the store came back")

        async def round_trip() -> tuple[int, int]:
            async with aiohttp.ClientSession() as session:
                async with session.post(f"{url}{API}", json=share.create_body()) as created:
                    async with session.post(f"{url}{API}/{share.id}/reveal", json=share.reveal_body()) as revealed:
                        return created.status, revealed.status

        assert asyncio.run(round_trip()) == (201, 200)
    finally:
        relay.stop()
        redis.stop()
        shutil.rmtree(work, ignore_errors=True)


def test_redis_stopping_mid_reveal_breaks_the_answer_off_and_the_relay_stays_up(tmp_path: Path) -> None:
    work = Path(tempfile.mkdtemp(prefix="ots-rd-", dir="/tmp"))
    redis = start_redis(work)
    relay = start_ots_server(tmp_path, "--no-wormhole", "--store", redis.url, "--create-rate", "0",
                             "--reveal-rate", "0", "--max-size", "64MiB")
    share = make_share(os.urandom(24 * MIB))
    try:
        url = str(relay.link_url)

        async def run() -> None:
            assert (await _put(url, share.id, share.envelope, _stream_headers(share, len(share.envelope))))[0] == 201
            async with aiohttp.ClientSession() as session:
                async with session.post(f"{url}{API}/{share.id}/reveal", json=share.reveal_body(),
                                        headers={"Accept": "application/octet-stream"},
                                        read_bufsize=64 * 1024) as response:
                    assert len(await response.content.readexactly(MIB)) == MIB
                    redis.stop()  # the relay is part-way through the envelope, piece by piece
                    with pytest.raises(aiohttp.ClientPayloadError):
                        await response.read()
                async with session.get(f"{url}/healthz") as health:
                    assert health.status == 503

        asyncio.run(run())
        log = relay.service.log_text()
        assert "a streamed reveal broke off" in log
        assert "Traceback" not in log and "internal error" not in log
        # One reveal, logged once as what the reader got (a 200 cut short), not as a 503 it never saw.
        assert "POST /api/v1/secrets/{id}/reveal 200" in log
        assert "the store failed on POST /api/v1/secrets/{id}/reveal" not in log
        assert relay.service.alive()
    finally:
        relay.stop()
        redis.stop()
        shutil.rmtree(work, ignore_errors=True)


def test_rate_limits_hold_in_the_process_while_redis_is_down_and_return_to_redis(tmp_path: Path) -> None:
    """An attacker who can make Redis stop answering (a flood, a restart) gets no unlimited requests: the
    relay falls back to its own buckets, says so once, and goes back to the shared ones in Redis."""
    work = Path(tempfile.mkdtemp(prefix="ots-rl-", dir="/tmp"))
    redis = start_redis(work)
    relay = start_ots_server(tmp_path, "--no-wormhole", "--store", redis.url, "--create-rate", "2/2",
                             "--reveal-rate", "0")
    try:
        url = str(relay.link_url)

        async def creates(n: int) -> list[tuple[int, str | None]]:
            out = []
            async with aiohttp.ClientSession() as session:
                for _ in range(n):
                    async with session.post(f"{url}{API}", json=make_share(b"limited").create_body()) as response:
                        out.append((response.status, (await response.json(content_type=None)).get("code")))
            return out

        redis.stop()
        # The process's own bucket lets the burst of two through (to a store that is down), then refuses.
        down = asyncio.run(creates(4))
        assert down == [(503, "store_unavailable")] * 2 + [(429, "rate_limited")] * 2, down
        log = relay.service.log_text()
        assert log.count("rate limits fall back to this process alone: Redis did not answer") == 1, log
        redis = start_redis(work)
        # Back on Redis: a fresh, shared bucket there (the process's own is not consulted while Redis answers).
        assert asyncio.run(creates(3)) == [(201, None)] * 2 + [(429, "rate_limited")], log
        assert redis.client().keys("ots:rate:create:*")  # the bucket is in Redis
    finally:
        relay.stop()
        redis.stop()
        shutil.rmtree(work, ignore_errors=True)
