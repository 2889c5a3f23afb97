"""Large links streamed both ways through a real relay process (issue 15, docs/link-api.md "Large envelopes").

A real ``ots server`` (SQLite store) with ``--max-size 200MiB``, the ``ots`` CLI as child
processes for sender and receiver (real Secret Service for their audit keys), and raw HTTP
for the refusals. Memory is read from /proc/PID/status (VmHWM, VmRSS) of the real processes.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import socket
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest

from ots_desktop.core.envelope import HEADER_LEN
from tests.conftest import CANARY, Home
from tests.support.big_files import make_big_file, sha256_of
from tests.support.canary import find_canary
from tests.support.relay import make_share
from tests.support.rss import Measured, run_measured, status_kib
from tests.support.servers import RunningServer, start_ots_server

pytestmark = pytest.mark.usefixtures("keychain")

OTS = [sys.executable, "-m", "ots_desktop.cli"]
MIB = 1024 * 1024
LIMIT_KIB = 64 * 1024
TIMEOUT_S = 240.0
API = "/api/v1/secrets"


@pytest.fixture
def relay(isolated_home: Home) -> Iterator[RunningServer]:
    """A real relay on SQLite taking envelopes up to 200 MiB, without rate limits, stopped by PID."""
    server = start_ots_server(isolated_home.root, "--no-wormhole", "--create-rate", "0", "--reveal-rate", "0",
                              "--max-size", "200MiB")
    yield server
    server.stop()


def _env(home: Path, url: str) -> dict[str, str]:
    home.mkdir(mode=0o700, exist_ok=True)
    return {**os.environ, "OTS_HOME": str(home), "OTS_RELAY_URL": url}


def _blob_dir(server: RunningServer) -> Path:
    return server.data_dir / "links-envelopes"


def test_100_mb_file_link_streams_with_bounded_memory(isolated_home: Home, relay: RunningServer) -> None:
    root = isolated_home.root
    assert relay.link_url
    source = root / "big.bin"
    digest = make_big_file(source, 100 * MIB)
    out = root / "downloads"
    out.mkdir(mode=0o700)
    sender, receiver = _env(root / "sender", relay.link_url), _env(root / "receiver", relay.link_url)
    # Baselines: the same commands for a 4-byte file, so growth is what the size of the file adds.
    small = root / "small.bin"
    small.write_bytes(b"tiny")
    base_send = run_measured([*OTS, "send", "--via", "link", "--json", "--file", str(small)], env=sender,
                             cwd=root, timeout=TIMEOUT_S)
    assert base_send.returncode == 0, base_send.stderr
    small_link = json.loads(base_send.stdout.splitlines()[-1])["link"]
    base_receive = run_measured([*OTS, "receive", small_link, "--output", str(root / "small-out"), "--json"],
                                env=receiver, cwd=root, timeout=TIMEOUT_S)
    assert base_receive.returncode == 0, base_receive.stderr
    relay_before = status_kib(relay.pid, "VmRSS")

    sent = run_measured([*OTS, "send", "--via", "link", "--json", "--file", str(source)], env=sender, cwd=root,
                        timeout=TIMEOUT_S)
    assert sent.returncode == 0, sent.stderr
    link = json.loads(sent.stdout.splitlines()[-1])["link"]
    stored = [p for p in _blob_dir(relay).iterdir()]
    assert len(stored) == 1 and stored[0].stat().st_mode & 0o777 == 0o600
    assert stored[0].stat().st_size > 100 * MIB
    got, relay_growth = receive_checked(link, out, receiver, relay, relay_before, digest)
    growth = {"sender": sent.peak_kib - base_send.peak_kib, "receiver": got.peak_kib - base_receive.peak_kib,
              "relay": relay_growth}
    print(f"RSS growth KiB: {growth}; send {sent.seconds:.1f} s, receive {got.seconds:.1f} s")
    assert all(kib < LIMIT_KIB for kib in growth.values()), growth
    # The claim ended the share: its envelope file is gone, and no file of the relay holds the link's key.
    assert list(_blob_dir(relay).iterdir()) == []
    key = link.split("#", 1)[1].encode()
    assert find_canary([relay.data_dir], key) == []


def receive_checked(link: str, out: Path, env: dict[str, str], relay: RunningServer, relay_before_kib: int,
                    digest: str) -> tuple[Measured, int]:
    """``ots receive LINK`` into ``out``, checked by sha256; the run and the relay's RSS growth in KiB."""
    got = run_measured([*OTS, "receive", link, "--output", str(out), "--json"], env=env, cwd=out.parent,
                       timeout=TIMEOUT_S)
    assert got.returncode == 0, got.stderr
    relay_growth = status_kib(relay.pid, "VmHWM") - relay_before_kib
    [received] = list(out.iterdir())
    assert sha256_of(received) == digest
    return got, relay_growth


async def _put(url: str, share_id: str, body: bytes | None, headers: dict[str, str]) -> tuple[int, dict]:
    async with aiohttp.ClientSession() as session, session.put(
            f"{url}{API}/{share_id}", data=body, headers=headers) as response:
        return response.status, await response.json(content_type=None)


def _stream_headers(share, size: int, **extra: str) -> dict[str, str]:
    return {"Content-Type": "application/octet-stream", "Content-Length": str(size),
            "X-Ots-Auth-Hash": share.auth_hash, "X-Ots-Link-Hash": share.link_hash, **extra}


async def _reveal(session: aiohttp.ClientSession, url: str, share) -> tuple[int, bytes]:
    async with session.post(f"{url}{API}/{share.id}/reveal", json=share.reveal_body(),
                            headers={"Accept": "application/octet-stream"}) as response:
        return response.status, await response.read()


def test_concurrent_streamed_reveals_have_one_winner(relay: RunningServer) -> None:
    assert relay.link_url
    url = relay.link_url

    async def run() -> Counter[int]:
        share = make_share(CANARY + os.urandom(3 * MIB))
        status, _ = await _put(url, share.id, share.envelope, _stream_headers(share, len(share.envelope)))
        assert status == 201
        async with aiohttp.ClientSession() as session:
            results = await asyncio.gather(*(_reveal(session, url, share) for _ in range(12)))
        wins = [body for status, body in results if status == 200]
        assert wins == [share.envelope]
        # No file of the relay holds any of the envelope's ciphertext after the claim.
        piece = share.envelope[2 * MIB:2 * MIB + 64]
        assert [p for p in _blob_dir(relay).parent.rglob("*") if p.is_file() and piece in p.read_bytes()] == []
        return Counter(status for status, _ in results)

    outcomes = asyncio.run(run())
    assert outcomes[200] == 1 and outcomes[410] == 11, outcomes
    assert list(_blob_dir(relay).iterdir()) == []
    assert find_canary([relay.data_dir], CANARY) == []


def reveal_and_hang_up(url: str, share) -> None:  # type: ignore[no-untyped-def]
    """Ask for a streamed reveal, read the first bytes of the answer, and close the connection."""
    host, port = url.removeprefix("http://").rsplit(":", 1)
    body = json.dumps(share.reveal_body()).encode()
    head = [f"POST {API}/{share.id}/reveal HTTP/1.1", f"Host: {host}:{port}", "Accept: application/octet-stream",
            "Content-Type: application/json", f"Content-Length: {len(body)}", "", ""]
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall("\r\n".join(head).encode() + body)
        assert b"200 OK" in sock.recv(65536)


def _raw_head(url: str, share_id: str, headers: dict[str, str]) -> tuple[int, bytes]:
    """Send a PUT head with Expect: 100-continue and no body; the status line's code and the answer."""
    host, port = url.removeprefix("http://").rsplit(":", 1)
    lines = [f"PUT {API}/{share_id} HTTP/1.1", f"Host: {host}:{port}", "Expect: 100-continue",
             *(f"{k}: {v}" for k, v in headers.items()), "", ""]
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall("\r\n".join(lines).encode())
        answer = b""
        while b"\r\n\r\n" not in answer or len(answer) < _answer_length(answer):
            piece = sock.recv(65536)  # the head and the body of a refusal may come in separate pieces
            if not piece:
                break
            answer += piece
    return int(answer.split(b" ", 2)[1]), answer


def _answer_length(answer: bytes) -> int:
    """How long the answer is once whole: its head and, for a final answer, its Content-Length of body."""
    head, _, _ = answer.partition(b"\r\n\r\n")
    if answer.startswith(b"HTTP/1.1 100"):
        return len(head) + 4
    length = re.search(rb"(?im)^content-length:\s*(\d+)", head)
    return len(head) + 4 + (int(length.group(1)) if length else 0)


def test_refusals_come_from_the_head_before_the_body(relay: RunningServer) -> None:
    assert relay.link_url
    share = make_share(b"x" * 1000)
    too_big = _stream_headers(share, 300 * MIB)
    status, answer = _raw_head(relay.link_url, share.id, too_big)
    assert status == 413 and b"too_large" in answer
    status, answer = _raw_head(relay.link_url, share.id, _stream_headers(share, 5000, **{"X-Ots-Max-Views": "0"}))
    assert status == 400 and b"X-Ots-Max-Views must be an integer" in answer
    ok = _stream_headers(share, len(share.envelope))
    status, answer = _raw_head(relay.link_url, share.id, ok)
    assert status == 100
    for name, value, words in [("X-Ots-Auth-Hash", "ABC", "X-Ots-Auth-Hash must be 64 lowercase hex"),
                               ("X-Ots-Expires-In", "soon", "X-Ots-Expires-In must be an integer"),
                               ("X-Ots-Allow-Cidrs", "10.0.0.0/8,nonsense", "not a network"),
                               ("Content-Type", "text/plain", "application/octet-stream")]:
        status, body = asyncio.run(_put(relay.link_url, share.id, share.envelope, {**ok, name: value}))
        assert status in (400, 415) and words in body["error"], (name, body)
    # A body that is not an ots envelope is refused from its first bytes.
    status, body = asyncio.run(_put(relay.link_url, share.id, b"\0" * 5000, _stream_headers(share, 5000)))
    assert status == 400 and "not a valid ots envelope" in body["error"]
    assert list(_blob_dir(relay).iterdir()) == []
    assert HEADER_LEN == 44


@contextlib.contextmanager
def _half_sent(relay: RunningServer, share) -> Iterator[None]:  # type: ignore[no-untyped-def]
    """A streamed PUT of ``share`` with its first MiB sent, held open for the block, then cut."""
    assert relay.link_url
    host, port = relay.link_url.removeprefix("http://").rsplit(":", 1)
    head = [f"PUT {API}/{share.id} HTTP/1.1", f"Host: {host}:{port}",
            *(f"{k}: {v}" for k, v in _stream_headers(share, len(share.envelope)).items()), "", ""]
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall("\r\n".join(head).encode() + share.envelope[:MIB])
        yield


def test_cut_upload_leaves_no_file_and_no_share(relay: RunningServer) -> None:
    assert relay.link_url
    share = make_share(os.urandom(2 * MIB))
    with _half_sent(relay, share):
        parts = _wait_for(lambda: [p for p in _blob_dir(relay).iterdir() if p.name.endswith(".part")])
        assert parts  # the upload is being written
    # Connection cut half-way: the part file goes, and the share never existed.
    _wait_for(lambda: not list(_blob_dir(relay).iterdir()))
    # The sender's doing: logged quietly, not as a server error with a traceback.
    _wait_for(lambda: "closed the connection before its request was read" in relay.service.log_text())
    assert "Traceback" not in relay.service.log_text()

    async def meta() -> int:
        async with aiohttp.ClientSession() as session, session.get(f"{relay.link_url}{API}/{share.id}") as r:
            return r.status

    assert asyncio.run(meta()) == 404


def _wait_for(check, timeout: float = 20.0):  # type: ignore[no-untyped-def]
    """Poll ``check`` until it gives something true, with a deadline."""
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError(f"not reached within {timeout} s")


def test_restart_removes_part_files_and_orphans(isolated_home: Home) -> None:
    server = start_ots_server(isolated_home.root, "--no-wormhole", "--create-rate", "0", "--reveal-rate", "0")
    try:
        assert server.link_url
        share = make_share(CANARY + os.urandom(2 * MIB))
        status, _ = asyncio.run(_put(server.link_url, share.id, share.envelope,
                                     _stream_headers(share, len(share.envelope))))
        assert status == 201
    finally:
        server.stop()
    folder = _blob_dir(server)
    # What a relay killed mid-upload, or mid-way through ending a share, could leave.
    (folder / f"{make_share().id}.0123456789abcdef.part").write_bytes(b"half an upload")
    (folder / make_share().id).write_bytes(b"an envelope whose share is gone")
    again = start_ots_server(isolated_home.root, "--no-wormhole", "--create-rate", "0", "--reveal-rate", "0")
    try:
        assert [p.name for p in folder.iterdir()] == [share.id]  # the pending share's file stays
        assert again.link_url

        async def reveal() -> tuple[int, bytes]:
            async with aiohttp.ClientSession() as session:
                return await _reveal(session, str(again.link_url), share)

        assert asyncio.run(reveal()) == (200, share.envelope)
        assert list(folder.iterdir()) == []
    finally:
        again.stop()


def test_a_reader_hanging_up_mid_reveal_leaves_nothing_and_the_relay_serving(relay: RunningServer) -> None:
    assert relay.link_url
    share = make_share(os.urandom(16 * MIB))
    status, _ = asyncio.run(_put(relay.link_url, share.id, share.envelope, _stream_headers(share, len(share.envelope))))
    assert status == 201
    reveal_and_hang_up(relay.link_url, share)
    # Claimed before the first byte: the share is over and its file is gone; the relay goes on serving.
    _wait_for(lambda: not list(_blob_dir(relay).iterdir()))

    async def meta() -> int:
        async with aiohttp.ClientSession() as session, session.get(f"{relay.link_url}{API}/{share.id}") as r:
            return r.status

    assert asyncio.run(meta()) == 410
    assert "internal error" not in relay.service.log_text()


def test_a_streamed_envelope_counts_whole_in_its_address_bytes_in_flight(isolated_home: Home) -> None:
    """``--in-flight-per-address`` counts a streamed body by its Content-Length, not by what is in memory.

    A larger envelope still gets in while its address has nothing else on the way, so one large link
    never needs the operator to raise the limit to ``--max-size``.
    """
    relay = start_ots_server(isolated_home.root, "--no-wormhole", "--create-rate", "0", "--max-size", "200MiB",
                             "--in-flight-per-address", "4MiB")
    try:
        assert relay.link_url
        with _half_sent(relay, make_share(os.urandom(3 * MIB))):
            _wait_for(lambda: [p for p in _blob_dir(relay).iterdir() if p.name.endswith(".part")])
            # 3 MiB on the way (1 MiB of it in memory) and 2 MiB more: over the 4 MiB allowance.
            second = make_share(os.urandom(2 * MIB))
            status, body = asyncio.run(_put(relay.link_url, second.id, second.envelope,
                                            _stream_headers(second, len(second.envelope))))
            assert (status, body.get("code")) == (429, "in_flight"), body
        _wait_for(lambda: not list(_blob_dir(relay).iterdir()))
        # Alone, an 8 MiB envelope is admitted although it is over the allowance by itself.
        alone = make_share(os.urandom(8 * MIB))
        status, body = asyncio.run(_put(relay.link_url, alone.id, alone.envelope,
                                        _stream_headers(alone, len(alone.envelope))))
        assert status == 201, body
    finally:
        relay.stop()


@pytest.mark.parametrize("attack", ["swapped", "flipped", "truncated"])
def test_a_relay_that_changes_a_streamed_envelope_file_is_detected(isolated_home: Home, relay: RunningServer,
                                                                   attack: str) -> None:
    """The attacker owns the relay's disk: another share's envelope, one flipped byte or a cut file.

    The receiver refuses it, keeps nothing (no output, no part file, no plaintext anywhere in its
    folders) and records the failure; the share is spent all the same.
    """
    root = isolated_home.root
    assert relay.link_url
    sender, receiver = _env(root / "sender", relay.link_url), _env(root / "receiver", relay.link_url)
    links = []
    for name in ("a.bin", "b.bin"):
        (root / name).write_bytes(CANARY + os.urandom(2 * MIB))
        sent = subprocess.run([*OTS, "send", "--via", "link", "--json", "--file", str(root / name)], check=False,
                              env=sender,
                              cwd=root, capture_output=True, timeout=TIMEOUT_S)
        assert sent.returncode == 0, sent.stderr
        links.append(json.loads(sent.stdout.splitlines()[-1])["link"])
    target = _blob_dir(relay) / links[0].split("/")[-1].split("#")[0]
    other = _blob_dir(relay) / links[1].split("/")[-1].split("#")[0]
    assert target.is_file() and other.is_file()
    if attack == "swapped":
        target.write_bytes(other.read_bytes())
    elif attack == "flipped":
        with target.open("r+b") as f:
            f.seek(MIB)
            byte = f.read(1)
            f.seek(MIB)
            f.write(bytes([byte[0] ^ 1]))
    else:
        with target.open("r+b") as f:
            f.truncate(target.stat().st_size - 1000)
    out = root / "downloads"
    out.mkdir(mode=0o700)
    got = subprocess.run([*OTS, "receive", links[0], "--output", str(out), "--json"], check=False,
                         env=receiver, cwd=root,
                         capture_output=True, timeout=TIMEOUT_S)
    assert got.returncode != 0, got.stdout
    # A cut file makes the relay end its answer short of its Content-Length: the connection breaks off.
    expected = b"broke off" if attack == "truncated" else b"the secret was revealed but cannot be opened"
    assert expected in got.stderr, got.stderr
    assert list(out.iterdir()) == []
    assert find_canary([out, root / "receiver"], CANARY) == []
    rows = [json.loads(line) for line in got.stdout.splitlines() if line.strip()]
    assert rows[-1]["event"] in ("error", "failed"), rows
