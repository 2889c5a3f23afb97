"""A link's secrets never reach the relay's store or log.

A real relay (on SQLite, then on Redis) runs a whole flow: create, look, status, a wrong
passphrase, reveal, revoke, with and without a passphrase, for shares whose plaintext is the
canary. Then the SQLite file with its WAL, every Redis key and value, and the relay's stderr
log are searched for the plaintext (every encoding ``tests.support.canary`` knows), the
fragment keys and auth tokens (raw and base64url), the status tokens and the passphrase.
The ciphertext is expected in the store while a share is pending, and is found there: that
shows the search sees the store's contents.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import pytest

from ots_desktop.core.ids import b64u_decode
from tests.conftest import CANARY
from tests.support.canary import files_under, find_canary
from tests.support.redis_server import RedisServer
from tests.support.relay import (
    RelayClient,
    RelayProcess,
    Share,
    http_session,
    make_share,
    relays,
    run_async,
    wrong_auth_token,
)

PASSPHRASE = "canary passphrase 5c1d"


@dataclass
class Flow:
    """The flow's shares and the status tokens the relay issued for them."""

    plain: Share
    protected: Share
    revoked: Share
    status_tokens: dict[str, str]

    @property
    def shares(self) -> list[Share]:
        return [self.plain, self.protected, self.revoked]


async def _create(url: str) -> Flow:
    flow = Flow(make_share(CANARY), make_share(CANARY, passphrase=PASSPHRASE), make_share(CANARY), {})
    async with http_session() as session:
        client = RelayClient(session, url)
        for share in flow.shares:
            created = await client.create(share, expires_in=600, max_views=2 if share is flow.plain else 1)
            assert created.status == 201, created.body
            flow.status_tokens[share.id] = created.body["status_token"]
            meta = await client.meta(share.id)
            assert meta.status == 200 and meta.body["needs_passphrase"] is (share.passphrase is not None)
    return flow


async def _use(url: str, flow: Flow) -> None:
    async with http_session() as session:
        client = RelayClient(session, url)
        wrong = await client.reveal(flow.protected, wrong_auth_token())
        assert wrong.status == 401 and wrong.body["attempts_left"] == 4, wrong.body
        for share in (flow.plain, flow.plain, flow.protected):
            revealed = await client.reveal(share)
            assert revealed.status == 200, revealed.body
            assert await asyncio.to_thread(share.open, revealed.body["envelope"]) == CANARY
        revoked = await client.revoke(flow.revoked.id, flow.status_tokens[flow.revoked.id])
        assert revoked.status == 200 and revoked.body["state"] == "revoked", revoked.body
        for share in flow.shares:
            status = await client.status(share.id, flow.status_tokens[share.id])
            assert status.status == 200 and status.body["state"] != "pending", status.body
            gone = await client.reveal(share)
            assert gone.status == 410, gone.body


def _secret_forms(flow: Flow) -> dict[str, bytes]:
    """Everything that must never reach the relay, in the forms it could take there."""
    forms = {"passphrase": PASSPHRASE.encode()}
    for n, share in enumerate(flow.shares):
        token = flow.status_tokens[share.id]
        forms |= {f"share {n} fragment key (raw)": share.fragment_key,
                  f"share {n} fragment key (b64u)": share.fragment_key_b64u.encode(),
                  f"share {n} auth token (raw)": share.auth_token_raw,
                  f"share {n} auth token (b64u)": share.auth_token.encode(),
                  f"share {n} link proof (b64u)": str(share.link_proof).encode(),
                  f"share {n} link proof (raw)": b64u_decode(str(share.link_proof)),
                  f"share {n} status token (b64u)": token.encode(),
                  f"share {n} status token (raw)": b64u_decode(token)}  # fmt: skip
    return forms


def _find(paths: Iterable[Path], forms: dict[str, bytes]) -> list[str]:
    hits = []
    for path in paths:
        data = path.read_bytes()
        hits += [f"{path}: {name}" for name, form in forms.items() if form in data]
    return hits


def _leaks(roots: list[Path], flow: Flow) -> list[str]:
    return find_canary(roots, CANARY) + _find(files_under(roots), _secret_forms(flow))


def _snapshot(relay: RelayProcess, redis: RedisServer | None, into: Path) -> list[Path]:
    """The places to search now: the relay's directory (data dir, log) and a dump of Redis."""
    into.mkdir()
    if redis is not None:
        (into / "redis-dump.bin").write_bytes(redis.dump_bytes())
    return [relay.log_path.parent, into]


@pytest.mark.parametrize("store", ["sqlite", "redis"])
def test_no_key_token_or_plaintext_reaches_the_store_or_the_log(tmp_path: Path, request: pytest.FixtureRequest,
                                                               store: str) -> None:
    redis: RedisServer | None = None
    store_url = "sqlite"
    if store == "redis":
        store_url = request.getfixturevalue("redis_url")
        redis = request.getfixturevalue("redis_server")
    with relays(tmp_path / "relay", store=store_url) as (relay,):
        flow = run_async(_create(relay.url))
        pending = _snapshot(relay, redis, tmp_path / "pending")
        stored = [p for p in files_under(pending) if p.name != relay.log_path.name]
        assert stored, "nothing to search: the store left no trace"
        assert _find(stored, {"ciphertext": flow.plain.envelope[-64:]}), "the search does not see the store"
        assert _leaks(pending, flow) == []
        if store == "sqlite":
            names = {p.name for p in files_under([relay.data_dir])}
            assert {"links.sqlite3", "links.sqlite3-wal"} <= names, names
        run_async(_use(relay.url, flow))
        ended = _snapshot(relay, redis, tmp_path / "ended")
        assert _leaks(ended, flow) == []
    # Stopped: the WAL is checkpointed into the file and the log is complete.
    assert _leaks([relay.log_path.parent], flow) == []
    log = relay.log_text()
    assert "POST /api/v1/secrets/{id}/reveal 200" in log, log
    leaked_ids = [share.id for share in flow.shares if share.id in log]
    assert leaked_ids == [], "the access log holds share ids"
