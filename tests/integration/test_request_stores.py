"""One contract for both request stores: the same scenarios against SQLite and a real Redis.

Times are injected (``NOW`` is years ahead of the real clock), so expiry and tombstones are
decided by the ``now`` each call passes, never by waiting.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from ots_desktop.core.ids import b64u_encode
from ots_desktop.server.request_model import (
    TOMBSTONE_S,
    AnswerOutcome,
    NewRequest,
    RequestState,
    RequestStore,
)
from ots_desktop.server.request_store_redis import RedisRequestStore
from ots_desktop.server.request_store_sqlite import SqliteRequestStore
from tests.support.redis_server import RedisServer

NOW = 2_000_000_000.25
HOUR = 3600.0
IP = "192.0.2.7"


def new_request(label_box: str = "AZ3nX-label-box_opaque", expires_in: float = HOUR) -> NewRequest:
    return NewRequest(id=b64u_encode(os.urandom(16)), label_box=label_box, proof_hash=hashlib.sha256(b"p").hexdigest(),
                      key_hash=hashlib.sha256(b"k").hexdigest(), status_hash=hashlib.sha256(b"s").hexdigest(),
                      created_at=NOW, expires_at=NOW + expires_in, allow_cidrs=("10.0.0.0/8",),
                      allow_countries=("DE",))


@dataclass
class Backend:
    name: str
    open: Callable[[], Awaitable[RequestStore]]
    raw: Callable[[], bytes]


@pytest.fixture(params=["sqlite", "redis"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    if request.param == "sqlite":
        path = tmp_path / "links-requests.sqlite3"

        def raw_files() -> bytes:
            return b"".join(p.read_bytes() for p in sorted(tmp_path.glob("links-requests.sqlite3*")))

        return Backend("sqlite", lambda: SqliteRequestStore.open_file(path), raw_files)
    server: RedisServer = request.getfixturevalue("redis_server")
    url: str = request.getfixturevalue("redis_url")
    return Backend("redis", lambda: RedisRequestStore.connect(url), server.dump_bytes)


def run(backend: Backend, scenario: Callable[[RequestStore], Awaitable[None]]) -> None:
    async def main() -> None:
        store = await backend.open()
        try:
            await scenario(store)
        finally:
            await store.close()

    asyncio.run(main())


def test_a_request_keeps_its_fields_and_its_id_once(backend: Backend) -> None:
    async def scenario(store: RequestStore) -> None:
        new = new_request()
        assert await store.create(new)
        assert not await store.create(new)
        info = await store.info(new.id, NOW)
        assert info is not None and info.state is RequestState.PENDING
        assert (info.label_box, info.proof_hash, info.key_hash, info.status_hash) == (
            new.label_box, new.proof_hash, new.key_hash, new.status_hash)
        assert (info.created_at, info.expires_at, info.allow_cidrs, info.allow_countries) == (
            NOW, NOW + HOUR, ("10.0.0.0/8",), ("DE",))
        assert await store.info(b64u_encode(os.urandom(16)), NOW) is None

    run(backend, scenario)


def test_one_answer_wins_is_opened_once_and_leaves_no_ciphertext(backend: Backend) -> None:
    answer = b"OTSA-ciphertext-" + os.urandom(256)

    async def scenario(store: RequestStore) -> None:
        new = new_request()
        await store.create(new)
        assert (await store.open(new.id, NOW + 1)).outcome is AnswerOutcome.NOT_ANSWERED
        first = await store.answer(new.id, answer, IP, NOW + 2)
        assert first.outcome is AnswerOutcome.DONE
        second = await store.answer(new.id, b"second", IP, NOW + 3)
        assert second.outcome is AnswerOutcome.ALREADY_ANSWERED
        info = await store.info(new.id, NOW + 4)
        assert info is not None and info.state is RequestState.ANSWERED and info.refused_answers == 1
        assert (info.answered_at, info.answered_from) == (NOW + 2, IP)
        opened = await store.open(new.id, NOW + 5)
        assert opened.outcome is AnswerOutcome.DONE and opened.answer == answer and opened.answered_from == IP
        again = await store.open(new.id, NOW + 6)
        assert again.outcome is AnswerOutcome.GONE and again.state is RequestState.OPENED
        assert (await store.answer(new.id, b"late", IP, NOW + 7)).outcome is AnswerOutcome.ALREADY_ANSWERED
        assert answer not in backend.raw() and b"second" not in backend.raw()

    run(backend, scenario)


def test_many_concurrent_answers_give_exactly_one_winner(backend: Backend) -> None:
    async def scenario(store: RequestStore) -> None:
        new = new_request()
        await store.create(new)
        results = await asyncio.gather(*(store.answer(new.id, b"a%d" % n, IP, NOW + 1) for n in range(20)))
        assert sum(r.outcome is AnswerOutcome.DONE for r in results) == 1
        info = await store.info(new.id, NOW + 2)
        assert info is not None and info.refused_answers == 19

    run(backend, scenario)


def test_expiry_revocation_and_sweeping_drop_the_answer(backend: Backend) -> None:
    answer = b"OTSA-to-expire-" + os.urandom(64)

    async def scenario(store: RequestStore) -> None:
        expiring, revoked, pending = new_request(), new_request(), new_request()
        for new in (expiring, revoked, pending):
            await store.create(new)
        await store.answer(expiring.id, answer, IP, NOW + 1)
        await store.answer(revoked.id, answer + b"r", IP, NOW + 1)
        assert await store.revoke(revoked.id, NOW + 2) is RequestState.REVOKED
        assert await store.revoke(revoked.id, NOW + 3) is RequestState.REVOKED
        assert (await store.answer(revoked.id, b"x", IP, NOW + 3)).outcome is AnswerOutcome.GONE
        late = NOW + HOUR + 1
        info = await store.info(expiring.id, late)
        assert info is not None and info.state is RequestState.EXPIRED
        assert (await store.open(expiring.id, late)).outcome is AnswerOutcome.GONE
        assert (await store.answer(pending.id, b"x", IP, late)).outcome is AnswerOutcome.GONE
        assert await store.sweep(late) >= 2
        assert answer not in backend.raw()
        await store.note_blocked(pending.id, late)
        info = await store.info(pending.id, late)
        assert info is not None and info.blocked_attempts == 1 and info.state is RequestState.EXPIRED
        await store.sweep(late + TOMBSTONE_S + 1)
        assert await store.info(pending.id, late + TOMBSTONE_S + 2) is None
        assert await store.info(revoked.id, late + TOMBSTONE_S + 2) is None

    run(backend, scenario)


def test_the_answers_held_are_counted_until_they_are_gone(backend: Backend) -> None:
    async def scenario(store: RequestStore) -> None:
        opened, revoked, expiring, pending = (new_request() for _ in range(4))
        for new in (opened, revoked, expiring, pending):
            await store.create(new)
        assert await store.stored_bytes() == 0
        for new, size in ((opened, 1000), (revoked, 2000), (expiring, 4000)):
            assert (await store.answer(new.id, os.urandom(size), IP, NOW + 1)).outcome is AnswerOutcome.DONE
        await store.answer(opened.id, os.urandom(500), IP, NOW + 2)  # refused: not counted
        assert await store.stored_bytes() == 7000
        await store.open(opened.id, NOW + 3)
        assert await store.stored_bytes() == 6000
        await store.revoke(revoked.id, NOW + 4)
        await store.revoke(pending.id, NOW + 4)
        assert await store.stored_bytes() == 4000
        await store.sweep(NOW + HOUR + 1)
        assert await store.stored_bytes() == 0

    run(backend, scenario)


def test_sqlite_scrubs_an_ended_answer_at_once_when_quiet_and_within_the_interval_when_busy(tmp_path: Path) -> None:
    """As the link store: the first end since the last scrub is scrubbed before its answer; one that
    follows within SCRUB_INTERVAL_S is answered first and scrubbed on the writer's timer."""
    from ots_desktop.server.sqlite_writer import SCRUB_INTERVAL_S
    from tests.support.processes import wait_until

    path = tmp_path / "links-requests.sqlite3"
    first, second = b"OTSA-first-" + os.urandom(200), b"OTSA-second-" + os.urandom(200)

    def held(answer: bytes) -> bool:
        return any(answer in p.read_bytes() for p in tmp_path.glob("links-requests.sqlite3*"))

    async def main() -> None:
        store = await SqliteRequestStore.open_file(path)
        try:
            opened, revoked = new_request(), new_request()
            for new, answer in ((opened, first), (revoked, second)):
                await store.create(new)
                assert (await store.answer(new.id, answer, IP, NOW + 1)).outcome is AnswerOutcome.DONE
            assert held(first) and held(second)  # the search sees the store's files
            assert (await store.open(opened.id, NOW + 2)).answer == first
            scrubbed_at = asyncio.get_running_loop().time()
            assert not held(first)
            assert await store.revoke(revoked.id, NOW + 3) is RequestState.REVOKED
            if asyncio.get_running_loop().time() - scrubbed_at < SCRUB_INTERVAL_S:  # the machine did not stall
                assert held(second), "a busy store scrubbed before answering"
            await asyncio.to_thread(wait_until, lambda: not held(second), timeout=SCRUB_INTERVAL_S + 4.0,
                                    what="the timed scrub")
        finally:
            await store.close()

    asyncio.run(main())
