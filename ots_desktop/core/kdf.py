"""Key material and chunked AES-GCM for the link envelope.

:mod:`ots_desktop.core.envelope` holds the format specification and the public
seal/open API; this module holds what it builds on: identifiers, key derivation, the
keyed chunk cipher and the bounded-memory chunk pump.

A share is named by a random *share id* and unlocked by a random *fragment key*, both
carried as unpadded base64url. The envelope keys come from the fragment key, and from a
passphrase too when the sender set one, through PBKDF2-HMAC-SHA256 and HKDF-SHA256 only,
so that a browser can repeat every step with WebCrypto.

Passphrases enter as the UTF-8 bytes of the NFC-normalised text. Normalising is the
caller's job (:func:`passphrase_from_text` does it) because one passphrase typed on two
keyboards can arrive in two Unicode forms; the browser must apply
``String.prototype.normalize("NFC")`` the same way.

Derived secrets and decrypted chunks are written straight into wipeable buffers
(``derive_into``, ``update_into``) so they never exist as immutable ``bytes``. PBKDF2 is
``cryptography``'s rather than :func:`hashlib.pbkdf2_hmac` for that reason; both compute
the same function.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
import secrets
import unicodedata
from collections.abc import Callable
from types import TracebackType
from typing import BinaryIO

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC

from ots_desktop.core.errors import EnvelopeError, InputError
from ots_desktop.core.secret import SecretBuffer, wipe

BytesLike = bytes | bytearray | memoryview
Progress = Callable[[int], None] | None

SHARE_ID_LEN = 16
FRAGMENT_KEY_LEN = 32
SALT_LEN = 16
KEY_LEN = 32
TAG_LEN = 16
MAX_CHUNKS = 2**32 - 1
# The last byte of every chunk's AAD: the chunk's role in the envelope.
KIND_DATA, KIND_LAST, KIND_META = 0x00, 0x01, 0x02

PBKDF2_MIN_ITERATIONS = 600_000
PBKDF2_DEFAULT_ITERATIONS = 600_000
# A cap keeps a hostile header from pinning the CPU for minutes before the GCM tag can
# reject it; 10 million is about 20 times the default cost.
PBKDF2_MAX_ITERATIONS = 10_000_000

ENC_KEY_INFO = b"ots-desktop/v1 envelope key"
AUTH_TOKEN_INFO = b"ots-desktop/v1 auth token"

_B64U_ALPHABET = re.compile(r"[A-Za-z0-9_-]*")


def new_share_id() -> bytes:
    """Return a fresh random 16-byte share id (not secret: the relay sees it)."""
    return secrets.token_bytes(SHARE_ID_LEN)


def new_fragment_key() -> SecretBuffer:
    """Return a fresh random 32-byte fragment key in a wipeable buffer."""
    # The short-lived bytes object from the CSPRNG cannot be wiped; Python offers no
    # portable way to read random bytes straight into a bytearray.
    return SecretBuffer(secrets.token_bytes(FRAGMENT_KEY_LEN))


def b64u_encode(data: SecretBuffer | BytesLike) -> str:
    """Encode bytes as base64url (RFC 4648 section 5) without ``=`` padding."""
    raw = data.view() if isinstance(data, SecretBuffer) else data
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def b64u_decode(text: str) -> bytes:
    """Decode unpadded base64url.

    Lenient on padding only: up to two trailing ``=`` are accepted and ignored.
    Everything else is strict: no whitespace, no ``+`` or ``/``, and the unused low bits
    of the last character must be zero, so every value has exactly one accepted
    spelling (besides the optional padding). Raises :class:`InputError`; the message
    never repeats the input, which may be a key.
    """
    if not isinstance(text, str):
        raise InputError("base64url input must be text")
    body = text.rstrip("=")
    if len(text) - len(body) > 2:
        raise InputError("not valid base64url: too many '=' padding characters")
    if not _B64U_ALPHABET.fullmatch(body):
        raise InputError("not valid base64url: only A-Z, a-z, 0-9, '-' and '_' are allowed")
    if len(body) % 4 == 1:
        raise InputError("not valid base64url: the length is impossible")
    try:
        raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
    except (binascii.Error, ValueError):
        raise InputError("not valid base64url") from None
    if b64u_encode(raw) != body:
        raise InputError("not valid base64url: the last character has stray bits set")
    return raw


def passphrase_from_text(text: str) -> SecretBuffer:
    """Return the NFC-normalised UTF-8 bytes of a passphrase, the form :func:`derive_keys` takes.

    The ``str`` passed in (and the transient ``bytes`` made here) cannot be wiped; call
    this as late as possible and drop the ``str`` right after.
    """
    try:
        return SecretBuffer(unicodedata.normalize("NFC", text).encode("utf-8"))
    except UnicodeEncodeError:
        raise InputError("the passphrase contains characters that cannot be encoded") from None


def check_iterations(iterations: int) -> None:
    """Refuse a PBKDF2 iteration count outside the accepted range with :class:`EnvelopeError`."""
    if (
        isinstance(iterations, bool)
        or not isinstance(iterations, int)
        or not PBKDF2_MIN_ITERATIONS <= iterations <= PBKDF2_MAX_ITERATIONS
    ):
        raise EnvelopeError(
            f"passphrase iterations must be between {PBKDF2_MIN_ITERATIONS} and {PBKDF2_MAX_ITERATIONS}"
            f" (got {iterations!r})"
        )


class DerivedKeys:
    """The two keys of one envelope: the AES-256-GCM key and the relay auth token."""

    __slots__ = ("auth_token", "enc_key")

    def __init__(self, enc_key: SecretBuffer, auth_token: SecretBuffer) -> None:
        self.enc_key = enc_key
        self.auth_token = auth_token

    def close(self) -> None:
        """Wipe both keys. Safe to call twice."""
        self.enc_key.close()
        self.auth_token.close()

    def __enter__(self) -> DerivedKeys:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return "<DerivedKeys [redacted]>"


def derive_keys(
    fragment_key: SecretBuffer,
    salt: BytesLike,
    passphrase: SecretBuffer | None = None,
    iterations: int = PBKDF2_DEFAULT_ITERATIONS,
) -> DerivedKeys:
    """Derive the envelope key and the auth token.

    ``ikm`` is the fragment key, or the fragment key followed by
    PBKDF2-HMAC-SHA256(passphrase, salt, iterations, 32 bytes) when a passphrase is
    given. Then ``enc_key = HKDF-SHA256(ikm, salt, ENC_KEY_INFO, 32)`` and
    ``auth_token = HKDF-SHA256(ikm, salt, AUTH_TOKEN_INFO, 32)``. ``iterations`` is
    only used, and only checked, when a passphrase is given.
    """
    if not isinstance(fragment_key, SecretBuffer) or len(fragment_key) != FRAGMENT_KEY_LEN:
        raise InputError(f"the fragment key must be {FRAGMENT_KEY_LEN} bytes")
    if len(salt) != SALT_LEN:
        raise InputError(f"the salt must be {SALT_LEN} bytes")
    salt_bytes = bytes(salt)
    if passphrase is not None:
        check_iterations(iterations)
    enc_key = SecretBuffer.allocate(KEY_LEN)
    auth_token = SecretBuffer.allocate(KEY_LEN)
    ikm_len = FRAGMENT_KEY_LEN if passphrase is None else FRAGMENT_KEY_LEN + KEY_LEN
    try:
        with SecretBuffer.allocate(ikm_len) as ikm:
            ikm_view = ikm.writable()
            ikm_view[:FRAGMENT_KEY_LEN] = fragment_key.view()
            if passphrase is not None:
                pbkdf2 = PBKDF2HMAC(hashes.SHA256(), KEY_LEN, salt_bytes, iterations)
                pbkdf2.derive_into(passphrase.view(), ikm_view[FRAGMENT_KEY_LEN:])
            HKDF(hashes.SHA256(), KEY_LEN, salt_bytes, ENC_KEY_INFO).derive_into(ikm_view, enc_key.writable())
            HKDF(hashes.SHA256(), KEY_LEN, salt_bytes, AUTH_TOKEN_INFO).derive_into(ikm_view, auth_token.writable())
    except BaseException:
        enc_key.close()
        auth_token.close()
        raise
    return DerivedKeys(enc_key, auth_token)


def auth_token_hash(token: SecretBuffer | BytesLike) -> str:
    """Return the lowercase hex SHA-256 of an auth token: the only form the relay stores.

    The relay compares a presented token's hash with this value before it releases the
    ciphertext. With a passphrase, someone holding the link but not the passphrase
    therefore cannot fetch the ciphertext to guess offline: each guess is a request the
    relay can count and limit. Without a passphrase the token only proves the link.
    """
    raw = token.view() if isinstance(token, SecretBuffer) else token
    return hashlib.sha256(raw).hexdigest()


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
            write_all(dst, out)
            wipe(out)
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
