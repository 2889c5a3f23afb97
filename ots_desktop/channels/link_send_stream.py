"""Sending a large file as a link: sealed on a worker thread straight into a streamed upload.

The envelope never exists whole: :func:`ots_desktop.core.envelope.seal_stream` writes it
through a :class:`~ots_desktop.channels.stream_bridge.ThreadToLoop` into the HTTP request.
Its length is known up front (:func:`~ots_desktop.core.envelope.sealed_size`), and so is the
salt, chosen here, so that the auth hash and link hash travel in the request's headers.

The audit entry must be written before anything leaves this machine, with the file's
fingerprint in it, so a file is read twice: once for the fingerprint
(:mod:`ots_desktop.channels.source_print`), once to seal it, checked against the first
reading; a file that changed in between stops the upload before its last chunk, so the
relay never stores it. Streamed envelopes use chunks of ``STREAM_CHUNK`` bytes: fewer,
larger chunks cost less per byte to seal and to open.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Callable
from typing import Any, BinaryIO

from ots_desktop.channels.relay_client import Created, RelayClient
from ots_desktop.channels.relay_stream import create_stream
from ots_desktop.channels.source_print import CheckedReader, SourcePrint
from ots_desktop.channels.stream_bridge import BridgeClosed, ThreadToLoop
from ots_desktop.core.envelope import seal_stream, sealed_size
from ots_desktop.core.errors import InputError
from ots_desktop.core.kdf import SALT_LEN, auth_token_hash, derive_keys, derive_link_proof
from ots_desktop.core.secret import SecretBuffer

# Plaintext bytes per data chunk of a streamed envelope (the format allows 1 byte to 16 MiB).
STREAM_CHUNK = 1024 * 1024


def link_hashes(key: SecretBuffer, salt: bytes, passphrase: SecretBuffer | None, iterations: int) -> tuple[str, str]:
    """The hex SHA-256 of the auth token and of the link proof for an envelope with ``salt``."""
    with derive_keys(key, salt, passphrase, iterations) as keys, derive_link_proof(key, salt) as proof:
        return auth_token_hash(keys.auth_token), auth_token_hash(proof)


async def upload_sealed(relay: RelayClient, *, share_id: str, raw_id: bytes, key: SecretBuffer,
                        passphrase: SecretBuffer | None, iterations: int, meta: dict[str, object],
                        open_source: Callable[[], BinaryIO], source: SourcePrint, policy: dict[str, Any]) -> Created:
    """Seal what ``open_source()`` reads into a streamed create; ``policy`` holds the create's other fields."""
    salt = secrets.token_bytes(SALT_LEN)
    auth_hash, link_hash = await asyncio.to_thread(link_hashes, key, salt, passphrase, iterations)
    bridge = ThreadToLoop(asyncio.get_running_loop())
    failure: list[BaseException] = []

    def seal_into_bridge() -> None:
        try:
            with open_source() as stream:
                reader = CheckedReader(stream, source)
                seal_stream(reader, bridge, share_id=raw_id, fragment_key=key, meta=meta,  # type: ignore[arg-type]
                            passphrase=passphrase, iterations=iterations, chunk_size=STREAM_CHUNK, _salt=salt)
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
        length = sealed_size(source.size, meta, STREAM_CHUNK)
        return await create_stream(relay, share_id, bridge.pieces(), length, auth_hash, link_hash=link_hash,
                                   **policy)
    except Exception:
        if failure:  # the sealing's own error (a file that changed or cannot be read) says more
            raise failure[0] from None
        raise
    finally:
        bridge.close()
        await sealing
