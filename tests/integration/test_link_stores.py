"""One contract for every link store: the same scenarios against SQLite and a real Redis.

Times are injected (``NOW`` is years ahead of the real clock), so expiry and tombstones are
decided by the ``now`` each call passes, never by waiting.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import os
import re
import sqlite3
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from ots_desktop.core.errors import OtsError
from ots_desktop.server.link_model import (
    MAX_FAILED_ATTEMPTS,
    TOMBSTONE_S,
    LinkStore,
    NewSecret,
    RevealOutcome,
    RevealRecord,
    RevealResult,
    SecretState,
)
from ots_desktop.server.store_redis import RedisStore, RedisStoreError
from ots_desktop.server.store_sqlite import SqliteStore
from tests.support.redis_server import RedisServer, start_redis

NOW = 2_000_000_000.25
HOUR = 3600.0
IP = "192.0.2.7"


def b64u(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def new_id() -> str:
    return b64u(os.urandom(16))


@dataclass(frozen=True)
class Share:
    """A share as a sender makes it: the record for the store plus the raw tokens (kept out of it)."""

    secret: NewSecret
    token: bytes

    @property
    def id(self) -> str:
        return self.secret.id

    @property
    def auth_hash(self) -> str:
        return self.secret.auth_hash


def make_share(*, max_views: int = 1, created_at: float = NOW, expires_in: float = HOUR,
               envelope: bytes | None = None, cidrs: tuple[str, ...] = ()) -> Share:
    token = os.urandom(32)
    status_token = os.urandom(32)
    secret = NewSecret(
        id=new_id(), envelope=envelope if envelope is not None else b"ciphertext-" + os.urandom(64),
        header=os.urandom(44), needs_passphrase=True, auth_hash=hashlib.sha256(token).hexdigest(),
        status_hash=hashlib.sha256(status_token).hexdigest(), created_at=created_at,
        expires_at=created_at + expires_in, max_views=max_views, allow_cidrs=cidrs,
    )
    return Share(secret, token)


WRONG_HASH = hashlib.sha256(b"not the token").hexdigest()


@dataclass
class Backend:
    """How a test opens the store under test, and how it can look at what the store keeps."""

    name: str
    open: Callable[[], Awaitable[LinkStore]]
    raw: Callable[[], bytes]
    redis: RedisServer | None = None


@pytest.fixture(params=["sqlite", "redis"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    if request.param == "sqlite":
        path = tmp_path / "links.sqlite3"

        def raw_files() -> bytes:
            return b"".join(p.read_bytes() for p in sorted(tmp_path.glob("links.sqlite3*")))

        return Backend("sqlite", lambda: SqliteStore.open(path), raw_files)
    server: RedisServer = request.getfixturevalue("redis_server")
    url: str = request.getfixturevalue("redis_url")
    return Backend("redis", lambda: RedisStore.connect(url), server.dump_bytes, server)


def run(backend: Backend, scenario: Callable[[LinkStore], Awaitable[None]]) -> None:
    """Open the store, play ``scenario`` on it, close it: all inside one asyncio.run."""

    async def main() -> None:
        store = await backend.open()
        try:
            await scenario(store)
        finally:
            await store.close()

    asyncio.run(main())


def assert_envelope_dropped(backend: Backend, envelope: bytes) -> None:
    """Redis only: the ciphertext must be gone from the database, not just unreachable."""
    if backend.redis is not None:
        assert envelope not in backend.redis.dump_bytes()


# ---------------------------------------------------------------- creating and looking


def test_create_refuses_a_taken_id(backend: Backend) -> None:
    share = make_share()
    other = NewSecret(**{**share.secret.__dict__, "envelope": b"other", "auth_hash": WRONG_HASH})

    async def scenario(store: LinkStore) -> None:
        assert await store.create(share.secret) is True
        assert await store.create(other) is False
        result = await store.reveal(share.id, share.auth_hash, IP, NOW)
        assert result.outcome is RevealOutcome.REVEALED
        assert result.envelope == share.secret.envelope

    run(backend, scenario)


def test_info_reports_the_record_without_consuming(backend: Backend) -> None:
    share = make_share(max_views=2, cidrs=("10.0.0.0/8", "2001:db8::/32"))
    s = share.secret

    async def scenario(store: LinkStore) -> None:
        assert await store.info(share.id, NOW) is None
        await store.create(s)
        for _ in range(3):
            info = await store.info(share.id, NOW + 1)
            assert info is not None
            assert (info.id, info.state, info.header, info.needs_passphrase, info.status_hash) == (
                s.id, SecretState.PENDING, s.header, True, s.status_hash)
            assert (info.created_at, info.expires_at, info.max_views, info.views_left) == (
                s.created_at, s.expires_at, 2, 2)
            assert (info.failed_attempts, info.blocked_attempts, info.reveals, info.ended_at) == (0, 0, (), None)
            assert info.allow_cidrs == ("10.0.0.0/8", "2001:db8::/32")
        result = await store.reveal(share.id, share.auth_hash, IP, NOW + 2)
        assert (result.outcome, result.views_left) == (RevealOutcome.REVEALED, 1)

    run(backend, scenario)


# ---------------------------------------------------------------- revealing


def test_reveal_once_then_gone(backend: Backend) -> None:
    share = make_share()

    async def scenario(store: LinkStore) -> None:
        await store.create(share.secret)
        first = await store.reveal(share.id, share.auth_hash, IP, NOW + 5)
        assert first.outcome is RevealOutcome.REVEALED
        assert (first.envelope, first.views_left, first.state) == (share.secret.envelope, 0, SecretState.REVEALED)
        second = await store.reveal(share.id, share.auth_hash, IP, NOW + 6)
        assert second == RevealResult(RevealOutcome.GONE, state=SecretState.REVEALED)
        info = await store.info(share.id, NOW + 7)
        assert info is not None
        assert (info.state, info.views_left, info.ended_at) == (SecretState.REVEALED, 0, NOW + 5)
        assert info.reveals == (RevealRecord(at=NOW + 5, ip=IP),)

    run(backend, scenario)
    assert_envelope_dropped(backend, share.secret.envelope)


def test_max_views_gives_exactly_that_many_reveals(backend: Backend) -> None:
    share = make_share(max_views=3)
    ips = ["192.0.2.1", "2001:db8::2", "198.51.100.3"]

    async def scenario(store: LinkStore) -> None:
        await store.create(share.secret)
        lefts = []
        for n, ip in enumerate(ips):
            result = await store.reveal(share.id, share.auth_hash, ip, NOW + n)
            assert result.outcome is RevealOutcome.REVEALED
            assert result.envelope == share.secret.envelope
            lefts.append(result.views_left)
            info = await store.info(share.id, NOW + n)
            assert info is not None and info.views_left == result.views_left
        assert lefts == [2, 1, 0]
        gone = await store.reveal(share.id, share.auth_hash, IP, NOW + 10)
        assert (gone.outcome, gone.state) == (RevealOutcome.GONE, SecretState.REVEALED)
        info = await store.info(share.id, NOW + 10)
        assert info is not None and info.state is SecretState.REVEALED
        assert info.reveals == tuple(RevealRecord(at=NOW + n, ip=ip) for n, ip in enumerate(ips))
        assert info.ended_at == NOW + 2

    run(backend, scenario)
    assert_envelope_dropped(backend, share.secret.envelope)


def test_four_wrong_tokens_then_the_right_one(backend: Backend) -> None:
    share = make_share()

    async def scenario(store: LinkStore) -> None:
        await store.create(share.secret)
        left = []
        for n in range(MAX_FAILED_ATTEMPTS - 1):
            result = await store.reveal(share.id, WRONG_HASH, IP, NOW + n)
            assert (result.outcome, result.envelope, result.state) == (
                RevealOutcome.WRONG_TOKEN, None, SecretState.PENDING)
            left.append(result.attempts_left)
        assert left == [4, 3, 2, 1]
        result = await store.reveal(share.id, share.auth_hash, IP, NOW + 10)
        assert (result.outcome, result.envelope) == (RevealOutcome.REVEALED, share.secret.envelope)
        info = await store.info(share.id, NOW + 10)
        assert info is not None and info.failed_attempts == 4

    run(backend, scenario)


def test_five_wrong_tokens_burn_the_share(backend: Backend) -> None:
    share = make_share(max_views=3)

    async def scenario(store: LinkStore) -> None:
        await store.create(share.secret)
        outcomes = [(await store.reveal(share.id, WRONG_HASH, IP, NOW + n)).outcome
                    for n in range(MAX_FAILED_ATTEMPTS)]
        assert outcomes == [RevealOutcome.WRONG_TOKEN] * 4 + [RevealOutcome.BURNED]
        later = await store.reveal(share.id, share.auth_hash, IP, NOW + 10)
        assert later == RevealResult(RevealOutcome.GONE, state=SecretState.BURNED)
        again = await store.reveal(share.id, WRONG_HASH, IP, NOW + 11)
        assert again == RevealResult(RevealOutcome.GONE, state=SecretState.BURNED)
        info = await store.info(share.id, NOW + 12)
        assert info is not None
        assert (info.state, info.failed_attempts, info.views_left, info.ended_at) == (
            SecretState.BURNED, MAX_FAILED_ATTEMPTS, 3, NOW + 4)

    run(backend, scenario)
    assert_envelope_dropped(backend, share.secret.envelope)


# ---------------------------------------------------------------- expiry, revoking, blocking


def test_expiry_follows_the_injected_clock(backend: Backend) -> None:
    share = make_share(expires_in=600)
    looked_at = make_share(expires_in=600)
    expires_at = share.secret.expires_at

    async def scenario(store: LinkStore) -> None:
        await store.create(share.secret)
        await store.create(looked_at.secret)
        info = await store.info(looked_at.id, looked_at.secret.expires_at)
        assert info is not None
        assert (info.state, info.ended_at) == (SecretState.EXPIRED, looked_at.secret.expires_at)
        before = await store.info(share.id, expires_at - 0.5)
        assert before is not None and before.state is SecretState.PENDING
        result = await store.reveal(share.id, share.auth_hash, IP, expires_at)
        assert result == RevealResult(RevealOutcome.GONE, state=SecretState.EXPIRED)
        # Marked for good: even a clock that goes back does not bring it back.
        assert (await store.reveal(share.id, share.auth_hash, IP, NOW)).state is SecretState.EXPIRED
        info = await store.info(share.id, NOW)
        assert info is not None
        assert (info.state, info.ended_at, info.views_left) == (SecretState.EXPIRED, expires_at, 1)

    run(backend, scenario)
    assert_envelope_dropped(backend, share.secret.envelope)


def test_revoke(backend: Backend) -> None:
    pending, revealed, expired = make_share(), make_share(), make_share(expires_in=600)

    async def scenario(store: LinkStore) -> None:
        for share in (pending, revealed, expired):
            await store.create(share.secret)
        assert await store.revoke(pending.id, NOW + 1) is SecretState.REVOKED
        assert await store.revoke(pending.id, NOW + 2) is SecretState.REVOKED
        gone = await store.reveal(pending.id, pending.auth_hash, IP, NOW + 3)
        assert gone == RevealResult(RevealOutcome.GONE, state=SecretState.REVOKED)
        info = await store.info(pending.id, NOW + 3)
        assert info is not None and (info.state, info.ended_at) == (SecretState.REVOKED, NOW + 1)

        assert (await store.reveal(revealed.id, revealed.auth_hash, IP, NOW)).outcome is RevealOutcome.REVEALED
        assert await store.revoke(revealed.id, NOW + 1) is SecretState.REVEALED

        assert await store.revoke(expired.id, NOW + 601) is SecretState.EXPIRED
        assert await store.revoke(new_id(), NOW) is None

    run(backend, scenario)
    assert_envelope_dropped(backend, pending.secret.envelope)
    assert_envelope_dropped(backend, expired.secret.envelope)


def test_note_blocked_counts_without_consuming(backend: Backend) -> None:
    share = make_share(cidrs=("10.0.0.0/8",))

    async def scenario(store: LinkStore) -> None:
        await store.create(share.secret)
        for n in range(3):
            await store.note_blocked(share.id, NOW + n)
        await store.note_blocked(new_id(), NOW)  # unknown: nothing happens, nothing raises
        info = await store.info(share.id, NOW + 5)
        assert info is not None
        assert (info.blocked_attempts, info.failed_attempts, info.views_left, info.state) == (
            3, 0, 1, SecretState.PENDING)
        assert (await store.reveal(share.id, share.auth_hash, IP, NOW + 6)).outcome is RevealOutcome.REVEALED

    run(backend, scenario)


# ---------------------------------------------------------------- sweeping and forgetting


def test_sweep_drops_expired_envelopes(backend: Backend) -> None:
    short, long = make_share(expires_in=600), make_share(expires_in=2 * HOUR)

    async def scenario(store: LinkStore) -> None:
        await store.create(short.secret)
        await store.create(long.secret)
        assert await store.sweep(NOW + 599) == 0
        assert await store.sweep(NOW + 601) == 1
        assert await store.sweep(NOW + 602) == 0
        info = await store.info(short.id, NOW + 601)
        assert info is not None and (info.state, info.ended_at) == (SecretState.EXPIRED, short.secret.expires_at)
        # Even asked with an earlier clock, the swept share stays expired.
        gone = await store.reveal(short.id, short.auth_hash, IP, NOW + 1)
        assert gone == RevealResult(RevealOutcome.GONE, state=SecretState.EXPIRED)
        kept = await store.reveal(long.id, long.auth_hash, IP, NOW + 700)
        assert (kept.outcome, kept.envelope) == (RevealOutcome.REVEALED, long.secret.envelope)

    run(backend, scenario)
    assert_envelope_dropped(backend, short.secret.envelope)
    # SQLite: a sweep also checkpoints the WAL, so the zeroed pages replace the ciphertext in every file.
    assert short.secret.envelope not in backend.raw()
    assert long.secret.envelope not in backend.raw()


def test_tombstone_is_forgotten_after_tombstone_s(backend: Backend) -> None:
    # Redis also forgets by TTL on the real clock; sweep with the injected clock does it now.
    ended, unswept = make_share(), make_share(expires_in=600)

    async def scenario(store: LinkStore) -> None:
        await store.create(ended.secret)
        assert (await store.reveal(ended.id, ended.auth_hash, IP, NOW + 10)).outcome is RevealOutcome.REVEALED
        almost = NOW + 10 + TOMBSTONE_S - 1
        assert await store.sweep(almost) == 0
        info = await store.info(ended.id, almost)
        assert info is not None and info.state is SecretState.REVEALED

        later = NOW + 10 + TOMBSTONE_S
        assert await store.sweep(later) == 1
        assert await store.info(ended.id, later) is None
        assert (await store.reveal(ended.id, ended.auth_hash, IP, later)).outcome is RevealOutcome.NOT_FOUND
        assert await store.revoke(ended.id, later) is None
        # The id is free again once forgotten.
        assert await store.create(ended.secret) is True

        # A share nobody swept while pending is expired and forgotten in one sweep: two changes.
        await store.create(unswept.secret)
        gone = unswept.secret.expires_at + TOMBSTONE_S
        assert await store.sweep(gone) == 3  # + `ended` (created again) expiring at NOW + HOUR
        assert await store.info(unswept.id, gone) is None

    run(backend, scenario)


# ---------------------------------------------------------------- atomicity


@pytest.mark.parametrize("views", [1, 3])
def test_concurrent_reveals_have_exactly_the_allowed_winners(backend: Backend, views: int) -> None:
    share = make_share(max_views=views)

    async def main() -> None:
        # Redis: four stores, each with its own connection pool, as separate relay processes would be.
        stores = [await backend.open() for _ in range(4 if backend.name == "redis" else 1)]
        try:
            await stores[0].create(share.secret)
            results = await asyncio.gather(*(
                stores[n % len(stores)].reveal(share.id, share.auth_hash, f"192.0.2.{n}", NOW + n)
                for n in range(16)))
            winners = [r for r in results if r.outcome is RevealOutcome.REVEALED]
            assert len(winners) == views
            assert all(r.envelope == share.secret.envelope for r in winners)
            assert sorted(r.views_left for r in winners) == list(range(views))
            assert all(r == RevealResult(RevealOutcome.GONE, state=SecretState.REVEALED)
                       for r in results if r not in winners)
            info = await stores[-1].info(share.id, NOW + 20)
            assert info is not None and len(info.reveals) == views and info.state is SecretState.REVEALED
        finally:
            for store in stores:
                await store.close()

    asyncio.run(main())


def test_concurrent_wrong_tokens_burn_exactly_once(backend: Backend) -> None:
    share = make_share()

    async def scenario(store: LinkStore) -> None:
        await store.create(share.secret)
        results = await asyncio.gather(*(store.reveal(share.id, WRONG_HASH, IP, NOW) for _ in range(16)))
        outcomes = [r.outcome for r in results]
        assert outcomes.count(RevealOutcome.WRONG_TOKEN) == MAX_FAILED_ATTEMPTS - 1
        assert outcomes.count(RevealOutcome.BURNED) == 1
        assert outcomes.count(RevealOutcome.GONE) == 16 - MAX_FAILED_ATTEMPTS
        assert sorted(r.attempts_left for r in results if r.outcome is RevealOutcome.WRONG_TOKEN) == [1, 2, 3, 4]

    run(backend, scenario)


# ---------------------------------------------------------------- what is stored


def test_the_auth_token_itself_is_never_stored(backend: Backend) -> None:
    share = make_share(max_views=2)
    token = share.token

    async def scenario(store: LinkStore) -> None:
        await store.create(share.secret)
        await store.reveal(share.id, WRONG_HASH, IP, NOW)
        await store.reveal(share.id, share.auth_hash, IP, NOW + 1)

    run(backend, scenario)
    raw = backend.raw()
    assert share.auth_hash.encode() in raw  # the scan does see the data
    for form in (token, b64u(token).encode(), token.hex().encode(), base64.b64encode(token)):
        assert form not in raw


# ---------------------------------------------------------------- Redis specifics


def test_redis_unreachable_names_the_url_without_its_password(tmp_path: Path) -> None:
    urls = [f"unix://{tmp_path}/nothing.sock?db=0&password=hunter2",
            "redis://:hunter2@127.0.0.1:1/0"]
    for url in urls:
        with pytest.raises(RedisStoreError) as caught:
            asyncio.run(RedisStore.connect(url))
        assert isinstance(caught.value, OtsError)
        message = caught.value.message
        assert "cannot reach the Redis store at" in message
        assert "hunter2" not in message and "***" in message


def test_redis_over_tcp_and_losing_the_server(tmp_path: Path) -> None:
    server = start_redis(tmp_path, tcp=True)
    share = make_share()

    async def main() -> None:
        store = await RedisStore.connect(server.tcp_url)
        try:
            assert store.name == "redis"
            await store.ping()
            assert await store.create(share.secret)
            info = await store.info(share.id, NOW)
            assert info is not None and info.state is SecretState.PENDING
            await asyncio.to_thread(server.stop)
            with pytest.raises(RedisStoreError, match=re.escape(f"the Redis store at {server.tcp_url} failed")):
                await store.ping()
        finally:
            await store.close()

    try:
        asyncio.run(main())
    finally:
        server.stop()


def test_redis_prefixes_keep_stores_apart(redis_server: RedisServer, redis_url: str) -> None:
    share = make_share()

    async def main() -> None:
        first = await RedisStore.connect(redis_url, prefix="a:")
        second = await RedisStore.connect(redis_url, prefix="b:")
        try:
            assert await first.create(share.secret)
            assert await second.create(share.secret)
            assert (await first.reveal(share.id, share.auth_hash, IP, NOW)).outcome is RevealOutcome.REVEALED
            info = await second.info(share.id, NOW)
            assert info is not None and info.state is SecretState.PENDING
        finally:
            await first.close()
            await second.close()

    asyncio.run(main())
    assert all(key.startswith((b"a:", b"b:")) for key in redis_server.dump())


def test_redis_ttls_back_up_the_injected_clock(redis_server: RedisServer, redis_url: str) -> None:
    ahead = make_share(expires_in=HOUR)  # NOW is years ahead of the real clock
    behind = make_share(created_at=1_000_000.0)  # long past on the real clock

    async def main() -> None:
        store = await RedisStore.connect(redis_url)
        try:
            await store.create(ahead.secret)
            await store.create(behind.secret)
            await store.reveal(ahead.id, ahead.auth_hash, IP, NOW + 5)
        finally:
            await store.close()

    asyncio.run(main())
    client = redis_server.client()
    expire_ms = {key: client.pexpiretime(key) for key in redis_server.dump() if b"secret:" in key
                 or b"envelope:" in key or b"reveals:" in key}
    # Revealed: the envelope is gone and the record (and history) expire TOMBSTONE_S after the reveal.
    assert expire_ms[f"ots:secret:{ahead.id}".encode()] == int((NOW + 5 + TOMBSTONE_S) * 1000)
    assert expire_ms[f"ots:reveals:{ahead.id}".encode()] == int((NOW + 5 + TOMBSTONE_S) * 1000)
    assert f"ots:envelope:{ahead.id}".encode() not in expire_ms
    # A clock in the past never yields a TTL in the past: at least a minute of real time.
    for kind in ("secret", "envelope"):
        assert client.pttl(f"ots:{kind}:{behind.id}") > 50_000


def test_redis_reveals_from_threads_share_one_winner(redis_url: str) -> None:
    share = make_share()
    results: list[RevealResult] = []
    lock = threading.Lock()
    start = threading.Barrier(4)

    def worker(n: int) -> None:
        async def main() -> None:
            store = await RedisStore.connect(redis_url)
            try:
                start.wait(timeout=30)
                got = await asyncio.gather(*(store.reveal(share.id, share.auth_hash, IP, NOW + n) for _ in range(4)))
            finally:
                await store.close()
            with lock:
                results.extend(got)

        asyncio.run(main())

    async def create() -> None:
        store = await RedisStore.connect(redis_url)
        try:
            assert await store.create(share.secret)
        finally:
            await store.close()

    asyncio.run(create())
    threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads)
    assert len(results) == 16
    assert [r.outcome for r in results].count(RevealOutcome.REVEALED) == 1


def test_sqlite_a_failing_operation_fails_only_its_caller(tmp_path: Path) -> None:
    shares = [make_share() for _ in range(8)]

    def boom(conn: sqlite3.Connection) -> None:
        conn.execute("INSERT INTO envelopes (id, data) VALUES ('half-done', X'00')")
        raise RuntimeError("boom")

    async def main() -> None:
        store = await SqliteStore.open(tmp_path / "links.sqlite3")
        try:
            # Queued together, these usually share one batch: the failure must roll back only its own writes.
            results = await asyncio.gather(*(store.create(s.secret) for s in shares[:4]),
                                           store._run(boom),
                                           *(store.create(s.secret) for s in shares[4:]), return_exceptions=True)
            assert [r for r in results if not isinstance(r, RuntimeError)] == [True] * 8
            assert sum(isinstance(r, RuntimeError) for r in results) == 1
            for share in shares:
                revealed = await store.reveal(share.id, share.auth_hash, IP, NOW)
                assert revealed.outcome is RevealOutcome.REVEALED
        finally:
            await store.close()
        with sqlite3.connect(tmp_path / "links.sqlite3") as db:
            assert db.execute("SELECT count(*) FROM envelopes WHERE id = 'half-done'").fetchone() == (0,)

    asyncio.run(main())
