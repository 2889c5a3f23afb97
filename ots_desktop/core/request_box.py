"""Secret requests, format v1: a one-time request link and the answer sealed to the requester's key.

This docstring is the normative specification; tests/vectors/request-v1.json holds test
vectors. A browser repeats every step with WebCrypto alone (X25519, HKDF, AES-GCM).

Keys. Each request has its own X25519 key pair (RFC 7748) and a 32-byte random
``proof_key``. The private key stays with the requester (in the OS keychain). The link is
``{base}/r/{request_id}#{fragment}`` with ``fragment = b64u(public_key || proof_key)``
(64 bytes, 86 characters); ``request_id`` is 16 random bytes like a share id.

Link proof. ``request_proof = HKDF-SHA256(public_key || proof_key, salt = request_id,
info = "ots-desktop/v1 request proof", 32 bytes)``. The relay stores
``hex(SHA-256(request_proof))`` and accepts an answer only with the proof, so a request id
alone (from a proxy log, a browser history) can neither answer nor spend the request.

Answer. The answerer makes a fresh X25519 key pair ``(e, E)`` and computes
``shared = X25519(e, public_key)`` (an all-zero result is refused), then
``answer_key = HKDF-SHA256(shared, salt = public_key || E, info = "ots-desktop/v1 answer
key", 32 bytes)``. The secret is sealed in a v1 link envelope
(:mod:`ots_desktop.core.envelope`) with ``fragment_key = answer_key`` and
``share_id = request_id``, without a passphrase. The answer on the wire is::

    off len
    0   4   magic "OTSA" (4F 54 53 41)
    4   1   version = 1
    5   3   reserved, must be 0
    8   32  key hash: SHA-256(public_key), so the relay can refuse an answer for another request
    40  32  E, the answerer's ephemeral X25519 public key
    72  ..  the v1 envelope

Only the holder of the private key can compute ``shared``; the relay sees the key hash,
``E`` and ciphertext. An answer sealed to another key fails the relay's key hash check or,
if the hash was forged, the envelope's first GCM tag.

Label. The requester's description of what is asked for ("Staging DB password") is sealed
for link holders only: ``label_key = HKDF-SHA256(public_key || proof_key, salt = request_id,
info = "ots-desktop/v1 request label", 32 bytes)``, then ``label_box = b64u(0x01 || nonce ||
AES-256-GCM(label_key, nonce, UTF-8 label, associated data = request_id))`` with a random
12-byte ``nonce``; the leading byte is the label format version (1). A request without a
label has no ``label_box`` (the empty string). The relay stores and serves ``label_box`` as
an opaque base64url string of at most 1200 characters and never sees the text; the
requester shows the label from its own records. A box that does not open (altered by the
relay, another version, not UTF-8, or not one line of printable text) is shown as
"(the description could not be read)" and the request can still be answered.
"""

from __future__ import annotations

import hashlib
import io
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import BinaryIO, cast

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from ots_desktop.core.chunks import BufferFile
from ots_desktop.core.envelope import (
    DECRYPT_FAILED,
    DEFAULT_CHUNK_SIZE,
    Opened,
    check_layout,
    open_envelope,
    seal_stream,
)
from ots_desktop.core.errors import EnvelopeError, InputError
from ots_desktop.core.ids import SHARE_ID_LEN, BytesLike, b64u_decode, b64u_encode
from ots_desktop.core.secret import SecretBuffer

ANSWER_MAGIC = b"OTSA"
ANSWER_VERSION = 1
ANSWER_HEADER_LEN = 72
KEY_LEN = 32
FRAGMENT_LEN = 2 * KEY_LEN
REQUEST_PROOF_INFO = b"ots-desktop/v1 request proof"
ANSWER_KEY_INFO = b"ots-desktop/v1 answer key"
LABEL_KEY_INFO = b"ots-desktop/v1 request label"
LABEL_VERSION = 1
LABEL_NONCE_LEN = 12
MAX_LABEL_BOX_LEN = 1200
LABEL_UNREADABLE = "(the description could not be read)"

NOT_FOR_THIS_REQUEST = "the answer cannot be opened: it was not sealed to this request's key, or it was altered"
_NOT_ANSWER = "not an ots answer"
_BAD_FRAGMENT = "the request link is incomplete: the part after '#' must be 86 base64url characters"


@dataclass(frozen=True)
class RequestLink:
    """What the fragment of a request link holds: the public key and the proof key."""

    public_key: bytes
    proof_key: SecretBuffer

    def fragment(self) -> str:
        """``b64u(public_key || proof_key)``."""
        with SecretBuffer.allocate(FRAGMENT_LEN) as raw:
            raw.writable()[:KEY_LEN] = self.public_key
            raw.writable()[KEY_LEN:] = self.proof_key.view()
            return b64u_encode(raw)

    def proof(self, request_id: BytesLike) -> SecretBuffer:
        """The request proof for ``request_id`` (see the module docstring)."""
        return self._derive(request_id, REQUEST_PROOF_INFO)

    def _derive(self, request_id: BytesLike, info: bytes) -> SecretBuffer:
        rid = _check_id(request_id)
        out = SecretBuffer.allocate(KEY_LEN)
        with SecretBuffer.allocate(FRAGMENT_LEN) as ikm:
            ikm.writable()[:KEY_LEN] = self.public_key
            ikm.writable()[KEY_LEN:] = self.proof_key.view()
            HKDF(hashes.SHA256(), KEY_LEN, rid, info).derive_into(ikm.view(), out.writable())
        return out

    def seal_label(self, request_id: BytesLike, label: str, *, _nonce: bytes | None = None) -> str:
        """The ``label_box`` of ``label`` for ``request_id`` ("" for no label); ``_nonce`` is for test vectors."""
        if not label:
            return ""
        nonce = secrets.token_bytes(LABEL_NONCE_LEN) if _nonce is None else _nonce
        with self._derive(request_id, LABEL_KEY_INFO) as key:
            sealed = AESGCM(bytes(key.view())).encrypt(nonce, label.encode("utf-8"), bytes(request_id))
        return b64u_encode(bytes([LABEL_VERSION]) + nonce + sealed)

    def open_label(self, request_id: BytesLike, label_box: str) -> str:
        """The label in ``label_box`` ("" for none); :data:`LABEL_UNREADABLE` if the box does not open."""
        if not label_box:
            return ""
        try:
            raw = b64u_decode(label_box) if len(label_box) <= MAX_LABEL_BOX_LEN else b""
        except InputError:
            return LABEL_UNREADABLE
        if len(raw) < 1 + LABEL_NONCE_LEN + 16 or raw[0] != LABEL_VERSION:
            return LABEL_UNREADABLE
        try:
            with self._derive(request_id, LABEL_KEY_INFO) as key:
                plain = AESGCM(bytes(key.view())).decrypt(raw[1:1 + LABEL_NONCE_LEN], raw[1 + LABEL_NONCE_LEN:],
                                                          bytes(request_id))
            text = plain.decode("utf-8")
        except (InvalidTag, UnicodeDecodeError):
            return LABEL_UNREADABLE
        return text if text.isprintable() else LABEL_UNREADABLE

    def key_hash(self) -> str:
        """Lowercase hex SHA-256 of the public key: what the relay keeps of it."""
        return hashlib.sha256(self.public_key).hexdigest()

    def close(self) -> None:
        """Wipe the proof key."""
        self.proof_key.close()


def _check_id(request_id: BytesLike) -> bytes:
    if not isinstance(request_id, (bytes, bytearray, memoryview)) or len(request_id) != SHARE_ID_LEN:
        raise InputError(f"the request id must be {SHARE_ID_LEN} bytes")
    return bytes(request_id)


def new_request_keys() -> tuple[SecretBuffer, RequestLink]:
    """A fresh X25519 private key (raw, 32 bytes) and the link material for it."""
    private = X25519PrivateKey.generate()
    # cryptography hands out the raw private key as bytes, which cannot be wiped; it is copied
    # into a wipeable buffer at once and the bytes dropped.
    raw = SecretBuffer(private.private_bytes_raw())
    public = private.public_key().public_bytes_raw()
    return raw, RequestLink(public, SecretBuffer(secrets.token_bytes(KEY_LEN)))


def public_key_of(private_key: SecretBuffer) -> bytes:
    """The X25519 public key of a raw private key."""
    if len(private_key) != KEY_LEN:
        raise InputError(f"the request's private key must be {KEY_LEN} bytes")
    return X25519PrivateKey.from_private_bytes(bytes(private_key.view())).public_key().public_bytes_raw()


def parse_fragment(fragment: str) -> RequestLink:
    """The public key and proof key in a request link's fragment; InputError if it is not one."""
    try:
        raw = b64u_decode(fragment)
    except InputError:
        raise InputError(_BAD_FRAGMENT) from None
    if len(raw) != FRAGMENT_LEN:
        raise InputError(_BAD_FRAGMENT)
    return RequestLink(raw[:KEY_LEN], SecretBuffer(raw[KEY_LEN:]))


def _answer_key(shared: bytes, public_key: bytes, ephemeral: bytes) -> SecretBuffer:
    if not any(shared):
        raise EnvelopeError("the request's public key is invalid (a low-order point)")
    key = SecretBuffer.allocate(KEY_LEN)
    with SecretBuffer(shared) as ikm:
        HKDF(hashes.SHA256(), KEY_LEN, public_key + ephemeral, ANSWER_KEY_INFO).derive_into(ikm.view(), key.writable())
    return key


def _exchange(private: X25519PrivateKey, public_key: bytes) -> bytes:
    try:
        return private.exchange(X25519PublicKey.from_public_bytes(public_key))
    except ValueError:
        raise EnvelopeError("the request's public key is invalid (a low-order point)") from None


@dataclass(frozen=True)
class AnswerHeader:
    """The 72-byte answer header."""

    key_hash: bytes
    ephemeral: bytes


def read_answer_header(data: BytesLike) -> AnswerHeader:
    """Parse the answer header; EnvelopeError if ``data`` does not start with one."""
    head = bytes(memoryview(data).cast("B")[:ANSWER_HEADER_LEN])
    if head[:4] != ANSWER_MAGIC[: len(head[:4])] or not head:
        raise EnvelopeError(_NOT_ANSWER)
    if len(head) > 4 and head[4] != ANSWER_VERSION:
        raise EnvelopeError(f"unsupported answer version {head[4]}")
    if len(head) < ANSWER_HEADER_LEN:
        raise EnvelopeError("the answer is damaged: it is cut short")
    if head[5:8] != b"\0\0\0":
        raise EnvelopeError("the answer is damaged: its header is invalid")
    return AnswerHeader(head[8:40], head[40:72])


def check_answer(data: BytesLike, key_hash: str) -> None:
    """What a relay can check without keys: the header, the key hash and the envelope's layout."""
    header = read_answer_header(data)
    if header.key_hash.hex() != key_hash:
        raise EnvelopeError("the answer was sealed to a different request's key")
    check_layout(memoryview(data).cast("B")[ANSWER_HEADER_LEN:])


def seal_answer_stream(
    src: BinaryIO,
    dst: BinaryIO,
    *,
    request_id: BytesLike,
    public_key: bytes,
    meta: Mapping[str, object],
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    _ephemeral: SecretBuffer | None = None,
    _salt: bytes | None = None,
    _nonce_prefix: bytes | None = None,
) -> int:
    """Seal ``src`` as an answer to the request ``request_id`` with ``public_key``; return bytes written.

    ``_ephemeral`` (a raw X25519 private key), ``_salt`` and ``_nonce_prefix`` are for test vectors.
    """
    rid = _check_id(request_id)
    if len(public_key) != KEY_LEN:
        raise InputError(f"the request's public key must be {KEY_LEN} bytes")
    if _ephemeral is None:
        ephemeral = X25519PrivateKey.generate()
    else:
        ephemeral = X25519PrivateKey.from_private_bytes(bytes(_ephemeral.view()))
    eph_public = ephemeral.public_key().public_bytes_raw()
    head = ANSWER_MAGIC + bytes([ANSWER_VERSION, 0, 0, 0]) + hashlib.sha256(public_key).digest() + eph_public
    with _answer_key(_exchange(ephemeral, public_key), public_key, eph_public) as key:
        dst.write(head)
        written = seal_stream(src, dst, share_id=rid, fragment_key=key, meta=meta, chunk_size=chunk_size,
                              _salt=_salt, _nonce_prefix=_nonce_prefix)
    return ANSWER_HEADER_LEN + written


def seal_answer(plaintext: SecretBuffer | BytesLike, *, request_id: BytesLike, public_key: bytes,
                meta: Mapping[str, object], **options: object) -> bytes:
    """:func:`seal_answer_stream` on a whole secret in memory; returns the answer's bytes."""
    src = plaintext.view() if isinstance(plaintext, SecretBuffer) else memoryview(plaintext).cast("B")
    dst = io.BytesIO()
    seal_answer_stream(cast(BinaryIO, BufferFile(src)), dst, request_id=request_id, public_key=public_key,
                       meta=meta, **options)  # type: ignore[arg-type]
    return dst.getvalue()


def open_answer(data: BytesLike, *, request_id: BytesLike, private_key: SecretBuffer) -> Opened:
    """Check and decrypt an answer with the request's private key; the caller closes the result.

    Every failure raises :class:`EnvelopeError` and leaves nothing decrypted behind.
    """
    rid = _check_id(request_id)
    view = memoryview(data).cast("B")
    header = read_answer_header(view)
    if len(private_key) != KEY_LEN:
        raise InputError(f"the request's private key must be {KEY_LEN} bytes")
    private = X25519PrivateKey.from_private_bytes(bytes(private_key.view()))
    public_key = private.public_key().public_bytes_raw()
    if header.key_hash != hashlib.sha256(public_key).digest():
        raise EnvelopeError(NOT_FOR_THIS_REQUEST)
    with _answer_key(_exchange(private, header.ephemeral), public_key, header.ephemeral) as key:
        try:
            return open_envelope(view[ANSWER_HEADER_LEN:], share_id=rid, fragment_key=key)
        except EnvelopeError as exc:
            if exc.message == DECRYPT_FAILED:  # the first tag failed: another key, or an altered answer
                raise EnvelopeError(NOT_FOR_THIS_REQUEST) from None
            raise
