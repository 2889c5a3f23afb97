"""Every API answer of a real relay process is kept out of caches and Referer headers, on SQLite and on Redis.

A reveal answer carries the envelope and a status answer says who opened a link when: a
browser or a caching proxy must not keep either, and no page may name them in a Referer.
That holds for every kind of answer: JSON and streamed envelopes, successes and errors, links
and secret requests.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from tests.support.relay import API, RelayClient, Reply, bearer, http_session, make_share, run_async, start_relay
from tests.support.secret_requests import REQUESTS, make_request

STREAM = "application/octet-stream"


def _private(headers: Mapping[str, str]) -> bool:
    return (headers.get("Cache-Control") == "no-store"
            and headers.get("Referrer-Policy") == "no-referrer"
            and headers.get("X-Content-Type-Options") == "nosniff")


async def _link_answers(client: RelayClient) -> list[tuple[str, int, Mapping[str, str]]]:
    share, other, streamed = make_share(b"headers canary"), make_share(b"second"), make_share(os.urandom(3000))
    created = await client.create(share)
    token = str(created.body["status_token"])
    second = await client.create(other)
    answers: list[tuple[str, Reply]] = [
        ("create", created), ("meta", await client.meta(share.id)), ("status", await client.status(share.id, token)),
        ("reveal", await client.reveal(share)), ("reveal again", await client.reveal(share)),
        ("revoke", await client.revoke(other.id, str(second.body["status_token"]))),
        ("unknown id", await client.meta("A" * 22)),
        ("malformed", await client.request("POST", API, json_body={"nonsense": True})),
        ("openapi", await client.request("GET", f"{API[:-len('/secrets')]}/openapi.json"))]
    seen = [(what, reply.status, reply.headers) for what, reply in answers]
    # The streamed create (PUT) and the streamed reveal, whose headers go out before the envelope.
    url = f"{client.base_url}{API}/{streamed.id}"
    put_headers = {"Content-Type": STREAM, "X-Ots-Auth-Hash": streamed.auth_hash,
                   "X-Ots-Link-Hash": str(streamed.link_hash)}
    async with client.session.put(url, data=streamed.envelope, headers=put_headers) as put:
        await put.read()
        seen.append(("streamed create", put.status, dict(put.headers)))
    async with client.session.post(f"{url}/reveal", json=streamed.reveal_body(), headers={"Accept": STREAM}) as got:
        assert got.content_type == STREAM and await got.read() == streamed.envelope
        seen.append(("streamed reveal", got.status, dict(got.headers)))
    return seen


async def _request_answers(client: RelayClient) -> list[tuple[str, int, Mapping[str, str]]]:
    req = make_request()
    created = await client.request("POST", REQUESTS, json_body=req.register_body())
    token = str(created.body["status_token"])
    answers = [
        ("request register", created), ("request meta", await client.request("GET", f"{REQUESTS}/{req.id}")),
        ("request answer", await client.request("POST", f"{REQUESTS}/{req.id}/answer",
                                                json_body=req.answer_body(req.seal(b"request canary")))),
        ("request open", await client.request("POST", f"{REQUESTS}/{req.id}/open",
                                              headers=bearer(token))),
        ("request open again", await client.request("POST", f"{REQUESTS}/{req.id}/open",
                                                    headers=bearer(token))),
        ("request malformed", await client.request("POST", REQUESTS, json_body={"nonsense": True}))]
    return [(what, reply.status, reply.headers) for what, reply in answers]


def test_every_api_answer_says_no_store_and_no_referrer(tmp_path: Path, relay_store: str) -> None:
    relay = start_relay(tmp_path, store=relay_store)

    async def scenario() -> list[tuple[str, int, Mapping[str, str]]]:
        async with http_session() as session:
            client = RelayClient(session, relay.url)
            return await _link_answers(client) + await _request_answers(client)

    try:
        seen = run_async(scenario())
    finally:
        relay.stop()
    # The answers are the ones meant (success and error alike), and every one is private.
    assert [(what, status) for what, status, _ in seen] == [
        ("create", 201), ("meta", 200), ("status", 200), ("reveal", 200), ("reveal again", 410), ("revoke", 200),
        ("unknown id", 404), ("malformed", 400), ("openapi", 200), ("streamed create", 201),
        ("streamed reveal", 200), ("request register", 201), ("request meta", 200), ("request answer", 201),
        ("request open", 200), ("request open again", 410), ("request malformed", 400)]
    assert [what for what, _, headers in seen if not _private(headers)] == []
