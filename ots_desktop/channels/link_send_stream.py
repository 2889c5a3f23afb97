"""Sending a large file as a link: sealed on a worker thread straight into a streamed upload.

The envelope never exists whole: :func:`ots_desktop.core.envelope.seal_stream` writes it
through a :class:`~ots_desktop.channels.stream_bridge.ThreadToLoop` into the HTTP request.
Its length is known up front (:func:`~ots_desktop.core.envelope.sealed_size`), and so is the
salt, chosen here, so that the auth hash and link hash travel in the request's headers.

The audit entry must be written before anything leaves this machine, with the file's
fingerprint in it, so a file is read twice: once for the fingerprint, once to seal it. The
second reading checks that it gives the same bytes; a file that changed in between stops
the upload before its last chunk, so the relay never stores it.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Callable
from typing import Any, BinaryIO

from ots_desktop.channels.relay_client import Created, RelayClient
from ots_desktop.channels.relay_stream import create_stream
from ots_desktop.channels.stream_bridge import BridgeClosed, ThreadToLoop
from ots_desktop.core.audit.log import AuditLog
from ots_desktop.core.envelope import seal_stream, sealed_size
from ots_desktop.core.errors import InputError
from ots_desktop.core.kdf import SALT_LEN, auth_token_hash, derive_keys, derive_link_proof
from ots_desktop.core.secret import SecretBuffer, wipe

READ_PIECE = 1024 * 1024
CHANGED = "the file changed while it was being sent, so nothing was shared: send it again once it is complete"


def fingerprint_source(open_source: Callable[[], BinaryIO], audit: AuditLog) -> tuple[str, int]:
    """The audit fingerprint and the length of what ``open_source()`` reads (a worker thread's job)."""
    mac = audit.fingerprint_mac()
    buffer = bytearray(READ_PIECE)
    count = 0
    try:
        with open_source() as stream:
            while n := stream.readinto(buffer):  # type: ignore[attr-defined]
                mac.update(memoryview(buffer)[:n])
                count += n
    finally:
        wipe(buffer)
    return AuditLog.fingerprint_of(mac), count


class _CheckedReader:
    """Reads the source for sealing and refuses, before the last chunk is sealed, one that changed."""

    def __init__(self, stream: BinaryIO, audit: AuditLog, size: int, fingerprint: str) -> None:
        self._stream = stream
        self._mac = audit.fingerprint_mac()
        self._size = size
        self._fingerprint = fingerprint
        self._count = 0

    def readinto(self, buffer: memoryview) -> int:
        n = int(self._stream.readinto(buffer) or 0)  # type: ignore[attr-defined]
        self._count += n
        if self._count > self._size:
            raise InputError(CHANGED)
        if n:
            self._mac.update(buffer[:n])
        elif self._count != self._size or AuditLog.fingerprint_of(self._mac) != self._fingerprint:
            raise InputError(CHANGED)
        return n


def link_hashes(key: SecretBuffer, salt: bytes, passphrase: SecretBuffer | None, iterations: int) -> tuple[str, str]:
    """The hex SHA-256 of the auth token and of the link proof for an envelope with ``salt``."""
    with derive_keys(key, salt, passphrase, iterations) as keys, derive_link_proof(key, salt) as proof:
        return auth_token_hash(keys.auth_token), auth_token_hash(proof)


async def upload_sealed(relay: RelayClient, *, share_id: str, raw_id: bytes, key: SecretBuffer,
                        passphrase: SecretBuffer | None, iterations: int, meta: dict[str, object],
                        open_source: Callable[[], BinaryIO], size: int, fingerprint: str, audit: AuditLog,
                        policy: dict[str, Any]) -> Created:
    """Seal what ``open_source()`` reads into a streamed create; ``policy`` holds the create's other fields."""
    salt = secrets.token_bytes(SALT_LEN)
    auth_hash, link_hash = await asyncio.to_thread(link_hashes, key, salt, passphrase, iterations)
    bridge = ThreadToLoop(asyncio.get_running_loop())
    failure: list[BaseException] = []

    def seal_into_bridge() -> None:
        try:
            with open_source() as stream:
                reader = _CheckedReader(stream, audit, size, fingerprint)
                seal_stream(reader, bridge, share_id=raw_id, fragment_key=key, meta=meta,  # type: ignore[arg-type]
                            passphrase=passphrase, iterations=iterations, _salt=salt)
        except BridgeClosed:
            return
        except OSError as exc:
            error = InputError(f"cannot read {exc.filename or meta.get('name')}: {exc.strerror}")
            failure.append(error)
            bridge.finish(error)
            return
        except BaseException as exc:  # noqa: BLE001 - handed to the upload, which stops; raised below
            failure.append(exc)
            bridge.finish(exc)
            return
        bridge.finish()

    sealing = asyncio.ensure_future(asyncio.to_thread(seal_into_bridge))
    try:
        return await create_stream(relay, share_id, bridge.pieces(), sealed_size(size, meta), auth_hash,
                                   link_hash=link_hash, **policy)
    except Exception:
        if failure:  # the sealing's own error (a file that changed or cannot be read) says more
            raise failure[0] from None
        raise
    finally:
        bridge.close()
        await sealing
