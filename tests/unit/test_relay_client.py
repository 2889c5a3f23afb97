"""Links parsed strictly, and every relay answer mapped to a clear error that leaks nothing.

The relay here is a small aiohttp application on loopback that answers what each test
asks for; the real relay is exercised in tests/integration/test_link_cli.py.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Awaitable, Callable, Coroutine
from pathlib import Path
from typing import Any, TypeVar

import pytest
from aiohttp import web

from ots_desktop.channels.link_errors import LinkFailure
from ots_desktop.channels.link_urls import (
    display_url,
    is_link,
    make_link,
    parse_link,
    parse_share_ref,
    relay_base,
)
from ots_desktop.channels.relay_client import RelayClient
from ots_desktop.core.audit.events import Reason
from ots_desktop.core.errors import ExitCode, InputError
from ots_desktop.core.ids import b64u_encode
from ots_desktop.core.secret import SecretBuffer

T = TypeVar("T")
SHARE_ID = b64u_encode(bytes(range(16)))
KEY = bytes(range(100, 132))
KEY_TEXT = b64u_encode(KEY)
LINK = f"https://relay.example/s/{SHARE_ID}#{KEY_TEXT}"
SENTINEL = "SERVER-SENTENCE-never-shown"
TOKEN = "the-status-token_never_shown"


def run(coro: Coroutine[Any, Any, T]) -> T:
    """On a private loop that never becomes the thread's current one."""
    with asyncio.Runner(loop_factory=asyncio.new_event_loop) as runner:
        return runner.run(coro)


# ---------------------------------------------------------------- links


def test_a_good_link() -> None:
    parsed = parse_link(f"  {LINK}\n")
    assert parsed.base_url == "https://relay.example" and parsed.share_id == SHARE_ID
    assert parsed.key == KEY and parsed.share_id_bytes == bytes(range(16))
    assert KEY_TEXT not in repr(parsed)
    parsed.close()
    assert parsed.key.closed


def test_a_link_under_a_path_prefix_and_port() -> None:
    parsed = parse_link(f"http://127.0.0.1:8080/ots/s/{SHARE_ID}#{KEY_TEXT}")
    assert parsed.base_url == "http://127.0.0.1:8080/ots"


def test_make_link_round_trips() -> None:
    with SecretBuffer(KEY) as key:
        assert make_link("https://relay.example", SHARE_ID, key) == LINK


@pytest.mark.parametrize(("text", "message"), [
    (f"https://relay.example/s/{SHARE_ID}", "no key"),
    (f"https://relay.example/s/{SHARE_ID}#", "no key"),
    (LINK[:-1], "42"),
    (LINK + "A", "44"),
    (LINK[:-1] + "B", "last character"),  # stray low bits: not the canonical spelling
    (LINK.replace(KEY_TEXT, KEY_TEXT[:-2] + "+/"), "damaged"),
    (LINK.replace("/s/", "/x/"), "not an ots link"),
    (LINK.replace(SHARE_ID, SHARE_ID[:-1]), "id (after /s/) is damaged"),
    (LINK.replace(SHARE_ID, SHARE_ID[:-1] + "B"), "id (after /s/) is damaged"),
    (LINK.replace("#", "?x=1#"), "query"),
    (LINK.replace("https://", "ftp://"), "https://"),
    (LINK.replace("https://relay.example", "https://"), "host"),
    (LINK.replace("relay.example", "relay .example"), "spaces"),
    (LINK.replace("relay.example", "relay.example:99999"), "not a valid URL"),
    ("", "no link"),
])
def test_bad_links_are_clear_input_errors(text: str, message: str) -> None:
    with pytest.raises(InputError) as caught:
        parse_link(text)
    assert message in caught.value.message
    assert caught.value.exit_code == ExitCode.INPUT
    assert KEY_TEXT[5:-5] not in caught.value.message


def test_share_refs() -> None:
    assert parse_share_ref(SHARE_ID) == (None, SHARE_ID)
    assert parse_share_ref(LINK) == ("https://relay.example", SHARE_ID)
    assert parse_share_ref(LINK.partition("#")[0]) == ("https://relay.example", SHARE_ID)
    for bad in ("", "short", SHARE_ID + "x", "7-crossover-clockwork"):
        with pytest.raises(InputError):
            parse_share_ref(bad)


def test_what_counts_as_a_link() -> None:
    assert is_link(LINK) and is_link("ftp://x/s/y") and is_link("relay.example/s/abc#def")
    assert not is_link("7-crossover-clockwork") and not is_link(SHARE_ID)


def test_relay_urls() -> None:
    assert relay_base("https://relay.example/") == "https://relay.example"
    assert relay_base(" http://127.0.0.1:4080/prefix/ ") == "http://127.0.0.1:4080/prefix"
    assert display_url("https://user:pw@relay.example/x") == "https://relay.example/x"
    for bad in ("relay.example", "https://relay.example/?a=1", "https://relay.example/#k", "ws://r", ""):
        with pytest.raises(InputError):
            relay_base(bad)


# ---------------------------------------------------------------- the client against a scripted relay

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def error(status: int, code: str, **extra: Any) -> web.Response:
    return web.json_response({"error": SENTINEL, "code": code, **extra}, status=status,
                             headers={"Retry-After": "17"} if status == 429 else None)


async def with_relay(handler: Handler, call: Callable[[RelayClient], Awaitable[T]],
                     **client_args: Any) -> tuple[T, list[web.Request]]:
    seen: list[web.Request] = []

    async def record(request: web.Request) -> web.StreamResponse:
        await request.read()
        seen.append(request)
        return await handler(request)

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", record)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        async with RelayClient(f"http://127.0.0.1:{port}", **client_args) as client:
            return await call(client), seen
    finally:
        await runner.cleanup()


def failure_of(handler: Handler, call: Callable[[RelayClient], Awaitable[Any]], **client_args: Any) -> LinkFailure:
    async def go() -> LinkFailure:
        try:
            await with_relay(handler, call, **client_args)
        except LinkFailure as failure:
            return failure
        raise AssertionError("no LinkFailure")

    failure = run(go())
    for secret in (SENTINEL, TOKEN, KEY_TEXT, "sTaTuS"):
        assert secret not in failure.message
    return failure


def answer(response: web.Response) -> Handler:
    async def handler(request: web.Request) -> web.StreamResponse:
        return response

    return handler


async def reveal(client: RelayClient) -> Any:
    with SecretBuffer(KEY) as token:
        return await client.reveal(SHARE_ID, token, needs_passphrase=True)


async def create(client: RelayClient) -> Any:
    return await client.create(SHARE_ID, b"OTSE...", "ab" * 32, expires_in=3600, max_views=1)


async def status(client: RelayClient) -> Any:
    return await client.status(SHARE_ID, TOKEN)


def test_wrong_passphrase_names_the_attempts_left() -> None:
    failure = failure_of(answer(error(401, "wrong_auth", attempts_left=3)), reveal)
    assert failure.reason is Reason.WRONG_PASSPHRASE and failure.attempts_left == 3
    assert failure.exit_code == ExitCode.WRONG_CODE and failure.is_alert
    assert "wrong passphrase: 3 attempts left" in failure.message


@pytest.mark.parametrize(("state", "reason", "words"), [
    ("revealed", Reason.ALREADY_CONSUMED, "already opened"),
    ("expired", Reason.EXPIRED, "expired"),
    ("revoked", Reason.REVOKED, "revoked"),
    ("burned", Reason.BURNED, "destroyed"),
])
def test_gone_shares(state: str, reason: Reason, words: str) -> None:
    failure = failure_of(answer(error(410, "gone", state=state)), lambda c: c.meta(SHARE_ID))
    assert failure.reason is reason and failure.state == state and words in failure.message
    assert failure.exit_code == ExitCode.NOT_FOUND


def test_blocked_network() -> None:
    failure = failure_of(answer(error(403, "forbidden_network")), reveal)
    assert failure.reason is Reason.BLOCKED_NETWORK and failure.exit_code == ExitCode.REJECTED and failure.is_alert


def test_not_found() -> None:
    failure = failure_of(answer(error(404, "not_found")), lambda c: c.meta(SHARE_ID))
    assert failure.exit_code == ExitCode.NOT_FOUND and SHARE_ID in failure.message


def test_too_large_names_the_limit() -> None:
    failure = failure_of(answer(error(413, "too_large", max_size=4096)), create)
    assert failure.reason is Reason.TOO_LARGE and failure.exit_code == ExitCode.INPUT and "4,096" in failure.message


def test_rate_limited_says_when_to_retry() -> None:
    failure = failure_of(answer(error(429, "rate_limited")), create)
    assert failure.retry_after == 17 and "17 s" in failure.message


@pytest.mark.parametrize("status_code", [401, 403])
def test_status_token_refused(status_code: int) -> None:
    failure = failure_of(answer(error(status_code, "wrong_status_token")), status)
    assert "status token" in failure.message


@pytest.mark.parametrize("response", [
    web.Response(status=500, text=SENTINEL),
    web.Response(status=502, text="<html>bad gateway</html>", content_type="text/html"),
])
def test_server_errors(response: web.Response) -> None:
    failure = failure_of(answer(response), lambda c: c.meta(SHARE_ID))
    assert "HTTP 5" in failure.message


@pytest.mark.parametrize("body", [
    {"id": SHARE_ID},  # fields missing
    {"id": SHARE_ID, "state": "pending", "needs_passphrase": "yes", "expires_at": "x", "views_left": 1,
     "header": "AA"},
    {"id": SHARE_ID, "state": "pending", "needs_passphrase": False, "expires_at": "x", "views_left": -1,
     "header": "AA"},
    {"id": SHARE_ID, "state": "pending", "needs_passphrase": False, "expires_at": "x", "views_left": 1,
     "header": "not base64!"},
])
def test_malformed_answers(body: dict[str, Any]) -> None:
    failure = failure_of(answer(web.json_response(body)), lambda c: c.meta(SHARE_ID))
    assert "cannot use" in failure.message


def test_not_json_at_all() -> None:
    failure = failure_of(answer(web.Response(text="hello")), lambda c: c.meta(SHARE_ID))
    assert "without a JSON body" in failure.message


def test_created_share_and_what_was_sent() -> None:
    async def handler(request: web.Request) -> web.StreamResponse:
        return web.json_response({"id": SHARE_ID, "status_token": TOKEN, "expires_at": "2026-01-01T00:00:00Z"},
                                 status=201)

    created, seen = run(with_relay(handler, create))
    assert created.status_token == TOKEN and TOKEN not in repr(created)
    assert seen[0].method == "POST" and seen[0].path == "/api/v1/secrets"
    assert seen[0].content_type == "application/json"


def test_status_sends_the_bearer_token_and_parses_reveals() -> None:
    body = {"id": SHARE_ID, "state": "revealed", "created_at": "c", "expires_at": "e", "ended_at": "z",
            "max_views": 1, "views_left": 0, "failed_attempts": 2, "blocked_attempts": 1,
            "needs_passphrase": True, "reveals": [{"at": "t", "from": "10.1.2.3"}]}
    result, seen = run(with_relay(answer(web.json_response(body)), status))
    assert seen[0].headers["Authorization"] == f"Bearer {TOKEN}"
    assert result.state == "revealed" and result.reveals[0].remote_addr == "10.1.2.3"
    assert result.failed_attempts == 2 and result.ended_at == "z"


def test_revoke_of_an_ended_share_reports_its_state() -> None:
    result, _ = run(with_relay(answer(error(410, "gone", state="revealed")), lambda c: c.revoke(SHARE_ID, TOKEN)))
    assert result == ("revealed", False)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_connection_refused_is_unreachable() -> None:
    async def go() -> LinkFailure:
        url = f"http://127.0.0.1:{free_port()}"
        async with RelayClient(url) as client:
            with pytest.raises(LinkFailure) as caught:
                await client.meta(SHARE_ID)
        assert url in caught.value.message
        return caught.value

    failure = run(go())
    assert failure.reason is Reason.SERVER_UNREACHABLE and failure.exit_code == ExitCode.SERVER_UNREACHABLE
    assert "unreachable at" in failure.message and "refused" in failure.message


def test_unknown_host_is_unreachable() -> None:
    async def go() -> LinkFailure:
        async with RelayClient("https://no-such-host.invalid") as client:
            with pytest.raises(LinkFailure) as caught:
                await client.meta(SHARE_ID)
        return caught.value

    failure = run(go())
    assert failure.reason is Reason.SERVER_UNREACHABLE and "cannot be resolved" in failure.message


def test_no_answer_in_time_is_unreachable() -> None:
    never = asyncio.Event()

    async def stall(request: web.Request) -> web.StreamResponse:
        await never.wait()
        raise AssertionError("unreachable")

    failure = failure_of(stall, lambda c: c.meta(SHARE_ID), read_timeout_s=0.3)
    assert failure.reason is Reason.SERVER_UNREACHABLE and "in time" in failure.message


def test_new_ids_never_read_as_options() -> None:
    from ots_desktop.channels.link import new_link_id

    ids = {b64u_encode(new_link_id()) for _ in range(3000)}
    assert len(ids) == 3000 and not any(i.startswith("-") for i in ids)
    assert all(parse_share_ref(i) == (None, i) for i in ids)


@pytest.mark.parametrize("url", ["http://192.0.2.1:8080", "http://ots.example.com", "http://[2001:db8::1]:80"])
def test_plain_http_off_loopback_is_refused_before_connecting(url: str) -> None:
    with pytest.raises(InputError) as caught:
        RelayClient(url)
    assert "on plain HTTP anyone on the path can read the key or swap the page" in caught.value.message


@pytest.mark.parametrize("url", ["http://127.0.0.1:4080", "http://127.9.9.9", "http://localhost:1", "http://[::1]:80"])
def test_plain_http_on_loopback_is_allowed(url: str) -> None:
    assert RelayClient(url).base_url == url


def test_unusable_ca_file_is_an_input_error(tmp_path: Path) -> None:
    bad = tmp_path / "ca.pem"
    bad.write_text("not a certificate\n")
    with pytest.raises(InputError) as caught:
        RelayClient("https://ots.example.com", ca_file=bad)
    assert str(bad) in caught.value.message
