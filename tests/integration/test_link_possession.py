"""Only a client holding a link's key can spend its attempts: real relay processes, on SQLite and on Redis.

A share id alone shows up in proxy logs, exports and browser histories. The relay now asks a
reveal to carry the link proof (derived from the key in the link's fragment) before it counts
anything: without it, or with a wrong one, the answer is a refusal that changes nothing. With
it, a wrong auth token (a wrong passphrase) still counts, and the fifth burns the share.
Shares parked without a link proof hash, as clients did before, keep working as they did.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

from ots_desktop.core.ids import b64u_encode
from tests.support.cli import run_ots
from tests.support.redis_server import RedisServer
from tests.support.relay import (
    API,
    RelayClient,
    Reply,
    Share,
    http_session,
    make_share,
    relays,
    run_async,
    wrong_auth_token,
)

PASSPHRASE = "correct horse battery staple"
SECRET = b"possession test secret"
PROBES = 50


@pytest.fixture(params=["sqlite", "redis"])
def store(request: pytest.FixtureRequest) -> str:
    """The store URL each relay process gets."""
    return "sqlite" if request.param == "sqlite" else str(request.getfixturevalue("redis_url"))


async def _park(client: RelayClient, share: Share) -> str:
    created = await client.create(share, expires_in=600)
    assert created.status == 201, created.body
    return str(created.body["status_token"])


async def _counters(client: RelayClient, share: Share, token: str) -> tuple[str, int, int]:
    status = await client.status(share.id, token)
    assert status.status == 200, status.body
    return status.body["state"], status.body["failed_attempts"], status.body["views_left"]


async def _without_the_key(client: RelayClient, share: Share, n: int) -> Reply:
    """A reveal from someone who has the id (and maybe even the auth token) but not the key."""
    body: dict[str, str] = {"auth_token": share.auth_token if n % 2 else wrong_auth_token()}
    if n % 5:
        body["link_proof"] = b64u_encode(os.urandom(32))
    return await client.request("POST", f"{API}/{share.id}/reveal", json_body=body)


def test_fifty_reveals_without_the_key_burn_nothing_and_count_nothing(tmp_path: Path, store: str) -> None:
    shares = [make_share(SECRET), make_share(SECRET, passphrase=PASSPHRASE)]

    async def scenario(url: str) -> None:
        async with http_session() as session:
            client = RelayClient(session, url)
            tokens = [await _park(client, share) for share in shares]
            for share, token in zip(shares, tokens, strict=True):
                meta = await client.meta(share.id)
                assert meta.status == 200 and meta.body["needs_link_proof"] is True, meta.body
                replies = await asyncio.gather(*(_without_the_key(client, share, n) for n in range(PROBES)))
                seen = {(r.status, r.code) for r in replies}
                assert seen == {(400, "link_proof_required"), (401, "wrong_link")}, seen
                assert all("attempts_left" not in r.body for r in replies)
                assert await _counters(client, share, token) == ("pending", 0, 1)
                opened = await client.reveal(share)
                assert opened.status == 200, opened.body
                assert await asyncio.to_thread(share.open, opened.body["envelope"]) == SECRET
            assert await client.metric("ots_relay_reveals_total", outcome="wrong_link") == 2 * PROBES
            assert await client.metric("ots_relay_reveals_total", outcome="wrong_token") == 0

    with relays(tmp_path, store=store) as (relay,):
        run_async(scenario(relay.url))


def test_five_wrong_passphrases_with_the_key_burn(tmp_path: Path, store: str) -> None:
    share = make_share(SECRET, passphrase=PASSPHRASE)

    async def scenario(url: str) -> None:
        async with http_session() as session:
            client = RelayClient(session, url)
            token = await _park(client, share)
            left = []
            for _ in range(4):
                wrong = await client.reveal(share, wrong_auth_token())
                assert (wrong.status, wrong.code) == (401, "wrong_auth"), wrong.body
                left.append(wrong.body["attempts_left"])
            assert left == [4, 3, 2, 1]
            assert await _counters(client, share, token) == ("pending", 4, 1)
            last = await client.reveal(share, wrong_auth_token())
            assert (last.status, last.body.get("state")) == (410, "burned"), last.body
            right = await client.reveal(share)
            assert (right.status, right.body.get("state")) == (410, "burned"), right.body
            assert (await _counters(client, share, token))[:2] == ("burned", 5)

    with relays(tmp_path, store=store) as (relay,):
        run_async(scenario(relay.url))


def test_a_share_parked_without_a_link_proof_opens_and_burns_as_before(
        tmp_path: Path, store: str, request: pytest.FixtureRequest) -> None:
    plain, locked = make_share(SECRET, legacy=True), make_share(SECRET, passphrase=PASSPHRASE, legacy=True)

    async def scenario(url: str) -> None:
        async with http_session() as session:
            client = RelayClient(session, url)
            token = await _park(client, plain)
            locked_token = await _park(client, locked)
            if store != "sqlite":
                # As a record written before link proofs: the field does not exist at all.
                redis: RedisServer = request.getfixturevalue("redis_server")
                for share in (plain, locked):
                    assert redis.client().hdel(f"ots:secret:{share.id}", "link_hash") == 1
            for share in (plain, locked):
                meta = await client.meta(share.id)
                assert meta.status == 200 and meta.body["needs_link_proof"] is False, meta.body
            # A client that sends a link proof anyway is judged on the auth token alone.
            stray = {"auth_token": plain.auth_token, "link_proof": b64u_encode(os.urandom(32))}
            opened = await client.request("POST", f"{API}/{plain.id}/reveal", json_body=stray)
            assert opened.status == 200, opened.body
            assert await asyncio.to_thread(plain.open, opened.body["envelope"]) == SECRET
            assert (await _counters(client, plain, token))[0] == "revealed"
            codes = [(await client.reveal(locked, wrong_auth_token())).status for _ in range(5)]
            assert codes == [401, 401, 401, 401, 410]
            assert (await _counters(client, locked, locked_token))[:2] == ("burned", 5)

    with relays(tmp_path, store=store) as (relay,):
        run_async(scenario(relay.url))


# ---------------------------------------------------------------- the real clients


def _receive(link: str, *args: str) -> str:
    result = run_ots("receive", *args, stdin=link.encode())
    assert result.returncode == 0, result
    return result.stdout


@pytest.mark.usefixtures("keychain")
def test_ots_send_registers_a_link_proof_and_ots_receive_opens_both_kinds(tmp_path: Path, store: str) -> None:
    with relays(tmp_path, store=store) as (relay,):
        sent = run_ots("send", "--via", "link", "--relay", relay.url, stdin=SECRET)
        assert sent.returncode == 0, sent
        link = sent.stdout.strip()
        share_id = link.rpartition("/s/")[2].partition("#")[0]

        async def probe() -> None:
            async with http_session() as session:
                client = RelayClient(session, relay.url)
                meta = await client.meta(share_id)
                assert meta.body["needs_link_proof"] is True, meta.body
                for _ in range(10):
                    refused = await client.reveal(share_id, wrong_auth_token())
                    assert (refused.status, refused.code) == (400, "link_proof_required"), refused.body
                assert (await client.meta(share_id)).body["views_left"] == 1

        run_async(probe())
        assert _receive(link).encode() == SECRET

        legacy = make_share(b"parked the old way", legacy=True)

        async def park_legacy() -> None:
            async with http_session() as session:
                await _park(RelayClient(session, relay.url), legacy)

        run_async(park_legacy())
        old_link = f"{relay.url}/s/{legacy.id}#{legacy.fragment_key_b64u}"
        assert _receive(old_link) == "parked the old way"
