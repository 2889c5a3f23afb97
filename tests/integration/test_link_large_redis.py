"""Large links streamed through a real relay on a real Redis (server/redis_blobs.py).

The attacker and the accidents here: a reader who hangs up mid-stream, readers racing for
the last view, a sender whose upload is cut, a relay killed mid-upload, and an envelope that
vanishes from Redis while it is read (its TTL backstop, or an operator's FLUSHDB). Each is
checked against what stays in Redis (read key by key) and what the client sees.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import time
from collections import Counter
from collections.abc import Callable, Iterator

import aiohttp
import pytest

from ots_desktop.server.redis_blobs import SERVE_GRACE_S, UPLOAD_IDLE_S
from tests.conftest import CANARY, Home
from tests.integration.test_link_large import (
    API,
    MIB,
    OTS,
    TIMEOUT_S,
    _env,
    _put,
    _reveal,
    _stream_headers,
    receive_checked,
    reveal_and_hang_up,
)
from tests.support.big_files import make_big_file
from tests.support.redis_server import RedisServer
from tests.support.relay import make_share
from tests.support.rss import run_measured, status_kib
from tests.support.servers import RunningServer, start_ots_server

pytestmark = pytest.mark.usefixtures("keychain")

LIMIT_KIB = 64 * 1024


@pytest.fixture
def redis_relay(isolated_home: Home, redis_url: str) -> Iterator[RunningServer]:
    """A real relay on the test Redis taking envelopes up to 200 MiB, without rate limits, stopped by PID."""
    server = start_ots_server(isolated_home.root, "--no-wormhole", "--store", redis_url, "--create-rate", "0",
                              "--reveal-rate", "0", "--max-size", "200MiB")
    yield server
    server.stop()


def _keys(redis_server: RedisServer, kind: str) -> list[bytes]:
    return sorted(redis_server.client().scan_iter(match=f"ots:{kind}:*"))


def _wait_for(check: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError("the condition did not hold in time")
        time.sleep(0.05)


def test_a_100_mb_file_link_streams_through_redis_with_bounded_relay_memory(
        isolated_home: Home, redis_relay: RunningServer, redis_server: RedisServer) -> None:
    root, url = isolated_home.root, str(redis_relay.link_url)
    source = root / "big.bin"
    digest = make_big_file(source, 100 * MIB)
    sender, receiver = _env(root / "sender", url), _env(root / "receiver", url)
    relay_before = status_kib(redis_relay.pid, "VmRSS")
    sent = run_measured([*OTS, "send", "--via", "link", "--json", "--file", str(source)], env=sender, cwd=root,
                        timeout=TIMEOUT_S)
    assert sent.returncode == 0, sent.stderr
    link = json.loads(sent.stdout.splitlines()[-1])["link"]
    # Streamed, not sent as JSON: one list of 1 MiB pieces, and nothing of the upload left apart.
    [envelope_key] = _keys(redis_server, "envelope")
    client = redis_server.client()
    assert client.type(envelope_key) == b"list" and client.llen(envelope_key) == 101
    assert _keys(redis_server, "upload") == []
    out = root / "downloads"
    out.mkdir(mode=0o700)
    got, relay_growth = receive_checked(link, out, receiver, redis_relay, relay_before, digest)
    print(f"relay RSS growth {relay_growth} KiB; send {sent.seconds:.1f} s, receive {got.seconds:.1f} s")
    assert relay_growth < LIMIT_KIB
    # The claim ended the share and its reader closed: the envelope is gone, and the byte count is back to 0.
    _wait_for(lambda: _keys(redis_server, "envelope") == [])
    assert int(client.get("ots:stored_bytes") or 0) == 0


def test_concurrent_streamed_reveals_on_redis_have_one_winner(redis_relay: RunningServer,
                                                              redis_server: RedisServer) -> None:
    url = str(redis_relay.link_url)
    share = make_share(CANARY + os.urandom(3 * MIB))

    async def run() -> Counter[int]:
        status, _ = await _put(url, share.id, share.envelope, _stream_headers(share, len(share.envelope)))
        assert status == 201
        async with aiohttp.ClientSession() as session:
            # A client that takes only JSON is refused before anything is claimed.
            async with session.post(f"{url}{API}/{share.id}/reveal", json=share.reveal_body(),
                                    headers={"Accept": "application/json"}) as refused:
                assert refused.status == 406
            results = await asyncio.gather(*(_reveal(session, url, share) for _ in range(12)))
        assert [body for status, body in results if status == 200] == [share.envelope]
        return Counter(status for status, _ in results)

    outcomes = asyncio.run(run())
    assert outcomes[200] == 1 and outcomes[410] == 11, outcomes
    _wait_for(lambda: _keys(redis_server, "envelope") == [])
    assert CANARY not in redis_server.dump_bytes()


async def _slow_reveal(session: aiohttp.ClientSession, url: str, share, started: asyncio.Event,
                       go_on: asyncio.Event) -> tuple[int, bytes]:
    """A reveal that reads its first MiB, then waits for ``go_on`` before reading the rest."""
    async with session.post(f"{url}{API}/{share.id}/reveal", json=share.reveal_body(),
                            headers={"Accept": "application/octet-stream"}, read_bufsize=64 * 1024) as response:
        first = await response.content.readexactly(MIB)
        started.set()
        await go_on.wait()
        return response.status, first + await response.read()


def test_a_view_that_ends_the_share_does_not_cut_off_one_still_streaming(redis_relay: RunningServer,
                                                                         redis_server: RedisServer) -> None:
    url, client = str(redis_relay.link_url), redis_server.client()
    share = make_share(os.urandom(24 * MIB))
    record_key, envelope_key = f"ots:secret:{share.id}", f"ots:envelope:{share.id}"

    async def run() -> None:
        headers = _stream_headers(share, len(share.envelope), **{"X-Ots-Max-Views": "3"})
        assert (await _put(url, share.id, share.envelope, headers))[0] == 201
        started, go_on = asyncio.Event(), asyncio.Event()
        async with aiohttp.ClientSession() as session:
            slow = asyncio.create_task(_slow_reveal(session, url, share, started, go_on))
            await started.wait()
            # Two more views, the second of them the last: the share ends while the first still streams.
            assert await _reveal(session, url, share) == (200, share.envelope)
            assert await _reveal(session, url, share) == (200, share.envelope)
            assert client.hget(record_key, "state") == b"revealed"
            assert client.hget(record_key, "readers") == b"1"
            assert client.exists(envelope_key) and 0 < client.pttl(envelope_key) <= SERVE_GRACE_S * 1000
            go_on.set()
            assert await slow == (200, share.envelope)

    asyncio.run(run())
    _wait_for(lambda: not client.exists(envelope_key))
    assert client.hget(record_key, "readers") == b"0"


def test_a_reader_hanging_up_mid_reveal_on_redis_leaves_nothing(redis_relay: RunningServer,
                                                                redis_server: RedisServer) -> None:
    url = str(redis_relay.link_url)
    share = make_share(CANARY + os.urandom(16 * MIB))
    assert asyncio.run(_put(url, share.id, share.envelope, _stream_headers(share, len(share.envelope))))[0] == 201
    reveal_and_hang_up(url, share)
    _wait_for(lambda: _keys(redis_server, "envelope") == [])
    assert CANARY not in redis_server.dump_bytes()
    assert "internal error" not in redis_relay.service.log_text()


def _start_upload(url: str, share, size: int, send: int) -> socket.socket:
    """A streamed PUT of ``size`` bytes of which only the first ``send`` go out; the open socket."""
    host, port = url.removeprefix("http://").rsplit(":", 1)
    headers = _stream_headers(share, size)
    lines = [f"PUT {API}/{share.id} HTTP/1.1", f"Host: {host}:{port}", *(f"{k}: {v}" for k, v in headers.items()),
             "", ""]
    sock = socket.create_connection((host, int(port)), timeout=10)
    sock.sendall("\r\n".join(lines).encode() + share.envelope[:send])
    return sock


def test_a_cut_upload_leaves_nothing_in_redis(redis_relay: RunningServer, redis_server: RedisServer) -> None:
    share = make_share(CANARY + os.urandom(6 * MIB))
    sock = _start_upload(str(redis_relay.link_url), share, len(share.envelope), 3 * MIB)
    _wait_for(lambda: bool(_keys(redis_server, "upload")))  # pieces arrived
    sock.close()
    _wait_for(lambda: _keys(redis_server, "upload") == [])
    assert _keys(redis_server, "secret") == [] and _keys(redis_server, "envelope") == []
    assert CANARY not in redis_server.dump_bytes()
    assert "Traceback" not in redis_relay.service.log_text()


def test_a_relay_killed_mid_upload_leaves_only_pieces_that_expire(isolated_home: Home, redis_url: str,
                                                                  redis_server: RedisServer) -> None:
    server = start_ots_server(isolated_home.root, "--no-wormhole", "--store", redis_url, "--create-rate", "0",
                              "--max-size", "200MiB")
    share = make_share(os.urandom(6 * MIB))
    try:
        sock = _start_upload(str(server.link_url), share, len(share.envelope), 3 * MIB)
        _wait_for(lambda: bool(_keys(redis_server, "upload")))
        os.kill(server.pid, signal.SIGKILL)
        sock.close()
    finally:
        server.stop()
    [upload] = _keys(redis_server, "upload")
    assert 0 < redis_server.client().ttl(upload) <= UPLOAD_IDLE_S  # Redis drops it on its own
    assert _keys(redis_server, "secret") == []


def test_an_envelope_that_vanishes_mid_reveal_breaks_the_answer_off_quietly(redis_relay: RunningServer,
                                                                           redis_server: RedisServer) -> None:
    url = str(redis_relay.link_url)
    share = make_share(os.urandom(24 * MIB))

    async def run() -> None:
        assert (await _put(url, share.id, share.envelope, _stream_headers(share, len(share.envelope))))[0] == 201
        started, go_on = asyncio.Event(), asyncio.Event()
        async with aiohttp.ClientSession() as session:
            slow = asyncio.create_task(_slow_reveal(session, url, share, started, go_on))
            await started.wait()
            redis_server.client().delete(f"ots:envelope:{share.id}")  # as its TTL backstop or a FLUSHDB would
            go_on.set()
            with pytest.raises(aiohttp.ClientPayloadError):
                await slow

    asyncio.run(run())
    _wait_for(lambda: "a streamed reveal broke off" in redis_relay.service.log_text())
    log = redis_relay.service.log_text()
    assert "Traceback" not in log and "internal error" not in log


def test_the_json_create_still_works_on_redis_and_its_envelope_is_a_string(redis_relay: RunningServer,
                                                                          redis_server: RedisServer) -> None:
    url = str(redis_relay.link_url)
    share = make_share(b"small one")

    async def run() -> tuple[int, bytes]:
        async with aiohttp.ClientSession() as session:
            async with session.post(f"{url}{API}", json=share.create_body()) as created:
                assert created.status == 201, await created.text()
            assert redis_server.client().type(f"ots:envelope:{share.id}") == b"string"
            async with session.post(f"{url}{API}/{share.id}/reveal", json=share.reveal_body()) as revealed:
                return revealed.status, await revealed.read()

    status, body = asyncio.run(run())
    assert status == 200 and json.loads(body)["envelope"]
    assert _keys(redis_server, "envelope") == []


def test_a_second_upload_under_a_taken_id_is_refused_and_leaves_the_first_untouched(
        redis_relay: RunningServer, redis_server: RedisServer) -> None:
    """Whoever learns a share's id and uploads under it: 409, the first envelope unchanged, nothing left over."""
    url = str(redis_relay.link_url)
    first = make_share(os.urandom(3 * MIB))
    squatter = make_share(CANARY + os.urandom(3 * MIB))

    async def run() -> tuple[int, int, tuple[int, bytes]]:
        taken = (await _put(url, first.id, first.envelope, _stream_headers(first, len(first.envelope))))[0]
        again = (await _put(url, first.id, squatter.envelope, _stream_headers(squatter, len(squatter.envelope))))[0]
        async with aiohttp.ClientSession() as session:
            return taken, again, await _reveal(session, url, first)

    taken, again, revealed = asyncio.run(run())
    assert (taken, again) == (201, 409)
    assert revealed == (200, first.envelope)
    _wait_for(lambda: _keys(redis_server, "envelope") == [])
    assert _keys(redis_server, "upload") == []
    assert CANARY not in redis_server.dump_bytes()
