"""Link envelope, format v1: a secret encrypted with AES-256-GCM before it is parked on a relay.

This docstring is the normative specification. A browser opens an envelope with WebCrypto
alone (PBKDF2, HKDF, AES-GCM); tests/vectors/envelope-v1.json holds test vectors.
All integers are unsigned big-endian.

Identifiers. ``share_id``: 16 random bytes naming the share on the relay. ``fragment_key``:
32 random bytes that never reach the relay. Both travel as base64url without padding.

Keys (see :mod:`ots_desktop.core.kdf`); ``salt`` is the 16-byte header field below:
  * with a passphrase, ``pw = PBKDF2-HMAC-SHA256(P, salt, iterations, 32 bytes)`` where
    ``P`` is the UTF-8 encoding of the NFC-normalised passphrase, and
    ``ikm = fragment_key || pw`` (64 bytes); without one, ``ikm = fragment_key`` (32 bytes);
  * ``enc_key = HKDF-SHA256(ikm, salt, info = "ots-desktop/v1 envelope key", 32 bytes)``;
  * ``auth_token = HKDF-SHA256(ikm, salt, info = "ots-desktop/v1 auth token", 32 bytes)``;
  * ``link_proof = HKDF-SHA256(fragment_key, salt, info = "ots-desktop/v1 link proof",
    32 bytes)``: from the fragment key alone, with or without a passphrase.
  WebCrypto: ``deriveBits({name: "PBKDF2", hash: "SHA-256", salt, iterations}, pwKey, 256)``
  and ``deriveBits({name: "HKDF", hash: "SHA-256", salt, info}, ikmKey, 256)``. The relay
  stores ``hex(SHA-256(auth_token))`` and ``hex(SHA-256(link_proof))``. A reveal must
  present ``link_proof`` first: without it nothing is counted, so a share id alone cannot
  spend the passphrase attempts; with it, a wrong ``auth_token`` (a wrong passphrase)
  counts, and the envelope comes back only for the right one. Shares parked without a
  link proof hash (by clients that predate it) are judged on ``auth_token`` alone.

Layout: ``header (44) || meta chunk (M) || data chunk 1 || ... || data chunk n``, then nothing.

Header::

    off len
    0   4   magic "OTSE" (4F 54 53 45)
    4   1   version = 1
    5   1   flags: bit 0 = passphrase required; bits 1-7 must be 0
    6   2   reserved, must be 0
    8   16  salt (random per envelope)
    24  4   PBKDF2 iterations: 0 without a passphrase, 600000..10000000 with one
    28  4   chunk size S: plaintext bytes per full data chunk, 1..16777216 (default 65536)
    32  8   nonce prefix (random per envelope)
    40  4   meta chunk length M = padded meta JSON length + 16, so 16..65552

Chunks. Every chunk is ``AES-256-GCM(enc_key, nonce, aad, plaintext)`` stored as the
ciphertext followed by its 16-byte tag (WebCrypto's ``encrypt`` output, ``tagLength`` 128):
``nonce = nonce_prefix || u32(counter)`` (12 bytes) and
``aad = header (44 bytes) || share_id (16 bytes) || kind (1 byte)``.
  * Meta chunk: counter 0, kind 0x02. Plaintext: a UTF-8 JSON object, at most 65536 bytes,
    written canonically (sorted keys, no whitespace, non-ASCII unescaped; readers accept
    any spelling), then padded with spaces (0x20) to 512 bytes, or to the next power of
    two when longer (M is then 528, 1040, ...), so that M says nothing about the secret's
    type or name. Readers parse the padded text as JSON, whose trailing whitespace is
    allowed: envelopes written unpadded open the same way. Fields: ``type`` ("text" or
    "file", required), ``name`` (non-empty, not "." or "..", no "/" or backslash, only
    printable characters: no Unicode category C* or Z* except U+0020), ``size`` (integer
    >= 0, informative only), ``mime`` (string). Other or duplicate fields are refused.
  * Data chunks: counters 1, 2, ..., at most 2**32 - 1 chunks. Every chunk but the last
    holds exactly S plaintext bytes (S + 16 on the wire); the last holds 1..S bytes, or 0
    bytes only when it is the only data chunk (an empty secret). Kind is 0x01 for the last
    data chunk and 0x00 for every other, so cutting the stream at a chunk boundary fails.

Reading. Let ``B`` be the byte count after the meta chunk. ``B == 16`` is one empty chunk;
otherwise ``q, r = divmod(B, S + 16)`` gives ``q`` chunks when ``r == 0`` and ``q + 1``
when ``r > 16``; ``B < 16`` or ``0 < r <= 16`` is a damaged envelope. Readers refuse unknown
magic, versions, flags, non-zero reserved bytes and out-of-range fields before deriving
keys. A failing meta chunk means a wrong key, passphrase or share id (GCM cannot tell
which); a failing data chunk after a good meta chunk means tampering. GCM releases a chunk
before later ones are checked: a streaming reader must treat its output as unconfirmed
until the last chunk has been authenticated.
"""

from __future__ import annotations

import io
import secrets
import struct
from collections.abc import Mapping
from dataclasses import dataclass
from typing import BinaryIO, cast

from cryptography.exceptions import InvalidTag

from ots_desktop.core.chunks import (
    KIND_META,
    MAX_CHUNKS,
    TAG_LEN,
    BufferFile,
    ChunkCipher,
    Progress,
    pump_chunks,
    read_full,
    write_all,
)
from ots_desktop.core.envelope_meta import MAX_META_LEN, Meta, pad_meta
from ots_desktop.core.envelope_meta import decode_meta as _decode_meta
from ots_desktop.core.envelope_meta import encode_meta as _encode_meta
from ots_desktop.core.errors import EnvelopeError, InputError
from ots_desktop.core.ids import SHARE_ID_LEN, BytesLike
from ots_desktop.core.kdf import PBKDF2_DEFAULT_ITERATIONS, SALT_LEN, check_iterations, derive_keys
from ots_desktop.core.secret import SecretBuffer, wipe

MAGIC = b"OTSE"
VERSION = 1
HEADER_LEN = 44
NONCE_PREFIX_LEN = 8
FLAG_PASSPHRASE = 0x01
MAX_CHUNK_SIZE = 16 * 1024 * 1024
DEFAULT_CHUNK_SIZE = 64 * 1024
_HEADER = struct.Struct(">4sBBH16sII8sI")

DECRYPT_FAILED = "the secret cannot be decrypted: the link is damaged or the passphrase is wrong"
NEEDS_PASSPHRASE = "this secret is protected by a passphrase: enter it to open the secret"  # noqa: S105
_NOT_ENVELOPE = "not an ots envelope"
_DAMAGED_HEADER = "the envelope is damaged: its header is invalid"
_CUT = "the envelope is damaged: it is cut short or its chunk boundaries are wrong"
_TAMPERED = "the envelope is damaged: its content was altered, reordered or cut short"


@dataclass(frozen=True)
class Header:
    """The 44-byte envelope header, as parsed and checked by :func:`read_header`."""

    version: int
    needs_passphrase: bool
    salt: bytes
    iterations: int
    chunk_size: int
    nonce_prefix: bytes
    meta_len: int

    def pack(self) -> bytes:
        """The header's 44 bytes as they appear on the wire and in every chunk's AAD."""
        flags = FLAG_PASSPHRASE if self.needs_passphrase else 0
        fields = (self.salt, self.iterations, self.chunk_size, self.nonce_prefix, self.meta_len)
        return _HEADER.pack(MAGIC, self.version, flags, 0, *fields)


def read_header(data: BytesLike) -> Header:
    """Parse and check the header at the start of ``data``; raise :class:`EnvelopeError` if unusable."""
    head = bytes(memoryview(data).cast("B")[:HEADER_LEN])
    if not head or head[:4] != MAGIC[: len(head[:4])]:
        raise EnvelopeError(_NOT_ENVELOPE)
    if len(head) > 4 and head[4] != VERSION:
        raise EnvelopeError(f"unsupported envelope version {head[4]}")
    if len(head) < HEADER_LEN:
        raise EnvelopeError(_CUT)
    _, version, flags, reserved, salt, iterations, chunk_size, prefix, meta_len = _HEADER.unpack(head)
    needs_passphrase = bool(flags & FLAG_PASSPHRASE)
    if flags & ~FLAG_PASSPHRASE or reserved or (iterations and not needs_passphrase):
        raise EnvelopeError(_DAMAGED_HEADER)
    if not 1 <= chunk_size <= MAX_CHUNK_SIZE or not TAG_LEN <= meta_len <= MAX_META_LEN + TAG_LEN:
        raise EnvelopeError(_DAMAGED_HEADER)
    if needs_passphrase:
        check_iterations(iterations)
    return Header(version, needs_passphrase, salt, iterations, chunk_size, prefix, meta_len)


@dataclass(frozen=True)
class Opened:
    """An opened envelope: its metadata and the plaintext in a wipeable buffer."""

    meta: Meta
    plaintext: SecretBuffer

    def close(self) -> None:
        """Wipe the plaintext. Safe to call twice."""
        self.plaintext.close()

    def __enter__(self) -> Opened:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _open_meta(cipher: ChunkCipher, src: memoryview) -> Meta:
    """Authenticate and parse the meta chunk; failure means a wrong key, passphrase or share id."""
    scratch = bytearray(len(src) - TAG_LEN)
    try:
        cipher.open_into(0, KIND_META, src, memoryview(scratch))
        return _decode_meta(scratch)
    except InvalidTag:
        raise EnvelopeError(DECRYPT_FAILED) from None
    finally:
        wipe(scratch)


def _check_share_id(share_id: BytesLike) -> bytes:
    if not isinstance(share_id, (bytes, bytearray, memoryview)) or len(share_id) != SHARE_ID_LEN:
        raise InputError(f"the share id must be {SHARE_ID_LEN} bytes")
    return bytes(share_id)


def _layout(body_len: int, chunk_size: int) -> tuple[int, int]:
    """Data chunk count and plaintext length for ``body_len`` bytes after the meta chunk."""
    if body_len == TAG_LEN:
        return 1, 0
    full, rest = divmod(body_len, chunk_size + TAG_LEN)
    count = full + (1 if rest else 0)
    if body_len < TAG_LEN or 0 < rest <= TAG_LEN or count > MAX_CHUNKS:
        raise EnvelopeError(_CUT)
    return count, body_len - count * TAG_LEN


def check_layout(data: BytesLike) -> Header:
    """Check an envelope's header and that its length fits the chunk layout, without any key.

    This is all a relay can check: it catches truncation and padding, not tampering.
    """
    view = memoryview(data).cast("B")
    header = read_header(view)
    if len(view) < HEADER_LEN + header.meta_len:
        raise EnvelopeError(_CUT)
    _layout(len(view) - HEADER_LEN - header.meta_len, header.chunk_size)
    return header


def sealed_size(size: int, meta: Mapping[str, object], chunk_size: int = DEFAULT_CHUNK_SIZE) -> int:
    """The length of the envelope :func:`seal_stream` writes for ``size`` plaintext bytes and ``meta``
    (padded), known before anything is sealed: a streamed upload can announce it up front."""
    chunks = max(1, -(-size // chunk_size))
    return HEADER_LEN + len(pad_meta(_encode_meta(meta))) + TAG_LEN + size + chunks * TAG_LEN


def plaintext_size(envelope_len: int, header: Header) -> int:
    """The plaintext length an envelope of ``envelope_len`` bytes with ``header`` holds; EnvelopeError if none."""
    if envelope_len < HEADER_LEN + header.meta_len:
        raise EnvelopeError(_CUT)
    return _layout(envelope_len - HEADER_LEN - header.meta_len, header.chunk_size)[1]


def seal(
    plaintext: SecretBuffer | BytesLike,
    *,
    share_id: BytesLike,
    fragment_key: SecretBuffer,
    meta: Mapping[str, object],
    passphrase: SecretBuffer | None = None,
    iterations: int = PBKDF2_DEFAULT_ITERATIONS,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    _salt: bytes | None = None,
    _nonce_prefix: bytes | None = None,
    _pad_meta: bool = True,
) -> bytes:
    """Encrypt a whole secret into one envelope and return the envelope's bytes.

    ``passphrase`` holds the UTF-8 bytes of the NFC-normalised passphrase (see
    :func:`ots_desktop.core.kdf.passphrase_from_text`); ``iterations`` is used only with
    a passphrase. Bad arguments or metadata raise :class:`InputError`, an iteration count
    out of range :class:`EnvelopeError`. ``_nonce_prefix`` and ``_pad_meta`` are for test
    vectors only; ``_salt`` also for a streamed upload, which announces the auth hash (and
    so needs the salt) before it seals (see :func:`seal_stream`).
    """
    src = plaintext.view() if isinstance(plaintext, SecretBuffer) else memoryview(plaintext).cast("B")
    dst = io.BytesIO()
    seal_stream(
        cast(BinaryIO, BufferFile(src)), dst, share_id=share_id, fragment_key=fragment_key, meta=meta,
        passphrase=passphrase, iterations=iterations, chunk_size=chunk_size, _salt=_salt, _nonce_prefix=_nonce_prefix,
        _pad_meta=_pad_meta,
    )  # fmt: skip
    return dst.getvalue()


def seal_stream(
    src: BinaryIO,
    dst: BinaryIO,
    *,
    share_id: BytesLike,
    fragment_key: SecretBuffer,
    meta: Mapping[str, object],
    passphrase: SecretBuffer | None = None,
    iterations: int = PBKDF2_DEFAULT_ITERATIONS,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    progress: Progress = None,
    _salt: bytes | None = None,
    _nonce_prefix: bytes | None = None,
    _pad_meta: bool = True,
) -> int:
    """Encrypt ``src`` (read with ``readinto``) into ``dst`` and return the bytes written.

    Same arguments and errors as :func:`seal`, whose output this equals byte for byte.
    Memory holds one plaintext and one ciphertext chunk. ``progress`` gets the running
    count of plaintext bytes read after each chunk, ending at the total. ``_pad_meta``
    False writes the metadata unpadded, as envelopes were written before padding (test
    vectors only).
    """
    sid = _check_share_id(share_id)
    if isinstance(chunk_size, bool) or not isinstance(chunk_size, int) or not 1 <= chunk_size <= MAX_CHUNK_SIZE:
        raise InputError(f"the chunk size must be between 1 and {MAX_CHUNK_SIZE} bytes")
    if passphrase is not None and not len(passphrase):
        raise InputError("the passphrase is empty")
    if passphrase is not None:
        check_iterations(iterations)
    meta_raw = pad_meta(_encode_meta(meta)) if _pad_meta else _encode_meta(meta)
    salt = secrets.token_bytes(SALT_LEN) if _salt is None else bytes(_salt)
    prefix = secrets.token_bytes(NONCE_PREFIX_LEN) if _nonce_prefix is None else bytes(_nonce_prefix)
    if len(salt) != SALT_LEN or len(prefix) != NONCE_PREFIX_LEN:
        raise InputError("the salt must be 16 bytes and the nonce prefix 8 bytes")
    fields = (salt, iterations if passphrase is not None else 0, chunk_size, prefix, len(meta_raw) + TAG_LEN)
    header = Header(VERSION, passphrase is not None, *fields).pack()
    cipher = ChunkCipher(derive_keys(fragment_key, salt, passphrase, iterations), header, sid)

    def step(counter: int, kind: int, chunk: memoryview, out: memoryview) -> int:
        if counter > MAX_CHUNKS:
            raise InputError("the secret is too large for this chunk size")
        cipher.seal_into(counter, kind, chunk, out[: len(chunk) + TAG_LEN])
        return len(chunk) + TAG_LEN

    try:
        meta_out = bytearray(len(meta_raw) + TAG_LEN)
        cipher.seal_into(0, KIND_META, memoryview(meta_raw), memoryview(meta_out))
        write_all(dst, memoryview(header + meta_out))
        sizes = (chunk_size, chunk_size + TAG_LEN)
        return HEADER_LEN + len(meta_out) + pump_chunks(src, dst, sizes=sizes, step=step, progress=progress, done=0)
    finally:
        cipher.close()


def open_envelope(
    data: BytesLike, *, share_id: BytesLike, fragment_key: SecretBuffer, passphrase: SecretBuffer | None = None
) -> Opened:
    """Check and decrypt a whole envelope; the caller closes the returned :class:`Opened`.

    The plaintext length follows from the envelope's length, so the plaintext lands in
    one :class:`SecretBuffer` of exactly that size. Every failure raises
    :class:`EnvelopeError` and wipes whatever was decrypted.
    """
    view = memoryview(data).cast("B")
    header = read_header(view)
    if len(view) < HEADER_LEN + header.meta_len:
        raise EnvelopeError(_CUT)
    _, total = _layout(len(view) - HEADER_LEN - header.meta_len, header.chunk_size)
    plaintext = SecretBuffer.allocate(total)
    try:
        meta = open_stream(
            cast(BinaryIO, BufferFile(view)), cast(BinaryIO, BufferFile(plaintext.writable())),
            share_id=share_id, fragment_key=fragment_key, passphrase=passphrase,
        )  # fmt: skip
    except BaseException:
        plaintext.close()
        raise
    return Opened(meta, plaintext)


def open_stream(
    src: BinaryIO,
    dst: BinaryIO,
    *,
    share_id: BytesLike,
    fragment_key: SecretBuffer,
    passphrase: SecretBuffer | None = None,
    progress: Progress = None,
) -> Meta:
    """Check and decrypt an envelope from ``src`` into ``dst``; return its metadata.

    Memory holds one ciphertext and one plaintext chunk. GCM authenticates each chunk on
    its own, so ``dst`` receives plaintext before the end of the stream is proven: treat
    ``dst`` as untrusted until this returns (write to a temporary name, rename on
    success, delete on :class:`EnvelopeError`). ``progress`` gets the running count of
    envelope bytes read after each data chunk, ending at the envelope's length. A
    passphrase given for an envelope that has none is ignored.
    """
    sid = _check_share_id(share_id)
    head = bytearray(HEADER_LEN)
    header = read_header(memoryview(head)[: read_full(src, memoryview(head))])
    if header.needs_passphrase and passphrase is None:
        raise EnvelopeError(NEEDS_PASSPHRASE)
    meta_ct = bytearray(header.meta_len)
    if read_full(src, memoryview(meta_ct)) < header.meta_len:
        raise EnvelopeError(_CUT)
    used = passphrase if header.needs_passphrase else None
    cipher = ChunkCipher(derive_keys(fragment_key, header.salt, used, header.iterations), bytes(head), sid)

    def step(counter: int, kind: int, chunk: memoryview, out: memoryview) -> int:
        # Only a lone data chunk may be empty; anything shorter than a tag is cut off.
        if len(chunk) < TAG_LEN or (len(chunk) == TAG_LEN and counter > 1) or counter > MAX_CHUNKS:
            raise EnvelopeError(_CUT)
        try:
            cipher.open_into(counter, kind, chunk, out)
        except InvalidTag:
            raise EnvelopeError(_TAMPERED) from None
        return len(chunk) - TAG_LEN

    try:
        meta = _open_meta(cipher, memoryview(meta_ct))
        sizes = (header.chunk_size + TAG_LEN, header.chunk_size)
        pump_chunks(src, dst, sizes=sizes, step=step, progress=progress, done=HEADER_LEN + header.meta_len)
        return meta
    finally:
        cipher.close()
