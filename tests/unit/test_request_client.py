"""The request client facing a relay that misbehaves (a small aiohttp application on loopback), and request
links parsed strictly. The real relay is exercised in tests/integration/test_request_cli.py."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

import pytest
from aiohttp import web

from ots_desktop.channels.link_errors import LinkFailure
from ots_desktop.channels.request_client import RequestClient
from ots_desktop.channels.request_flow import parse_request_link
from ots_desktop.core.audit.events import Reason
from ots_desktop.core.errors import InputError
from ots_desktop.core.ids import b64u_encode

T = TypeVar("T")
REQUEST_ID = b64u_encode(bytes(range(16)))
FRAGMENT = b64u_encode(bytes(range(64)))


def run(coro: Coroutine[Any, Any, T]) -> T:
    with asyncio.Runner(loop_factory=asyncio.new_event_loop) as runner:
        return runner.run(coro)


async def with_relay(answer: dict[str, Any], status: int, call: Any) -> Any:
    async def handler(request: web.Request) -> web.Response:
        return web.json_response(answer, status=status)

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        async with RequestClient(f"http://127.0.0.1:{runner.addresses[0][1]}") as client:
            return await call(client)
    finally:
        await runner.cleanup()


def test_the_relay_hands_out_the_sealed_label_only() -> None:
    body = {"id": REQUEST_ID, "state": "pending", "label_box": "AQID", "expires_at": "x", "max_size": 10}
    meta = run(with_relay(body, 200, lambda client: client.request_meta(REQUEST_ID)))
    assert (meta.label_box, meta.label) == ("AQID", "")
    del body["label_box"]
    assert run(with_relay(body, 200, lambda client: client.request_meta(REQUEST_ID))).label_box == ""


@pytest.mark.parametrize(("status", "answer", "reason", "words"), [
    (409, {"code": "already_answered"}, Reason.SECOND_ANSWER, "already answered"),
    (410, {"state": "revoked"}, Reason.REVOKED, "withdrew"),
    (410, {"state": "expired"}, Reason.EXPIRED, "expired"),
    (401, {"code": "wrong_request_proof"}, Reason.DAMAGED, "damaged"),
    (403, {"code": "forbidden_network"}, Reason.BLOCKED_NETWORK, "network"),
])
def test_each_refused_answer_says_why(status: int, answer: dict[str, Any], reason: Reason, words: str) -> None:
    from ots_desktop.core.secret import SecretBuffer

    async def post(client: RequestClient) -> None:
        await client.answer(REQUEST_ID, SecretBuffer(bytes(32)), b"OTSA")

    with pytest.raises(LinkFailure) as caught:
        run(with_relay(answer, status, post))
    assert caught.value.reason is reason and words in caught.value.message


def test_request_links_are_parsed_strictly() -> None:
    base, request_id, link = parse_request_link(f" https://relay.example/ots/r/{REQUEST_ID}#{FRAGMENT} ")
    assert (base, request_id, link.public_key) == ("https://relay.example/ots", REQUEST_ID, bytes(range(32)))
    for bad, words in ((f"https://relay.example/s/{REQUEST_ID}#{FRAGMENT}", "not an ots request link"),
                       (f"https://relay.example/r/{REQUEST_ID}", "no key"),
                       (f"https://relay.example/r/abc#{FRAGMENT}", "damaged"),
                       (f"https://relay.example/r/{REQUEST_ID}?x=1#{FRAGMENT}", "not an ots request link"),
                       (f"https://relay.example/r/{REQUEST_ID}#{FRAGMENT[:-2]}", "86 base64url")):
        with pytest.raises(InputError, match=words):
            parse_request_link(bad)
