"""What a store keeps of an envelope once its share has ended (docs/operators.md, "What each store keeps").

SQLite: a real relay process answers a reveal, a burn or a revocation, and then the database
file, its ``-wal`` and its ``-shm`` are searched for the envelope's ciphertext: it must be in none
of them (``secure_delete`` zeroes the freed pages, and the writer checkpoints and truncates the
WAL: before the answer when the store's previous scrub is SCRUB_INTERVAL_S old, else within
SCRUB_INTERVAL_S of the answer). Shares still pending are found by the same search, which shows
that it sees the store's contents.

Redis keeps nothing in memory after the reveal, but an append-only file keeps every write until
it is rewritten: the test shows the ciphertext there after the reveal and gone after
``BGREWRITEAOF``, the step the operators' guide tells persistent relays to schedule.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Iterable
from pathlib import Path

from ots_desktop.core.envelope import HEADER_LEN
from ots_desktop.server.link_model import NewSecret, RevealOutcome
from ots_desktop.server.sqlite_writer import SCRUB_INTERVAL_S
from ots_desktop.server.store_sqlite import SqliteStore
from tests.support.processes import wait_until
from tests.support.redis_server import start_redis
from tests.support.relay import RelayClient, Share, http_session, make_share, relays, run_async, wrong_auth_token

PASSPHRASE = "remnant test passphrase"
SQLITE_FILES = ("links.sqlite3", "links.sqlite3-wal", "links.sqlite3-shm")
REWRITE_TIMEOUT_S = 30.0
# The scrub is due SCRUB_INTERVAL_S after the previous one; this machine's other work may delay it a little.
SCRUB_SLACK_S = 4.0


def _pieces(envelope: bytes) -> dict[str, bytes]:
    """Stretches of ciphertext from the meta chunk, the middle and the end (never the public header,
    which the share's record keeps until it is forgotten)."""
    middle = (HEADER_LEN + len(envelope)) // 2
    return {"meta chunk": envelope[HEADER_LEN:HEADER_LEN + 48], "middle": envelope[middle:middle + 48],
            "end": envelope[-48:]}


def _whole(files: Iterable[Path], envelope: bytes) -> bool:
    """Whether every stretch of ``envelope`` is in one of ``files`` (the search sees the store)."""
    found = {hit.partition(": ")[2] for hit in _found(files, envelope)}
    return found == set(_pieces(envelope))


def _found(files: Iterable[Path], envelope: bytes) -> list[str]:
    hits = []
    for path in files:
        data = path.read_bytes() if path.exists() else b""
        hits += [f"{path.name}: {name}" for name, piece in _pieces(envelope).items() if piece in data]
    return hits


def test_sqlite_keeps_no_ciphertext_once_a_share_has_ended(tmp_path: Path) -> None:
    big = make_share(os.urandom(300_000))  # spills into overflow pages
    small = make_share(b"a small canary secret")
    twice = make_share(b"opened twice")
    locked = make_share(b"burned canary", passphrase=PASSPHRASE)
    revoked = make_share(b"revoked canary")
    waiting = make_share(b"still pending")

    with relays(tmp_path, store="sqlite") as (relay,):
        files = [relay.data_dir / name for name in SQLITE_FILES]

        def assert_gone(share: Share) -> None:
            wait_until(lambda: _found(files, share.envelope) == [], timeout=SCRUB_INTERVAL_S + SCRUB_SLACK_S,
                       what="the WAL to be scrubbed of an ended share's ciphertext")

        async def scenario() -> None:
            async with http_session() as session:
                client = RelayClient(session, relay.url)
                tokens = {}
                for share in (big, small, twice, locked, revoked, waiting):
                    created = await client.create(share, max_views=2 if share is twice else 1)
                    assert created.status == 201, created.body
                    tokens[share.id] = created.body["status_token"]
                for share in (big, small, twice, locked, revoked, waiting):
                    assert _whole(files, share.envelope), "the search does not see the store"
                for share in (big, small):
                    opened = await client.reveal(share)
                    assert opened.status == 200 and opened.body["views_left"] == 0, opened.body
                    assert_gone(share)
                first = await client.reveal(twice)
                assert first.status == 200 and first.body["views_left"] == 1
                assert _whole(files, twice.envelope), "a share with a view left keeps its envelope"
                assert (await client.reveal(twice)).status == 200
                assert_gone(twice)
                for _ in range(5):
                    last = await client.reveal(locked, wrong_auth_token())
                assert (last.status, last.body.get("state")) == (410, "burned"), last.body
                assert_gone(locked)
                gone = await client.revoke(revoked.id, tokens[revoked.id])
                assert gone.status == 200, gone.body
                assert_gone(revoked)
                assert _whole(files, waiting.envelope)

        run_async(scenario())
        assert relay.alive()


def _secret(letter: str, now: float) -> NewSecret:
    envelope = b"OTSE" + os.urandom(HEADER_LEN - 4) + os.urandom(4096)
    return NewSecret(id=letter * 22, envelope=envelope, header=envelope[:HEADER_LEN], needs_passphrase=False,
                     auth_hash="0" * 64, status_hash="1" * 64, created_at=now, expires_at=now + 300, max_views=1)


def test_sqlite_scrubs_before_the_answer_when_quiet_and_within_the_interval_when_busy(tmp_path: Path) -> None:
    now = time.time()
    first, second = _secret("F", now), _secret("S", now)
    files = [tmp_path / name for name in SQLITE_FILES]

    async def main() -> None:
        store = await SqliteStore.open(tmp_path / "links.sqlite3")
        try:
            assert await store.create(first) and await store.create(second)
            assert _whole(files, first.envelope) and _whole(files, second.envelope)
            # No scrub yet since the store opened: this end is scrubbed before its answer.
            assert (await store.reveal(first.id, "0" * 64, "192.0.2.1", now)).outcome is RevealOutcome.REVEALED
            scrubbed_at = time.monotonic()
            assert _found(files, first.envelope) == []
            # The next end comes within SCRUB_INTERVAL_S of that scrub: answered first, scrubbed on the timer.
            assert (await store.reveal(second.id, "0" * 64, "192.0.2.1", now)).outcome is RevealOutcome.REVEALED
            if time.monotonic() - scrubbed_at < SCRUB_INTERVAL_S:  # this machine did not stall meanwhile
                assert _whole(files, second.envelope), "a busy store scrubbed before answering"
            await asyncio.to_thread(wait_until, lambda: _found(files, second.envelope) == [],
                                    timeout=SCRUB_INTERVAL_S + SCRUB_SLACK_S, what="the timed scrub")
        finally:
            await store.close()

    asyncio.run(main())


def test_sqlite_sweep_leaves_no_ciphertext_of_expired_shares(tmp_path: Path) -> None:
    now = 2_000_000_000.0
    envelope = b"OTSE" + os.urandom(HEADER_LEN - 4) + os.urandom(4096)
    secret = NewSecret(id="E" * 22, envelope=envelope, header=envelope[:HEADER_LEN], needs_passphrase=False,
                       auth_hash="0" * 64, status_hash="1" * 64, created_at=now, expires_at=now + 300, max_views=1)
    files = [tmp_path / name for name in SQLITE_FILES]

    async def main() -> None:
        store = await SqliteStore.open(tmp_path / "links.sqlite3")
        try:
            assert await store.create(secret)
            assert _whole(files, envelope)
            assert await store.sweep(now + 299) == 0
            assert _whole(files, envelope)
            assert await store.sweep(now + 300) == 1
            assert _found(files, envelope) == []
        finally:
            await store.close()

    asyncio.run(main())


def test_redis_append_only_file_keeps_ciphertext_until_it_is_rewritten(tmp_path: Path) -> None:
    (tmp_path / "redis").mkdir()
    redis = start_redis(tmp_path / "redis", appendonly=True)
    try:
        share = make_share(os.urandom(20_000))
        aof_dir = redis.work_dir / "appendonlydir"

        def aof_files() -> list[Path]:
            return sorted(aof_dir.iterdir())

        with relays(tmp_path / "relay", store=redis.url) as (relay,):

            async def reveal() -> None:
                async with http_session() as session:
                    client = RelayClient(session, relay.url)
                    assert (await client.create(share)).status == 201
                    opened = await client.reveal(share)
                    assert opened.status == 200, opened.body

            run_async(reveal())
        # Gone from the data set at once ...
        pieces = _pieces(share.envelope).values()
        assert not any(piece in redis.dump_bytes() for piece in pieces)
        # ... but the append-only file still holds the write that parked it.
        assert _found(aof_files(), share.envelope), aof_files()
        client = redis.client()
        before = int(client.info("persistence")["aof_rewrites"])
        client.bgrewriteaof()

        def rewritten() -> bool:
            info = client.info("persistence")
            return (int(info["aof_rewrites"]) > before and not int(info["aof_rewrite_in_progress"])
                    and not int(info["aof_rewrite_scheduled"]))

        wait_until(rewritten, timeout=REWRITE_TIMEOUT_S, what="BGREWRITEAOF to finish")
        assert client.info("persistence")["aof_last_bgrewrite_status"] == "ok"
        wait_until(lambda: _found(aof_files(), share.envelope) == [], timeout=REWRITE_TIMEOUT_S,
                   what="the old append-only file to be removed")
    finally:
        redis.stop()
