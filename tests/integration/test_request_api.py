"""The relay's request endpoints on real ``ots server`` processes (SQLite and a real Redis).

What an attacker can touch here: the relay itself (its store and logs), every HTTP header, and
the request id without the fragment. Each attack is played: the relay only ever holds
ciphertext and hashes, an id without the proof cannot answer or spend the request, a second
or replayed answer is refused, an answer sealed to another key or cut short is refused, and
only the status token's holder can fetch the answer, once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ots_desktop.core.ids import b64u_decode, b64u_encode
from ots_desktop.core.request_box import ANSWER_HEADER_LEN, open_answer
from ots_desktop.server.sqlite_writer import SCRUB_INTERVAL_S
from tests.support.processes import wait_until
from tests.support.redis_server import RedisServer
from tests.support.relay import FOREIGN_TOKEN, RelayClient, RelayProcess, bearer, http_session, run_async, start_relay
from tests.support.secret_requests import REQUESTS, make_request, other_link

CANARY = b"canary-request-answer-5d1c0e"


@pytest.fixture(params=["sqlite", "redis"])
def relay(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[RelayProcess]:
    store = "sqlite"
    if request.param == "redis":
        server: RedisServer = request.getfixturevalue("redis_server")
        store = request.getfixturevalue("redis_url")
        assert server.answers()
    process = start_relay(tmp_path, store=store)
    yield process
    process.stop()


def store_bytes(relay: RelayProcess, request: pytest.FixtureRequest) -> bytes:
    """Every byte the relay's store and log hold."""
    files = b"".join(p.read_bytes() for p in sorted(relay.data_dir.rglob("*")) if p.is_file())
    redis = b""
    if "redis" in request.node.callspec.id:
        redis = request.getfixturevalue("redis_server").dump_bytes()
    return files + redis + relay.log_text().encode()


def test_register_answer_once_open_once(relay: RelayProcess, request: pytest.FixtureRequest) -> None:
    req = make_request()
    answer = req.seal(CANARY)

    async def scenario() -> None:
        async with http_session() as session:
            client = RelayClient(session, relay.url)
            body = req.register_body(label_box=req.label_box("Vendor API key"))
            created = await client.request("POST", REQUESTS, json_body=body)
            assert created.status == 201, created.body
            token = created.body["status_token"]
            # The page and the metadata change nothing, with GET or HEAD.
            for method in ("GET", "HEAD"):
                page = await client.request(method, f"/r/{req.id}")
                assert page.status == 200
                assert "script-src 'self'" in page.headers["Content-Security-Policy"]
                assert (await client.request(method, f"{REQUESTS}/{req.id}")).status == 200
            meta = await client.request("GET", f"{REQUESTS}/{req.id}")
            assert req.open_label(meta.body["label_box"]) == "Vendor API key" and meta.body["state"] == "pending"
            assert "label" not in meta.body
            # The id alone (no proof, a wrong proof) cannot answer, and nothing is used up.
            no_proof = await client.request("POST", f"{REQUESTS}/{req.id}/answer",
                                            json_body={"answer": b64u_encode(answer)})
            assert no_proof.status == 400 and no_proof.code == "request_proof_required"
            wrong = await client.request("POST", f"{REQUESTS}/{req.id}/answer",
                                         json_body=req.answer_body(answer, proof=FOREIGN_TOKEN))
            assert wrong.status == 401 and "nothing was stored" in wrong.body["error"]
            # Sealed to another request's key, or cut short: refused, nothing used up.
            foreign = req.seal(CANARY, public_key=other_link().public_key)
            refused = await client.request("POST", f"{REQUESTS}/{req.id}/answer", json_body=req.answer_body(foreign))
            assert refused.status == 400 and "different request's key" in refused.body["error"]
            cut = await client.request("POST", f"{REQUESTS}/{req.id}/answer",
                                       json_body=req.answer_body(answer[:ANSWER_HEADER_LEN + 60]))
            assert cut.status == 400 and "cut short" in cut.body["error"]
            status = await client.request("GET", f"{REQUESTS}/{req.id}/status", headers=bearer(token))
            assert status.body["state"] == "pending" and status.body["refused_answers"] == 0
            assert (await client.request("POST", f"{REQUESTS}/{req.id}/open", headers=bearer(token))).status == 409
            # The answer, then a second and a replayed one, both refused clearly.
            first = await client.request("POST", f"{REQUESTS}/{req.id}/answer", json_body=req.answer_body(answer))
            assert first.status == 201, first.body
            for body in (req.answer_body(req.seal(b"second")), req.answer_body(answer)):
                again = await client.request("POST", f"{REQUESTS}/{req.id}/answer", json_body=body)
                assert again.status == 409 and again.code == "already_answered"
                assert "already answered" in again.body["error"]
            status = await client.request("GET", f"{REQUESTS}/{req.id}/status", headers=bearer(token))
            assert status.body["state"] == "answered" and status.body["refused_answers"] == 2
            assert status.body["answered_from"] == "127.0.0.1"
            # Only the status token's holder fetches it, once.
            assert (await client.request("POST", f"{REQUESTS}/{req.id}/open", headers=bearer(FOREIGN_TOKEN))
                    ).status == 403
            opened = await client.request("POST", f"{REQUESTS}/{req.id}/open", headers=bearer(token))
            assert opened.status == 200, opened.body
            with open_answer(b64u_decode(opened.body["answer"]), request_id=req.id_raw,
                             private_key=req.private_buffer()) as secret:
                assert bytes(secret.plaintext.view()) == CANARY
            gone = await client.request("POST", f"{REQUESTS}/{req.id}/open", headers=bearer(token))
            assert gone.status == 410 and gone.body["state"] == "opened"
            assert (await client.request("GET", f"{REQUESTS}/{req.id}")).status == 410

    run_async(scenario())
    # The WAL is truncated before the answer, or within SCRUB_INTERVAL_S of it when a scrub (the
    # relay's sweep) ran just before (docs/operators.md, "What each store keeps").
    wait_until(lambda: answer not in store_bytes(relay, request), timeout=SCRUB_INTERVAL_S + 4.0,
               what="the answer scrubbed from the store's files")
    held = store_bytes(relay, request)
    assert answer not in held and CANARY not in held
    for secret in (req.private_key, req.fragment.encode(), req.proof.encode(), req.public_key):
        assert secret not in held


def test_revoked_and_refused_network(relay: RelayProcess) -> None:
    req, fenced = make_request(), make_request()

    async def scenario() -> None:
        async with http_session() as session:
            client = RelayClient(session, relay.url)
            token = (await client.request("POST", REQUESTS, json_body=req.register_body())).body["status_token"]
            assert (await client.request("DELETE", f"{REQUESTS}/{req.id}", headers=bearer(FOREIGN_TOKEN))
                    ).status == 403
            revoked = await client.request("DELETE", f"{REQUESTS}/{req.id}", headers=bearer(token))
            assert revoked.status == 200 and revoked.body["state"] == "revoked"
            late = await client.request("POST", f"{REQUESTS}/{req.id}/answer",
                                        json_body=req.answer_body(req.seal(CANARY)))
            assert late.status == 410 and "withdrew" in late.body["error"]
            created = await client.request("POST", REQUESTS, json_body=fenced.register_body(
                allow_cidrs=["10.0.0.0/8"]))
            blocked = await client.request("POST", f"{REQUESTS}/{fenced.id}/answer",
                                           json_body=fenced.answer_body(fenced.seal(CANARY)))
            assert blocked.status == 403 and blocked.code == "forbidden_network"
            status = await client.request("GET", f"{REQUESTS}/{fenced.id}/status",
                                          headers=bearer(created.body["status_token"]))
            assert status.body["blocked_attempts"] == 1 and status.body["state"] == "pending"

    run_async(scenario())


def test_bad_registrations_are_refused(relay: RelayProcess) -> None:
    req = make_request()

    async def scenario() -> None:
        async with http_session() as session:
            client = RelayClient(session, relay.url)
            for body, word in ((req.register_body(label_box="A" * 1201), "label_box"),
                               (req.register_body(label_box="Vendor API key"), "label_box"),
                               (req.register_body(label="Vendor API key"), "unknown fields: label"),
                               (req.register_body(expires_in=1), "expires_in"),
                               ({**req.register_body(), "private_key": "x"}, "unknown fields"),
                               (req.register_body(proof_hash="00"), "proof_hash")):
                reply = await client.request("POST", REQUESTS, json_body=body)
                assert reply.status == 400 and word in reply.body["error"], reply.body

    run_async(scenario())


def test_two_relay_processes_on_one_redis_take_exactly_one_answer(tmp_path: Path, redis_url: str) -> None:
    req = make_request()
    first, second = start_relay(tmp_path, name="a", store=redis_url), start_relay(tmp_path, name="b", store=redis_url)
    try:
        async def scenario() -> tuple[list[int], dict[str, Any]]:
            async with http_session() as session:
                a, b = RelayClient(session, first.url), RelayClient(session, second.url)
                token = (await a.request("POST", REQUESTS, json_body=req.register_body())).body["status_token"]
                answers = [req.answer_body(req.seal(b"answer %d" % n)) for n in range(16)]
                replies = await asyncio.gather(*(
                    (a if n % 2 else b).request("POST", f"{REQUESTS}/{req.id}/answer", json_body=body)
                    for n, body in enumerate(answers)))
                status = await b.request("GET", f"{REQUESTS}/{req.id}/status", headers=bearer(token))
                return sorted(reply.status for reply in replies), status.body

        statuses, status = run_async(scenario())
        assert statuses == [201] + [409] * 15
        assert status["state"] == "answered" and status["refused_answers"] == 15
    finally:
        first.stop()
        second.stop()


def test_a_forged_key_hash_passes_the_relay_but_the_requester_refuses_it(tmp_path: Path) -> None:
    """Someone with the whole link swaps in their own key hash over an answer sealed to another key."""
    from ots_desktop.core.errors import EnvelopeError

    req = make_request()
    forged = req.seal(CANARY, public_key=other_link().public_key)
    forged = forged[:8] + bytes.fromhex(req.key_hash) + forged[40:]
    relay = start_relay(tmp_path)
    try:
        async def scenario() -> bytes:
            async with http_session() as session:
                client = RelayClient(session, relay.url)
                token = (await client.request("POST", REQUESTS, json_body=req.register_body())).body["status_token"]
                posted = await client.request("POST", f"{REQUESTS}/{req.id}/answer", json_body=req.answer_body(forged))
                assert posted.status == 201, posted.body
                opened = await client.request("POST", f"{REQUESTS}/{req.id}/open", headers=bearer(token))
                return b64u_decode(opened.body["answer"])

        fetched = run_async(scenario())
    finally:
        relay.stop()
    with pytest.raises(EnvelopeError, match="not sealed to this request's key"):
        open_answer(fetched, request_id=req.id_raw, private_key=req.private_buffer())


def test_a_truncated_upload_stores_nothing_and_the_request_stays_answerable(relay: RelayProcess) -> None:
    """The connection drops half-way through an answer's body: nothing is stored or used up."""
    import json as jsonlib
    from urllib.parse import urlsplit

    req = make_request()
    body = jsonlib.dumps(req.answer_body(req.seal(CANARY))).encode()

    async def scenario() -> tuple[str, int]:
        async with http_session() as session:
            client = RelayClient(session, relay.url)
            token = (await client.request("POST", REQUESTS, json_body=req.register_body())).body["status_token"]
            where = urlsplit(relay.url)
            reader, writer = await asyncio.open_connection(where.hostname, where.port)
            writer.write(f"POST {REQUESTS}/{req.id}/answer HTTP/1.1\r\nHost: {where.netloc}\r\nContent-Type: "
                         f"application/json\r\nContent-Length: {len(body)}\r\n\r\n".encode() + body[: len(body) // 2])
            await writer.drain()
            writer.close()
            await writer.wait_closed()
            del reader
            status = await client.request("GET", f"{REQUESTS}/{req.id}/status", headers=bearer(token))
            whole = await client.request("POST", f"{REQUESTS}/{req.id}/answer", json_body=req.answer_body(
                req.seal(CANARY)))
            return status.body["state"], whole.status

    assert run_async(scenario()) == ("pending", 201)
