"""Slow and vanishing clients against a real relay process, through real sockets.

A connection that dribbles its request head in is closed once ``--header-timeout`` has passed,
on its first request and on a kept-alive one; a body slower than ``--body-timeout`` (plus its
allowance per 64 KiB) gets a 408 or a closed connection; a client that hangs up half-way
through its body leaves one quiet line in the log, never a 500 or a traceback. Each on SQLite
and on Redis.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.relay import UNLIMITED, RelayClient, RelayProcess, http_session, make_share, run_async, start_relay

HEADER_TIMEOUT = 1.0
BODY_TIMEOUT = 1.0
# Generous: the point is that the connection does not stay open, not how exactly it is timed.
SLACK_S = 4.0
CREATE_HEAD = (b"POST /api/v1/secrets HTTP/1.1\r\nHost: relay\r\nContent-Type: application/json\r\n"
               b"Content-Length: %d\r\n\r\n")
STREAM_HEAD = (b"PUT /api/v1/secrets/%s HTTP/1.1\r\nHost: relay\r\nContent-Type: application/octet-stream\r\n"
               b"X-Ots-Auth-Hash: %s\r\nContent-Length: %d\r\n\r\n")


@pytest.fixture
def relay(tmp_path: Path, relay_store: str) -> Iterator[RelayProcess]:
    """A relay with short timeouts, on SQLite and on Redis (the timeouts are the HTTP layer's, the quiet
    handling of a client that leaves is each store's upload path too)."""
    process = start_relay(tmp_path, store=relay_store, extra=[*UNLIMITED, "--header-timeout", str(HEADER_TIMEOUT),
                                                              "--body-timeout", str(BODY_TIMEOUT)])
    yield process
    process.stop()


def _connect(relay: RelayProcess) -> socket.socket:
    return socket.create_connection(("127.0.0.1", relay.port), timeout=5)


def _dribble_until_closed(sock: socket.socket, piece: bytes, *, every: float = 0.2,
                          limit: float = HEADER_TIMEOUT + SLACK_S) -> tuple[float | None, bytes]:
    """Send ``piece`` every ``every`` seconds (nothing if empty) until the relay closes; (seconds, bytes read).

    The seconds are None when the connection was still open after ``limit``.
    """
    started = time.monotonic()
    received = b""
    sock.settimeout(every)
    while time.monotonic() - started < limit:
        try:
            if piece:
                sock.sendall(piece)
            data = sock.recv(65536)
        except TimeoutError:
            continue
        except OSError:  # reset by the relay: closed as well
            return time.monotonic() - started, received
        if not data:
            return time.monotonic() - started, received
        received += data
    return None, received


def _wait_for_log(relay: RelayProcess, text: str, timeout: float = 10.0, count: int = 1) -> str:
    deadline = time.monotonic() + timeout
    while True:
        log = relay.log_text()
        if log.count(text) >= count or time.monotonic() > deadline:
            return log
        time.sleep(0.05)  # polling a file with a deadline


def test_a_dribbled_request_head_is_closed_in_time(relay: RelayProcess) -> None:
    with _connect(relay) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: relay\r\n")
        closed_after, answer = _dribble_until_closed(sock, b"X-Slow: a\r\n")
    assert closed_after is not None, "the relay kept a connection dribbling its head open"
    assert HEADER_TIMEOUT * 0.9 <= closed_after <= HEADER_TIMEOUT + SLACK_S, closed_after
    assert answer == b"", answer  # closed without serving the request


def test_a_connection_that_sends_nothing_is_closed(relay: RelayProcess) -> None:
    with _connect(relay) as sock:
        closed_after, _ = _dribble_until_closed(sock, b"")
    assert closed_after is not None and closed_after <= HEADER_TIMEOUT + SLACK_S, closed_after


def test_the_next_head_on_a_kept_alive_connection_is_timed_too(relay: RelayProcess) -> None:
    with _connect(relay) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: relay\r\n\r\n")
        first = b""
        while b"\r\n\r\n" not in first or not first.rstrip().endswith(b"}"):
            chunk = sock.recv(65536)
            assert chunk, "the relay closed instead of answering"
            first += chunk
        assert first.startswith(b"HTTP/1.1 200"), first
        sock.sendall(b"GET /healthz HTTP/1.1\r\n")
        closed_after, answer = _dribble_until_closed(sock, b"X-Slow: b\r\n")
    assert closed_after is not None and closed_after <= HEADER_TIMEOUT + SLACK_S, closed_after
    assert answer == b""


def test_a_slow_body_is_refused_and_closed(relay: RelayProcess) -> None:
    length = 1000  # allowed: BODY_TIMEOUT + 1000 / 64 KiB seconds
    with _connect(relay) as sock:
        sock.sendall(CREATE_HEAD % length + b"{")
        closed_after, answer = _dribble_until_closed(sock, b" ", limit=BODY_TIMEOUT + SLACK_S)
    assert closed_after is not None, "the relay kept waiting for a body that trickled in"
    assert BODY_TIMEOUT * 0.9 <= closed_after <= BODY_TIMEOUT + SLACK_S, closed_after
    # The 408 may be lost to the reset of a connection with unread bytes; the log has it.
    assert answer == b"" or answer.startswith(b"HTTP/1.1 408"), answer
    log = _wait_for_log(relay, "POST /api/v1/secrets 408")
    assert "POST /api/v1/secrets 408" in log, log


def test_a_client_leaving_mid_body_is_logged_quietly(relay: RelayProcess) -> None:
    for _ in range(3):
        with _connect(relay) as sock:
            sock.sendall(CREATE_HEAD % 100_000 + b'{"id": "' + b"A" * 5000)
    # And a streamed create (PUT), cut off after its envelope's first 64 KiB.
    streamed = make_share(bytes(300_000))
    for _ in range(2):
        with _connect(relay) as sock:
            sock.sendall(STREAM_HEAD % (streamed.id.encode(), streamed.auth_hash.encode(), len(streamed.envelope))
                         + streamed.envelope[:65536])
    log = _wait_for_log(relay, "closed the connection before its request was read", count=5)
    assert log.count("closed the connection before its request was read") == 5, log
    assert log.count("PUT /api/v1/secrets/{id}: the client closed the connection") == 2, log
    assert "Traceback" not in log and "ERROR" not in log, log
    assert " 500 " not in log, log

    async def still_serves() -> int:
        share = make_share(b"after the hang-ups")
        async with http_session() as session:
            client = RelayClient(session, relay.url)
            created = await client.create(share)
            assert created.status == 201, created
            return int(await client.metric("ots_relay_requests_total", status="499"))

    assert run_async(still_serves()) == 5
