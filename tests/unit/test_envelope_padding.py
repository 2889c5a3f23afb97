"""The envelope's metadata is padded to a fixed bucket: its length, which the relay sees in the
header, says nothing of text versus file or of the file name's length; unpadded envelopes
written before padding still open."""

from __future__ import annotations

import hashlib
import io
import json

import pytest

from ots_desktop.core import envelope
from ots_desktop.core.envelope_meta import MAX_META_LEN, META_BUCKET, encode_meta, pad_meta
from ots_desktop.core.secret import SecretBuffer

SHARE_ID = bytes(range(16))
KEY = hashlib.sha256(b"padding test key").digest()
BUCKET_META_LEN = META_BUCKET + 16

METAS = [
    {"type": "text"},
    {"type": "text", "size": 0},
    {"type": "text", "size": 123_456_789},
    {"type": "file", "name": "a", "size": 1},
    {"type": "file", "name": "id_ed25519", "size": 411, "mime": "application/octet-stream"},
    {"type": "file", "name": "r\u00e9sum\u00e9 " + "x" * 60 + ".pdf", "size": 10**9, "mime": "application/pdf"},
    {"type": "file", "name": "n" * 255, "size": 2**40,
     "mime": "application/vnd.openxmlformats-officedocument.wordprocessingml.document"},
]


def _seal(meta: dict[str, object], **kwargs: object) -> bytes:
    return envelope.seal(b"the same secret", share_id=SHARE_ID, fragment_key=SecretBuffer(KEY), meta=meta,
                         **kwargs)  # type: ignore[arg-type]


def test_text_and_files_with_names_of_any_usual_length_have_one_meta_length() -> None:
    lengths = {json.dumps(meta): envelope.read_header(_seal(meta)).meta_len for meta in METAS}
    assert set(lengths.values()) == {BUCKET_META_LEN}, lengths
    # Unpadded, the same metadata would have told them apart.
    assert len({len(encode_meta(meta)) for meta in METAS}) == len(METAS)


@pytest.mark.parametrize("name_len", [480, 600, 1000, 5000])
def test_longer_metadata_goes_to_the_next_power_of_two(name_len: int) -> None:
    meta = {"type": "file", "name": "y" * name_len, "size": 5}
    raw = encode_meta(meta)
    padded = pad_meta(raw)
    assert len(padded) >= len(raw) and len(padded) & (len(padded) - 1) == 0 and len(padded) >= META_BUCKET
    assert padded[len(raw):] == b" " * (len(padded) - len(raw))
    assert envelope.read_header(_seal(meta)).meta_len == len(padded) + 16


def test_the_largest_metadata_fits_the_limit() -> None:
    meta = {"type": "file", "name": "z" * (MAX_META_LEN - 40)}
    raw = encode_meta(meta)
    assert len(pad_meta(raw)) == MAX_META_LEN


@pytest.mark.parametrize("meta", METAS, ids=range(len(METAS)))
def test_padded_and_unpadded_envelopes_open_to_the_same_metadata(meta: dict[str, object]) -> None:
    for pad in (True, False):
        sealed = _seal(meta, _pad_meta=pad)
        with envelope.open_envelope(sealed, share_id=SHARE_ID, fragment_key=SecretBuffer(KEY)) as opened:
            assert opened.meta == meta and opened.plaintext == b"the same secret"
        out = io.BytesIO()
        got = envelope.open_stream(io.BytesIO(sealed), out, share_id=SHARE_ID, fragment_key=SecretBuffer(KEY))
        assert got == meta and out.getvalue() == b"the same secret"
