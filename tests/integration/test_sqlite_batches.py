"""The SQLite link store's loop-side batches (server/sqlite_batches.py) against a real store file.

Creates and reveals run on the event loop in batches whose commit the writer thread does;
everything else still runs on that thread. These tests drive both at once and check what the
store promises: one reveal wins a race, every answer comes after its commit (the rows are in a
second connection's view when the caller hears back), an operation that fails fails alone, and
a store closed with work queued answers all of it.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import time
from pathlib import Path

import pytest

from ots_desktop.core.envelope import HEADER_LEN
from ots_desktop.server.link_model import NewSecret, RevealOutcome
from ots_desktop.server.store_sqlite import SqliteStore

AUTH = "0" * 64


def _secret(n: int, now: float, views: int = 1) -> NewSecret:
    envelope = b"OTSE" + os.urandom(HEADER_LEN - 4) + os.urandom(256)
    return NewSecret(id=f"{n:022d}", envelope=envelope, header=envelope[:HEADER_LEN], needs_passphrase=False,
                     auth_hash=AUTH, status_hash="1" * 64, created_at=now, expires_at=now + 300, max_views=views)


def _committed_ids(path: Path) -> set[str]:
    """The share ids another connection sees: only what was committed."""
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return {row[0] for row in conn.execute("SELECT id FROM secrets")}
    finally:
        conn.close()


def test_racing_reveals_of_one_share_open_it_once_while_the_writer_thread_works(tmp_path: Path) -> None:
    path = tmp_path / "links.sqlite3"
    now = time.time()

    async def main() -> None:
        store = await SqliteStore.open(path)
        try:
            shares = [_secret(n, now) for n in range(40)]
            assert all(await asyncio.gather(*(store.create(s) for s in shares)))
            # Sweeps and revocations run on the writer thread meanwhile: batches that find its lock taken
            # go to the thread, and the thread's jobs wait for the loop's commits.
            busy = [store.sweep(now) for _ in range(5)] + [store.revoke(shares[-1].id, now)]
            reveals = [store.reveal(s.id, AUTH, "192.0.2.1", now) for s in shares[:-1] for _ in range(5)]
            results = await asyncio.gather(*reveals, *busy)
            outcomes = [r.outcome for r in results[:len(reveals)]]
            assert outcomes.count(RevealOutcome.REVEALED) == len(shares) - 1
            assert outcomes.count(RevealOutcome.GONE) == 4 * (len(shares) - 1)
        finally:
            await store.close()

    asyncio.run(main())


def test_a_create_is_committed_when_its_caller_hears_back(tmp_path: Path) -> None:
    path = tmp_path / "links.sqlite3"
    now = time.time()

    async def main() -> None:
        store = await SqliteStore.open(path)
        try:
            for n in range(20):
                secret = _secret(n, now)
                assert await store.create(secret)
                assert secret.id in _committed_ids(path)
        finally:
            await store.close()

    asyncio.run(main())


def test_a_failing_operation_fails_alone_and_the_batch_commits(tmp_path: Path) -> None:
    path = tmp_path / "links.sqlite3"
    now = time.time()

    def broken(conn: sqlite3.Connection) -> None:
        conn.execute("INSERT INTO envelopes (id, data) VALUES ('x', x'00')")
        raise ValueError("this operation fails")

    async def main() -> None:
        store = await SqliteStore.open(path)
        try:
            good = [_secret(n, now) for n in range(3)]
            results = await asyncio.gather(store.create(good[0]), store._run_on_loop(broken),
                                           store.create(good[1]), store.create(good[2]), return_exceptions=True)
            assert results[0] is True and results[2] is True and results[3] is True, results
            assert isinstance(results[1], ValueError)
            assert {s.id for s in good} <= _committed_ids(path)
            # The failed operation's own write was rolled back with it.
            conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
            try:
                assert conn.execute("SELECT count(*) FROM envelopes WHERE id = 'x'").fetchone()[0] == 0
            finally:
                conn.close()
        finally:
            await store.close()

    asyncio.run(main())


def test_closing_with_work_queued_answers_it_and_later_calls_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "links.sqlite3"
    now = time.time()

    async def main() -> None:
        store = await SqliteStore.open(path)
        creates = [asyncio.ensure_future(store.create(_secret(n, now))) for n in range(30)]
        await asyncio.sleep(0)  # one turn of the loop, not a wait: the creates queue, the first batch may commit
        await store.close()
        assert all(await asyncio.gather(*creates))
        with pytest.raises(Exception, match="closed"):
            await store.create(_secret(99, now))

    asyncio.run(main())
    assert len(_committed_ids(path)) == 30


class _Abort(BaseException):
    """Not an Exception: what an operation's own error handling does not catch."""


def test_an_operation_that_raises_past_exception_fails_its_batch_and_frees_the_store(tmp_path: Path) -> None:
    path = tmp_path / "links.sqlite3"
    now = time.time()

    def aborting(conn: sqlite3.Connection) -> None:
        conn.execute("INSERT INTO envelopes (id, data) VALUES ('y', x'00')")
        raise _Abort

    async def main() -> None:
        asyncio.get_running_loop().set_exception_handler(lambda _loop, _context: None)  # the loop reports it
        store = await SqliteStore.open(path)
        try:
            with pytest.raises(Exception, match="could not write"):
                await store._run_on_loop(aborting)
            # Rolled back, and the lock is free: the next create runs and commits.
            assert await store.create(_secret(7, now))
            assert _committed_ids(path) == {_secret(7, now).id}
            conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
            try:
                assert conn.execute("SELECT count(*) FROM envelopes WHERE id = 'y'").fetchone()[0] == 0
            finally:
                conn.close()
        finally:
            await store.close()

    asyncio.run(main())


def test_a_streamed_create_whose_record_fails_leaves_no_file_behind(tmp_path: Path) -> None:
    """The record of a streamed envelope fails after its file was renamed into place (here a trigger
    refuses it, as a full disk would): the caller hears the store's error, not a missing file (the
    writer runs the operation a second time on its own), and neither the share nor its file stays."""
    import dataclasses

    path = tmp_path / "links.sqlite3"
    now = time.time()

    def set_trigger(sql: str) -> None:
        conn = sqlite3.connect(path)
        try:
            conn.execute(sql)
            conn.commit()
        finally:
            conn.close()

    async def upload(store: SqliteStore, secret: NewSecret) -> bool:
        upload = await store.new_upload(secret.id)
        await upload.write(secret.envelope)
        await upload.complete()
        return await store.create_streamed(dataclasses.replace(secret, envelope=b""), upload, len(secret.envelope))

    async def main() -> None:
        store = await SqliteStore.open(path)
        try:
            set_trigger("CREATE TRIGGER no_room BEFORE INSERT ON blobs BEGIN SELECT RAISE(ABORT, 'no room'); END")
            refused = _secret(1, now)
            with pytest.raises(sqlite3.IntegrityError, match="no room"):
                await upload(store, refused)
            assert list(store.blobs.folder.iterdir()) == []
            assert refused.id not in _committed_ids(path)
            set_trigger("DROP TRIGGER no_room")
            kept = _secret(2, now)
            assert await upload(store, kept)
            assert [p.name for p in store.blobs.folder.iterdir()] == [kept.id]
            assert await store.blob_size(kept.id) == len(kept.envelope)
        finally:
            await store.close()

    asyncio.run(main())
