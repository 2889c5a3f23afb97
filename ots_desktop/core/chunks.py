"""Chunked AES-256-GCM for the link envelope, and the bounded-memory pump that drives it.

Decrypted chunks are written straight into wipeable buffers (``update_into``) so they
never exist as immutable ``bytes``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import BinaryIO

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from ots_desktop.core.kdf import DerivedKeys
from ots_desktop.core.secret import wipe

Progress = Callable[[int], None] | None

TAG_LEN = 16
MAX_CHUNKS = 2**32 - 1
# The last byte of every chunk's AAD: the chunk's role in the envelope.
KIND_DATA, KIND_LAST, KIND_META = 0x00, 0x01, 0x02


class ChunkCipher:
    """AES-256-GCM over one envelope's chunks; owns the envelope's :class:`DerivedKeys`.

    Builds ``nonce = nonce_prefix || u32(counter)`` (the prefix is header bytes 32..40)
    and ``aad = header || share_id || kind`` as the envelope format specifies. Chunks
    are stored as ciphertext followed by the 16-byte tag.
    """

    def __init__(self, keys: DerivedKeys, header: bytes, share_id: bytes) -> None:
        self._keys = keys
        self._aad = header + share_id
        self._prefix = header[32:40]

    def _cipher(self, counter: int, tag: bytes | None = None) -> Cipher[modes.GCM]:
        nonce = self._prefix + counter.to_bytes(4, "big")
        return Cipher(algorithms.AES(self._keys.enc_key.view()), modes.GCM(nonce, tag))

    def seal_into(self, counter: int, kind: int, src: memoryview, dst: memoryview) -> None:
        """Write the ciphertext of ``src`` and then its tag into ``dst`` (``len(src) + 16`` bytes)."""
        enc = self._cipher(counter).encryptor()
        enc.authenticate_additional_data(self._aad + bytes((kind,)))
        enc.update_into(src, dst[: len(src)])
        enc.finalize()
        dst[len(src) :] = enc.tag

    def open_into(self, counter: int, kind: int, src: memoryview, dst: memoryview) -> None:
        """Decrypt ciphertext-and-tag ``src`` into ``dst``; raise ``InvalidTag`` on a forgery.

        ``update_into`` writes into the caller's buffer, so the plaintext never becomes
        ``bytes``. It is unauthenticated until this returns; the caller wipes ``dst`` if
        this raises.
        """
        dec = self._cipher(counter, bytes(src[-TAG_LEN:])).decryptor()
        dec.authenticate_additional_data(self._aad + bytes((kind,)))
        dec.update_into(src[:-TAG_LEN], dst[: len(src) - TAG_LEN])
        dec.finalize()

    def close(self) -> None:
        """Wipe the keys."""
        self._keys.close()


class BufferFile:
    """A file-like window on a memoryview (``readinto`` and ``write`` only) that never copies into ``bytes``."""

    def __init__(self, view: memoryview) -> None:
        self._view = view
        self._pos = 0

    def readinto(self, buf: memoryview) -> int:
        """Copy the next bytes into ``buf``; 0 at the end."""
        n = min(len(buf), len(self._view) - self._pos)
        buf[:n] = self._view[self._pos : self._pos + n]
        self._pos += n
        return n

    def write(self, data: memoryview) -> int:
        """Copy ``data`` in at the current position."""
        self._view[self._pos : self._pos + len(data)] = data
        self._pos += len(data)
        return len(data)


def read_full(src: BinaryIO, buf: memoryview) -> int:
    """Fill ``buf`` with ``readinto`` (never ``read``, whose ``bytes`` could not be wiped)."""
    got = 0
    while got < len(buf):
        n = src.readinto(buf[got:])  # type: ignore[attr-defined]
        if not n:
            break
        got += n
    return got


def write_all(dst: BinaryIO, buf: memoryview) -> None:
    """Write all of ``buf``, looping over the partial writes of raw (unbuffered) files."""
    while len(buf):
        n = dst.write(buf)
        # Some file-likes return None from write; they took everything.
        buf = buf[len(buf) if n is None else n :]


ChunkStep = Callable[[int, int, memoryview, memoryview], int]


def pump_chunks(
    src: BinaryIO, dst: BinaryIO, *, sizes: tuple[int, int], step: ChunkStep, progress: Progress, done: int
) -> int:
    """Feed the data chunks of ``src`` through ``step`` into ``dst``; return the bytes written.

    ``step(counter, kind, chunk, out)`` fills ``out`` and returns how many bytes it
    produced. A one-byte read-ahead tells whether a full chunk is the last, so memory
    holds one input and one output chunk; both are wiped afterwards.
    """
    inbuf, outbuf, peek = bytearray(sizes[0]), bytearray(sizes[1]), bytearray(1)
    counter, written = 1, 0
    try:
        have = read_full(src, memoryview(inbuf))
        while True:
            last = have < len(inbuf) or read_full(src, memoryview(peek)) == 0
            kind = KIND_LAST if last else KIND_DATA
            out = memoryview(outbuf)[: step(counter, kind, memoryview(inbuf)[:have], memoryview(outbuf))]
            write_all(dst, out)  # the next chunk overwrites ``outbuf``; the last one is wiped below
            written, done = written + len(out), done + have
            if progress is not None:
                progress(done)
            if last:
                return written
            counter += 1
            inbuf[0] = peek[0]
            have = 1 + read_full(src, memoryview(inbuf)[1:])
    finally:
        wipe(inbuf)
        wipe(outbuf)
        wipe(peek)
