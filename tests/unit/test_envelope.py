"""Link envelope: round trips, tamper detection, limits, memory bounds and error hygiene."""

from __future__ import annotations

import hashlib
import io
import tracemalloc
from pathlib import Path
from typing import Any, BinaryIO, cast

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ots_desktop.core import chunks, envelope, ids, kdf
from ots_desktop.core.envelope_meta import META_BUCKET
from ots_desktop.core.errors import EnvelopeError, InputError
from ots_desktop.core.secret import SecretBuffer

SHARE_ID = bytes(range(16))
OTHER_SHARE_ID = bytes(range(1, 17))
KEY_BYTES = hashlib.sha256(b"test fragment key").digest()
OTHER_KEY_BYTES = hashlib.sha256(b"another fragment key").digest()
SALT = bytes(range(100, 116))
PREFIX = bytes(range(200, 208))
TEXT = {"type": "text"}

# No example database: nothing is written into the source tree.
PROPERTY = settings(
    deadline=None, max_examples=200, database=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def _key(raw: bytes = KEY_BYTES) -> SecretBuffer:
    return SecretBuffer(raw)


def _seal(data: bytes, chunk_size: int = 64, **kwargs: Any) -> bytes:
    kwargs.setdefault("meta", TEXT)
    return envelope.seal(
        data, share_id=SHARE_ID, fragment_key=_key(), chunk_size=chunk_size, _salt=SALT, _nonce_prefix=PREFIX, **kwargs
    )


def _open(data: bytes, **kwargs: Any) -> envelope.Opened:
    kwargs.setdefault("share_id", SHARE_ID)
    kwargs.setdefault("fragment_key", _key())
    return envelope.open_envelope(data, **kwargs)


def _open_stream(data: bytes, **kwargs: Any) -> bytes:
    out = io.BytesIO()
    envelope.open_stream(io.BytesIO(data), out, share_id=SHARE_ID, fragment_key=_key(), **kwargs)
    return out.getvalue()


@PROPERTY
@given(data=st.binary(max_size=4096), chunk_size=st.integers(1, 300))
def test_seal_open_round_trip(data: bytes, chunk_size: int) -> None:
    sealed = envelope.seal(data, share_id=SHARE_ID, fragment_key=_key(), meta=TEXT, chunk_size=chunk_size)
    with _open(sealed) as opened:
        assert opened.plaintext == data
        assert opened.meta == TEXT
    chunks = max(1, -(-len(data) // chunk_size))
    assert len(sealed) == envelope.HEADER_LEN + META_BUCKET + 16 + len(data) + 16 * chunks


@PROPERTY
@given(data=st.binary(max_size=3000), chunk_size=st.integers(1, 300))
def test_streams_match_single_shot_byte_for_byte(data: bytes, chunk_size: int) -> None:
    meta = {"type": "file", "name": "data.bin", "size": len(data)}
    sealed = _seal(data, chunk_size, meta=meta)
    out = io.BytesIO()
    written = envelope.seal_stream(
        io.BytesIO(data), out, share_id=SHARE_ID, fragment_key=_key(), meta=meta, chunk_size=chunk_size,
        _salt=SALT, _nonce_prefix=PREFIX,
    )  # fmt: skip
    assert out.getvalue() == sealed and written == len(sealed)
    plain = io.BytesIO()
    assert envelope.open_stream(io.BytesIO(sealed), plain, share_id=SHARE_ID, fragment_key=_key()) == meta
    assert plain.getvalue() == data


def test_empty_secret_is_one_empty_chunk() -> None:
    sealed = _seal(b"")
    assert len(sealed) == envelope.HEADER_LEN + envelope.read_header(sealed).meta_len + 16
    with _open(sealed) as opened:
        assert len(opened.plaintext) == 0
    assert _open_stream(sealed) == b""


def test_secret_buffer_plaintext_unicode_meta_and_wipe_on_close() -> None:
    meta = {"type": "file", "name": "r\u00e9sum\u00e9 \U0001f511.pdf", "size": 3, "mime": "application/pdf"}
    with SecretBuffer(b"abc") as plain:
        sealed = envelope.seal(plain, share_id=SHARE_ID, fragment_key=_key(), meta=meta)
    with _open(sealed) as opened:
        assert opened.plaintext == b"abc" and opened.meta == meta
        backing = opened.plaintext._buf
    assert opened.plaintext.closed and backing == bytearray(3)  # leaving the block wiped it


def test_a_failed_open_wipes_the_chunks_already_decrypted(monkeypatch: pytest.MonkeyPatch) -> None:
    allocated: list[SecretBuffer] = []
    real_allocate = SecretBuffer.allocate

    def spy(size: int) -> SecretBuffer:
        buf = real_allocate(size)
        allocated.append(buf)
        return buf

    monkeypatch.setattr(SecretBuffer, "allocate", staticmethod(spy))
    sealed = bytearray(_seal(b"A" * 200, chunk_size=64))
    sealed[-1] ^= 1  # only the last chunk fails, after three good ones were written
    with pytest.raises(EnvelopeError, match="altered"):
        _open(bytes(sealed))
    plaintexts = [buf for buf in allocated if len(buf) == 200]
    assert plaintexts and all(buf.closed and not any(buf._buf) for buf in plaintexts)


@PROPERTY
@given(data=st.binary(max_size=300), chunk_size=st.integers(1, 64), where=st.data())
def test_flipping_any_bit_is_detected(data: bytes, chunk_size: int, where: st.DataObject) -> None:
    sealed = bytearray(_seal(data, chunk_size))
    bit = where.draw(st.integers(0, len(sealed) * 8 - 1))
    sealed[bit // 8] ^= 1 << (bit % 8)
    with pytest.raises(EnvelopeError):
        _open(bytes(sealed))
    with pytest.raises(EnvelopeError):
        _open_stream(bytes(sealed))


@PROPERTY
@given(data=st.binary(max_size=300), chunk_size=st.integers(1, 64), where=st.data())
def test_truncating_anywhere_is_detected(data: bytes, chunk_size: int, where: st.DataObject) -> None:
    sealed = _seal(data, chunk_size)
    cut = where.draw(st.integers(0, len(sealed) - 1))
    with pytest.raises(EnvelopeError):
        _open(sealed[:cut])
    with pytest.raises(EnvelopeError):
        _open_stream(sealed[:cut])


def test_every_bit_flip_and_every_truncation_of_a_small_envelope() -> None:
    sealed = _seal(bytes(range(10)), chunk_size=4)  # chunks of 4, 4 and 2 bytes
    for bit in range(len(sealed) * 8):
        damaged = bytearray(sealed)
        damaged[bit // 8] ^= 1 << (bit % 8)
        with pytest.raises(EnvelopeError):
            _open(bytes(damaged))
    for cut in range(len(sealed)):
        with pytest.raises(EnvelopeError):
            _open(sealed[:cut])


def _forge(pieces: list[tuple[bytes, int]], chunk_size: int) -> bytes:
    """An envelope sealed with the right key but chunked against the rules."""
    meta = b'{"type":"text"}'
    header = envelope.Header(1, False, SALT, 0, chunk_size, PREFIX, len(meta) + 16).pack()
    cipher = chunks.ChunkCipher(kdf.derive_keys(_key(), SALT), header, SHARE_ID)
    parts = [header]
    for counter, (plain, kind) in enumerate([(meta, chunks.KIND_META), *pieces]):
        out = bytearray(len(plain) + 16)
        cipher.seal_into(counter, kind, memoryview(plain), memoryview(out))
        parts.append(bytes(out))
    cipher.close()
    return b"".join(parts)


# An empty final chunk after data (the reader could not tell where the stream ends), and
# a short chunk that is not the last.
@pytest.mark.parametrize("first, last", [(b"abcd", b""), (b"ab", b"cd")])
def test_bad_chunk_boundaries_are_refused(first: bytes, last: bytes) -> None:
    forged = _forge([(first, chunks.KIND_DATA), (last, chunks.KIND_LAST)], chunk_size=4)
    for open_ in (_open, _open_stream):
        with pytest.raises(EnvelopeError, match=r"^the envelope is damaged"):
            open_(forged)


def test_wrong_share_id_or_key_cannot_decrypt_and_leaks_no_key() -> None:
    sealed = _seal(b"payload")
    for kwargs in ({"share_id": OTHER_SHARE_ID}, {"fragment_key": _key(OTHER_KEY_BYTES)}):
        with pytest.raises(EnvelopeError) as caught:
            _open(sealed, **kwargs)
        message = str(caught.value)
        assert message == envelope.DECRYPT_FAILED
        for raw in (KEY_BYTES, OTHER_KEY_BYTES):
            assert ids.b64u_encode(raw) not in message and raw.hex() not in message
        assert caught.value.__cause__ is None and caught.value.__suppress_context__


def test_passphrase_right_wrong_missing_unneeded_and_nfc() -> None:
    composed = kdf.passphrase_from_text("caf\u00e9 au lait")
    sealed = _seal(b"db password", passphrase=composed)
    header = envelope.read_header(sealed)
    assert header.needs_passphrase and header.iterations == kdf.PBKDF2_MIN_ITERATIONS
    # The decomposed spelling normalises to the same bytes and opens the envelope.
    with _open(sealed, passphrase=kdf.passphrase_from_text("cafe\u0301 au lait")) as opened:
        assert opened.plaintext == b"db password"
    with pytest.raises(EnvelopeError) as wrong:
        _open(sealed, passphrase=kdf.passphrase_from_text("cafe au lait"))
    assert str(wrong.value) == envelope.DECRYPT_FAILED and "lait" not in str(wrong.value)
    with pytest.raises(EnvelopeError, match="protected by a passphrase"):
        _open(sealed)
    with pytest.raises(EnvelopeError, match="protected by a passphrase"):
        _open_stream(sealed)
    # A passphrase given for an envelope that has none is ignored.
    with _open(_seal(b"x"), passphrase=kdf.passphrase_from_text("unused")) as opened:
        assert opened.plaintext == b"x"


def test_key_derivation_matches_hashlib_pbkdf2() -> None:
    # derive_keys uses cryptography's PBKDF2 because it can write into a wipeable buffer.
    pw = kdf.passphrase_from_text("correct horse battery staple")
    stretched = hashlib.pbkdf2_hmac("sha256", b"correct horse battery staple", SALT, 600_000, 32)
    with kdf.derive_keys(_key(), SALT, pw, 600_000) as keys:
        assert keys.enc_key == HKDF(hashes.SHA256(), 32, SALT, kdf.ENC_KEY_INFO).derive(KEY_BYTES + stretched)
        assert keys.auth_token == HKDF(hashes.SHA256(), 32, SALT, kdf.AUTH_TOKEN_INFO).derive(KEY_BYTES + stretched)
    with kdf.derive_keys(_key(), SALT) as keys:
        assert keys.enc_key == HKDF(hashes.SHA256(), 32, SALT, kdf.ENC_KEY_INFO).derive(KEY_BYTES)
    assert "redacted" in repr(keys)


@pytest.mark.parametrize("iterations", [0, 1000, 599_999, kdf.PBKDF2_MAX_ITERATIONS + 1])
def test_iterations_out_of_range_are_refused(iterations: int) -> None:
    with pytest.raises(EnvelopeError, match="iterations"):
        _seal(b"x", passphrase=kdf.passphrase_from_text("pw"), iterations=iterations)
    forged = bytearray(_seal(b"x"))
    forged[5] = 1  # passphrase flag
    forged[24:28] = iterations.to_bytes(4, "big")
    with pytest.raises(EnvelopeError, match="iterations"):
        envelope.read_header(forged)


BAD_NAMES = ("../etc/passwd", "a/b", "a\\b", "..", ".", "", "nul\x00byte", "evil\u202etxt.exe", "lone \ud800", 7)
BAD_OTHERS = [{"type": "directory"}, {"name": "x"}, {"type": "text", "extra": 1}, ["type", "text"]]
BAD_VALUES: list[Any] = [{"size": -1}, {"size": True}, {"size": 1.5}, {"mime": None}, {"mime": "\udfff"}]
TOO_LONG = {"type": "file", "name": "x" * (envelope.MAX_META_LEN + 1)}
BAD_METAS = [
    *({"type": "file", "name": n} for n in BAD_NAMES),
    *BAD_OTHERS,
    *({"type": "file", **v} for v in BAD_VALUES),
]


@pytest.mark.parametrize("meta", [*BAD_METAS, TOO_LONG])
def test_bad_metadata_is_refused(meta: Any) -> None:
    with pytest.raises(InputError):
        _seal(b"x", meta=meta)


def test_bad_arguments_are_refused() -> None:
    with pytest.raises(InputError, match="share id"):
        envelope.seal(b"x", share_id=b"short", fragment_key=_key(), meta=TEXT)
    with pytest.raises(InputError, match="fragment key"):
        envelope.seal(b"x", share_id=SHARE_ID, fragment_key=SecretBuffer(b"short"), meta=TEXT)
    for size in (0, envelope.MAX_CHUNK_SIZE + 1):
        with pytest.raises(InputError, match="chunk size"):
            _seal(b"x", chunk_size=size)
    with pytest.raises(InputError, match="passphrase is empty"):
        _seal(b"x", passphrase=SecretBuffer(b""))


def test_read_header_messages() -> None:
    sealed = _seal(b"x")
    for junk in (b"", b"hello world, this is not an envelope at all!!", b"PK\x03\x04" + sealed[4:]):
        with pytest.raises(EnvelopeError, match=r"^not an ots envelope$"):
            envelope.read_header(junk)
    with pytest.raises(EnvelopeError, match=r"^unsupported envelope version 7$"):
        envelope.read_header(sealed[:4] + b"\x07" + sealed[5:])
    with pytest.raises(EnvelopeError, match="cut short"):
        envelope.read_header(sealed[:20])
    with pytest.raises(EnvelopeError, match="header is invalid"):  # iterations without the passphrase flag
        envelope.read_header(sealed[:24] + (600_000).to_bytes(4, "big") + sealed[28:])
    header = envelope.read_header(sealed)
    assert header == envelope.Header(1, False, SALT, 0, 64, PREFIX, META_BUCKET + 16)
    assert header.pack() == sealed[: envelope.HEADER_LEN]


def test_b64u_and_new_identifiers() -> None:
    raw = bytes(range(250, 256)) + b"\x00"
    text = ids.b64u_encode(raw)
    assert "=" not in text and "+" not in text and "/" not in text
    assert ids.b64u_decode(text) == raw and ids.b64u_decode(text + "=") == raw
    assert ids.b64u_decode("") == b""
    for bad in ("a", "ab+c", "ab/c", "ab c", "ab==c", "abc====", "AB", "\u00e9\u00e9"):
        with pytest.raises(InputError):
            ids.b64u_decode(bad)
    key_text = ids.b64u_encode(KEY_BYTES)
    with pytest.raises(InputError) as caught:
        ids.b64u_decode(key_text + "!")
    assert key_text not in str(caught.value)
    share_ids = {ids.new_share_id() for _ in range(8)}
    assert len(share_ids) == 8 and all(len(i) == 16 for i in share_ids)
    with ids.new_fragment_key() as one, ids.new_fragment_key() as two:
        assert len(one) == 32 and one != two


class _Pattern:
    """``size`` bytes of a repeated 64 KiB block, read without allocating per call."""

    def __init__(self, size: int) -> None:
        self.block = memoryview(bytes(hashlib.sha256(bytes([i])).digest()[0] for i in range(256)) * 256)
        self.size, self.pos = size, 0

    def readinto(self, buf: memoryview) -> int:
        start = self.pos % len(self.block)
        n = min(len(buf), len(self.block) - start, self.size - self.pos)
        buf[:n] = self.block[start : start + n]
        self.pos += n
        return n


class _HashSink:
    def __init__(self) -> None:
        self.digest = hashlib.sha256()
        self.size = 0

    def write(self, data: memoryview) -> int:
        self.digest.update(data)
        self.size += len(data)
        return len(data)


def test_streaming_8_mib_stays_under_1_mib(tmp_path: Path) -> None:
    size = 8 * 1024 * 1024
    block = _Pattern(size).block
    expected = hashlib.sha256(bytes(block) * (size // len(block)))
    path = tmp_path / "big.otse"
    sink, key, src = _HashSink(), _key(), _Pattern(size)
    with path.open("wb") as dst:
        tracemalloc.start()
        try:
            envelope.seal_stream(cast(BinaryIO, src), dst, share_id=SHARE_ID, fragment_key=key, meta=TEXT)
            seal_peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
    with path.open("rb") as sealed:
        tracemalloc.start()
        try:
            envelope.open_stream(sealed, cast(BinaryIO, sink), share_id=SHARE_ID, fragment_key=key)
            open_peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
    assert sink.size == size and sink.digest.digest() == expected.digest()
    assert seal_peak < 1024 * 1024 and open_peak < 1024 * 1024, (seal_peak, open_peak)


def test_progress_is_monotonic_and_ends_at_the_total() -> None:
    data = bytes(range(256)) * 5
    seen: list[int] = []
    out = io.BytesIO()
    envelope.seal_stream(
        io.BytesIO(data), out, share_id=SHARE_ID, fragment_key=_key(), meta=TEXT, chunk_size=100,
        progress=seen.append,
    )  # fmt: skip
    assert seen == sorted(seen) and seen[-1] == len(data) and len(seen) == 13
    opened: list[int] = []
    sealed = out.getvalue()
    envelope.open_stream(
        io.BytesIO(sealed), io.BytesIO(), share_id=SHARE_ID, fragment_key=_key(), progress=opened.append
    )
    assert opened == sorted(opened) and opened[-1] == len(sealed) and len(opened) == 13


def test_short_reads_and_partial_writes_are_handled() -> None:
    class Trickle(io.RawIOBase):
        """Reads and writes at most 7 bytes per call, like a slow pipe or raw file."""

        def __init__(self, data: bytes = b"") -> None:
            self.src, self.out = io.BytesIO(data), bytearray()

        def readinto(self, buf: Any) -> int:
            return self.src.readinto(memoryview(buf)[:7])

        def write(self, data: Any) -> int:
            self.out += bytes(memoryview(data)[:7])
            return min(len(data), 7)

    data = bytes(range(200))
    sink = Trickle()
    envelope.seal_stream(
        cast(BinaryIO, Trickle(data)), cast(BinaryIO, sink), share_id=SHARE_ID, fragment_key=_key(), meta=TEXT,
        chunk_size=50, _salt=SALT, _nonce_prefix=PREFIX,
    )  # fmt: skip
    assert bytes(sink.out) == _seal(data, 50)
    plain = Trickle()
    envelope.open_stream(
        cast(BinaryIO, Trickle(bytes(sink.out))), cast(BinaryIO, plain), share_id=SHARE_ID, fragment_key=_key()
    )
    assert bytes(plain.out) == data
