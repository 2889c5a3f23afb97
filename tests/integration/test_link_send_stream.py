"""A large file sent as a link is read twice; a file that changed in between is never shared.

Real relay process (``ots server --no-wormhole``, SQLite store), the real audit log in the
real Secret Service, and the streamed upload the CLI and the app use
(:mod:`ots_desktop.channels.link_send_stream`). The file is changed on disk between the
first reading (the fingerprint) and the second (the sealed upload), each way a file can
change: a byte in place with its modification time put back, bytes added, bytes cut.
"""

from __future__ import annotations

import asyncio
import errno
import io
import os
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, BinaryIO

import pytest

from ots_desktop.channels.link import new_link_id
from ots_desktop.channels.link_send_stream import STREAM_CHUNK, upload_sealed
from ots_desktop.channels.source_print import (
    CHANGED,
    EARLY_FROM,
    READ_PIECE,
    SourcePrint,
    fingerprint_source,
    start_print,
)
from ots_desktop.core.audit.log import AuditLog
from ots_desktop.core.envelope import read_header
from ots_desktop.core.errors import InputError
from ots_desktop.core.ids import b64u_encode, new_fragment_key
from ots_desktop.installation import Installation
from tests.support.processes import wait_until
from tests.support.relay import RelayProcess, start_relay

pytestmark = pytest.mark.usefixtures("keychain")

MIB = 1024 * 1024
SIZE = 3 * MIB + 4321  # three full chunks and a short last one
POLICY = {"expires_in": 3600, "max_views": 1}


@pytest.fixture
def relay(tmp_path: Path) -> Iterator[RelayProcess]:
    process = start_relay(tmp_path)
    yield process
    process.service.stop()


def _flip_in_place(path: Path, offset: int) -> None:
    """One byte changed, same size, and the modification time put back as it was."""
    before = path.stat()
    with path.open("r+b") as stream:
        stream.seek(offset)
        byte = stream.read(1)
        stream.seek(offset)
        stream.write(bytes([byte[0] ^ 0x01]))
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))


def _append(path: Path) -> None:
    with path.open("ab") as stream:
        stream.write(b"more")


def _cut(path: Path) -> None:
    os.truncate(path, SIZE - 1)


def _send(relay: RelayProcess, path: Path, change: Callable[[Path], None] | None) -> tuple[SourcePrint, str]:
    """Fingerprint ``path``, apply ``change`` to it, then upload it; the first reading and the share id."""
    install = Installation()
    raw_id = new_link_id()
    share_id = b64u_encode(raw_id)

    def open_source() -> BinaryIO:
        return path.open("rb")

    async def flow() -> SourcePrint:
        log: AuditLog = install.open_audit_log(install.keychain())
        try:
            source = await asyncio.to_thread(fingerprint_source, open_source, log)
            if change is not None:
                change(path)
            meta = {"type": "file", "name": path.name, "size": source.size}
            with new_fragment_key() as key:
                async with install.relay_clients()(relay.url) as client:
                    await upload_sealed(client, share_id=share_id, raw_id=raw_id, key=key, passphrase=None,
                                        iterations=600_000, meta=meta, open_source=open_source, source=source,
                                        policy=dict(POLICY))
            return source
        finally:
            log.close()

    return asyncio.run(flow()), share_id


def _stored(relay: RelayProcess) -> list[Path]:
    return list((relay.data_dir / "links-envelopes").iterdir())


def test_an_unchanged_file_is_uploaded_in_large_chunks(relay: RelayProcess, tmp_path: Path) -> None:
    path = tmp_path / "big.bin"
    path.write_bytes(os.urandom(SIZE))
    source, share_id = _send(relay, path, None)
    assert source.size == SIZE and source.fingerprint.startswith("blake3:")
    [stored] = _stored(relay)
    assert stored.name == share_id
    with stored.open("rb") as envelope:
        assert read_header(envelope.read(44)).chunk_size == STREAM_CHUNK


@pytest.mark.parametrize("change", [
    pytest.param(lambda p: _flip_in_place(p, 5), id="first-chunk-in-place"),
    pytest.param(lambda p: _flip_in_place(p, SIZE - 2), id="last-chunk-in-place"),
    pytest.param(_append, id="grown"),
    pytest.param(_cut, id="cut"),
])
def test_a_file_changed_between_the_readings_is_not_shared(relay: RelayProcess, tmp_path: Path,
                                                           change: Callable[[Path], None]) -> None:
    path = tmp_path / "big.bin"
    path.write_bytes(os.urandom(SIZE))
    with pytest.raises(InputError) as caught:
        _send(relay, path, change)
    assert caught.value.message == CHANGED
    # The upload stopped before its last chunk: the relay removes its part file and keeps no share.
    wait_until(lambda: not _stored(relay), timeout=20, what="the relay to drop the unfinished upload")


def test_a_first_reading_started_early_is_the_same_reading(tmp_path: Path) -> None:
    """The CLI starts a large file's first reading before it loads the link channel: same fingerprint, same
    check, over pieces read on one thread and hashed on another; small files, folders and missing files are
    left to the send itself."""
    path = tmp_path / "big.bin"
    data = os.urandom(2 * READ_PIECE + 12345)  # two full pieces and a short one
    path.write_bytes(data)
    small = tmp_path / "small.bin"
    small.write_bytes(b"x" * EARLY_FROM)
    install = Installation()
    log = install.open_audit_log(install.keychain())
    try:
        early = start_print(path, log)
        assert early is not None
        got = early.result(timeout=60)
        again = fingerprint_source(lambda: path.open("rb"), log)
        assert (got.fingerprint, got.size, got.digest) == (again.fingerprint, again.size, again.digest)
        assert (got.fingerprint, got.size) == (log.fingerprint(data), len(data))
        assert len(got.digest) == 32 and got.digest.hex().startswith(got.fingerprint.removeprefix("blake3:"))
        assert [start_print(p, log) for p in (small, tmp_path, tmp_path / "missing")] == [None, None, None]
    finally:
        log.close()


class _FailingDisk(io.BytesIO):
    """A file whose reading fails part-way, as a disk or a network share can: only its ``readinto`` is
    replaced (no real device fails on demand here)."""

    def readinto(self, buffer: Any) -> int:
        if self.tell() >= READ_PIECE:
            raise OSError(errno.EIO, "Input/output error")
        return super().readinto(buffer)


def test_a_first_reading_that_fails_part_way_raises_and_stops_its_hashing_thread(tmp_path: Path) -> None:
    install = Installation()
    log = install.open_audit_log(install.keychain())
    try:
        before = {thread.name for thread in threading.enumerate()}
        with pytest.raises(OSError, match="Input/output error"):
            fingerprint_source(lambda: _FailingDisk(os.urandom(3 * READ_PIECE)), log)  # type: ignore[arg-type,return-value]
        assert "ots-first-reading-hash" not in {thread.name for thread in threading.enumerate()} - before
    finally:
        log.close()
