"""Every API answer of a real relay process is kept out of caches and Referer headers.

A reveal answer carries the envelope and a status answer says who opened a link when: a
browser or a caching proxy must not keep either, and no page may name them in a Referer.
"""

from __future__ import annotations

from pathlib import Path

from tests.support.relay import API, RelayClient, Reply, http_session, make_share, run_async, start_relay


def _private(reply: Reply) -> bool:
    return (reply.headers.get("Cache-Control") == "no-store"
            and reply.headers.get("Referrer-Policy") == "no-referrer"
            and reply.headers.get("X-Content-Type-Options") == "nosniff")


def test_every_api_answer_says_no_store_and_no_referrer(tmp_path: Path) -> None:
    relay = start_relay(tmp_path)
    share, other = make_share(b"headers canary"), make_share(b"second")

    async def scenario() -> list[tuple[str, int, bool]]:
        async with http_session() as session:
            client = RelayClient(session, relay.url)
            created = await client.create(share)
            token = str(created.body["status_token"])
            second = await client.create(other)
            answers = [("create", created), ("meta", await client.meta(share.id)),
                       ("status", await client.status(share.id, token)),
                       ("reveal", await client.reveal(share)),
                       ("reveal again", await client.reveal(share)),
                       ("revoke", await client.revoke(other.id, str(second.body["status_token"]))),
                       ("unknown id", await client.meta("A" * 22)),
                       ("malformed", await client.request("POST", API, json_body={"nonsense": True})),
                       ("openapi", await client.request("GET", f"{API[:-len('/secrets')]}/openapi.json"))]
            return [(what, reply.status, _private(reply)) for what, reply in answers]

    try:
        seen = run_async(scenario())
    finally:
        relay.stop()
    # The answers are the ones meant (success and error alike), and every one is private.
    assert [status for _what, status, _ok in seen] == [201, 200, 200, 200, 410, 200, 404, 400, 200], seen
    assert all(ok for _what, _status, ok in seen), seen
