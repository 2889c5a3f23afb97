"""Both stores keep the link proof hash of a share, and a SQLite store made before link proofs
existed opens, gains the column, and still serves the shares it holds."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import sqlite3
from pathlib import Path

import pytest

from ots_desktop.server.link_model import LinkStore, NewSecret, RevealOutcome, SecretState
from ots_desktop.server.store_redis import RedisStore
from ots_desktop.server.store_sqlite import SqliteStore

NOW = 2_000_000_000.0
# The secrets table as stores were created before link proofs.
OLD_SCHEMA = """
CREATE TABLE secrets (
    id TEXT PRIMARY KEY, state TEXT NOT NULL, header BLOB NOT NULL, needs_passphrase INTEGER NOT NULL,
    auth_hash TEXT NOT NULL, status_hash TEXT NOT NULL, created_at REAL NOT NULL, expires_at REAL NOT NULL,
    max_views INTEGER NOT NULL, views_left INTEGER NOT NULL, failed_attempts INTEGER NOT NULL DEFAULT 0,
    blocked_attempts INTEGER NOT NULL DEFAULT 0, allow_cidrs TEXT NOT NULL DEFAULT '[]',
    reveals TEXT NOT NULL DEFAULT '[]', ended_at REAL
);
CREATE INDEX secrets_by_expiry ON secrets (state, expires_at);
CREATE TABLE envelopes (id TEXT PRIMARY KEY, data BLOB NOT NULL);
"""


def _hash(raw: bytes) -> str:
    return hashlib.sha256(raw).hexdigest()


def _secret(share_id: str, link_hash: str = "") -> NewSecret:
    return NewSecret(id=share_id, envelope=b"ciphertext " + os.urandom(32), header=os.urandom(44),
                     needs_passphrase=False, auth_hash=_hash(b"auth " + share_id.encode()),
                     status_hash=_hash(b"status"), created_at=NOW, expires_at=NOW + 3600, max_views=1,
                     link_hash=link_hash)


@pytest.mark.parametrize("kind", ["sqlite", "redis"])
def test_the_link_hash_round_trips_and_defaults_to_none(kind: str, tmp_path: Path,
                                                        request: pytest.FixtureRequest) -> None:
    async def main() -> None:
        store: LinkStore
        if kind == "sqlite":
            store = await SqliteStore.open(tmp_path / "links.sqlite3")
        else:
            store = await RedisStore.connect(str(request.getfixturevalue("redis_url")))
        try:
            with_proof, without = _secret("A" * 22, _hash(b"proof")), _secret("B" * 22)
            assert await store.create(with_proof) and await store.create(without)
            first, second = await store.info(with_proof.id, NOW), await store.info(without.id, NOW)
            assert first is not None and first.link_hash == _hash(b"proof")
            assert second is not None and second.link_hash == ""
        finally:
            await store.close()

    asyncio.run(main())


def test_a_store_made_before_link_proofs_opens_and_serves_its_shares(tmp_path: Path) -> None:
    path = tmp_path / "links.sqlite3"
    old = _secret("C" * 22)
    with sqlite3.connect(path) as conn:
        conn.executescript(OLD_SCHEMA)
        conn.execute("INSERT INTO secrets (id, state, header, needs_passphrase, auth_hash, status_hash, created_at,"
                     " expires_at, max_views, views_left, allow_cidrs) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                     (old.id, "pending", old.header, 0, old.auth_hash, old.status_hash, old.created_at,
                      old.expires_at, 1, 1, json.dumps([])))
        conn.execute("INSERT INTO envelopes (id, data) VALUES (?, ?)", (old.id, old.envelope))
    conn.close()

    async def main() -> None:
        store = await SqliteStore.open(path)
        try:
            info = await store.info(old.id, NOW)
            assert info is not None and info.state is SecretState.PENDING and info.link_hash == ""
            new = _secret("D" * 22, _hash(b"new proof"))
            assert await store.create(new)
            assert (await store.info(new.id, NOW)).link_hash == _hash(b"new proof")  # type: ignore[union-attr]
            result = await store.reveal(old.id, old.auth_hash, "192.0.2.1", NOW)
            assert result.outcome is RevealOutcome.REVEALED and result.envelope == old.envelope
        finally:
            await store.close()

    asyncio.run(main())
    # Opening it again finds the column there and changes nothing.
    asyncio.run(_reopen(path))


async def _reopen(path: Path) -> None:
    store = await SqliteStore.open(path)
    try:
        info = await store.info("D" * 22, NOW)
        assert info is not None and info.link_hash == _hash(b"new proof")
    finally:
        await store.close()
