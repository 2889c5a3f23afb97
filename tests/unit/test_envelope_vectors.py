"""The committed envelope vectors open, re-seal byte for byte, fail where they must, and
agree with an independent reading of the specification in ``envelope``'s docstring."""

from __future__ import annotations

import base64
import hashlib
import hmac
import importlib.util
import io
import json
import struct
import unicodedata
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from ots_desktop.core import envelope, ids, kdf
from ots_desktop.core.errors import EnvelopeError
from ots_desktop.core.secret import SecretBuffer

VECTORS_DIR = Path(__file__).resolve().parents[1] / "vectors"
JSON_PATH = VECTORS_DIR / "envelope-v1.json"
DOC: dict[str, Any] = json.loads(JSON_PATH.read_text(encoding="utf-8"))
VALID: list[dict[str, Any]] = DOC["vectors"]
INVALID: list[dict[str, Any]] = DOC["invalid"]

# What each ``reason`` in the JSON looks like in this implementation's messages.
REASON_MESSAGES = {
    "not-envelope": "not an ots envelope",
    "unsupported-version": "unsupported envelope version 2",
    "damaged-header": "the envelope is damaged: its header is invalid",
    "needs-passphrase": envelope.NEEDS_PASSPHRASE,
    "cut": "the envelope is damaged: it is cut short or its chunk boundaries are wrong",
    "cannot-decrypt": envelope.DECRYPT_FAILED,
    "tampered": "the envelope is damaged: its content was altered, reordered or cut short",
}


def _load_builder() -> ModuleType:
    spec = importlib.util.spec_from_file_location("make_envelope_vectors", VECTORS_DIR / "make_vectors.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _inputs(vector: dict[str, Any]) -> tuple[bytes, SecretBuffer, SecretBuffer | None]:
    passphrase = vector["passphrase"]
    return (
        ids.b64u_decode(vector["share_id"]),
        SecretBuffer(ids.b64u_decode(vector["fragment_key"])),
        None if passphrase is None else kdf.passphrase_from_text(passphrase),
    )


def _ids(vectors: list[dict[str, Any]]) -> list[str]:
    return [v["name"] for v in vectors]


def test_document_shape() -> None:
    assert DOC["format"] == "ots-envelope" and DOC["version"] == 1
    names = _ids(VALID) + _ids(INVALID)
    assert len(names) == len(set(names))
    assert {v["reason"] for v in INVALID} == set(REASON_MESSAGES)
    assert any(v["passphrase"] for v in VALID) and any(not v["plaintext_hex"] for v in VALID)


@pytest.mark.parametrize("vector", VALID, ids=_ids(VALID))
def test_valid_vector_opens(vector: dict[str, Any]) -> None:
    share_id, key, passphrase = _inputs(vector)
    data = base64.b64decode(vector["envelope_b64"])
    header = envelope.read_header(data)
    assert header.needs_passphrase == (vector["passphrase"] is not None)
    assert (header.iterations, header.chunk_size) == (vector["iterations"], vector["chunk_size"])
    assert (header.salt.hex(), header.nonce_prefix.hex()) == (vector["salt"], vector["nonce_prefix"])
    with envelope.open_envelope(data, share_id=share_id, fragment_key=key, passphrase=passphrase) as opened:
        assert opened.plaintext == bytes.fromhex(vector["plaintext_hex"])
        assert opened.meta == vector["meta"]
    out = io.BytesIO()
    meta = envelope.open_stream(io.BytesIO(data), out, share_id=share_id, fragment_key=key, passphrase=passphrase)
    assert (meta, out.getvalue().hex()) == (vector["meta"], vector["plaintext_hex"])


@pytest.mark.parametrize("vector", VALID, ids=_ids(VALID))
def test_valid_vector_key_derivation(vector: dict[str, Any]) -> None:
    _, key, passphrase = _inputs(vector)
    salt = bytes.fromhex(vector["salt"])
    with kdf.derive_keys(key, salt, passphrase, vector["iterations"]) as keys:
        assert keys.enc_key == bytes.fromhex(vector["enc_key_hex"])
        assert keys.auth_token == bytes.fromhex(vector["auth_token_hex"])
        assert kdf.auth_token_hash(keys.auth_token) == vector["auth_token_sha256_hex"]
    with kdf.derive_link_proof(key, salt) as proof:
        assert proof == bytes.fromhex(vector["link_proof_hex"])
        assert kdf.auth_token_hash(proof) == vector["link_proof_sha256_hex"]
        # The proof shows the key, not the passphrase: it is never the auth token.
        assert proof != bytes.fromhex(vector["auth_token_hex"])


@pytest.mark.parametrize("vector", VALID, ids=_ids(VALID))
def test_valid_vector_reseals_byte_for_byte(vector: dict[str, Any]) -> None:
    share_id, key, passphrase = _inputs(vector)
    sealed = envelope.seal(
        bytes.fromhex(vector["plaintext_hex"]), share_id=share_id, fragment_key=key, meta=vector["meta"],
        passphrase=passphrase, iterations=vector["iterations"], chunk_size=vector["chunk_size"],
        _salt=bytes.fromhex(vector["salt"]), _nonce_prefix=bytes.fromhex(vector["nonce_prefix"]),
        _pad_meta=vector["meta_padded"],
    )  # fmt: skip
    assert base64.b64encode(sealed).decode("ascii") == vector["envelope_b64"]


@pytest.mark.parametrize("vector", INVALID, ids=_ids(INVALID))
def test_invalid_vector_is_refused(vector: dict[str, Any]) -> None:
    share_id, key, passphrase = _inputs(vector)
    data = base64.b64decode(vector["envelope_b64"])
    expected = REASON_MESSAGES[vector["reason"]]
    with pytest.raises(EnvelopeError) as single:
        envelope.open_envelope(data, share_id=share_id, fragment_key=key, passphrase=passphrase)
    assert str(single.value) == expected
    with pytest.raises(EnvelopeError) as streamed:
        envelope.open_stream(io.BytesIO(data), io.BytesIO(), share_id=share_id, fragment_key=key, passphrase=passphrase)
    assert str(streamed.value) == expected


def test_committed_json_is_exactly_what_the_builder_makes() -> None:
    assert _load_builder().render() == JSON_PATH.read_text(encoding="utf-8")


# ---------------------------------------------------------------- independent reader
# Written from the module docstring with other primitives (hashlib PBKDF2, HMAC-based
# HKDF, the one-shot AESGCM API), as the browser will, so a drift between the spec and
# the implementation shows up here.


def _hkdf_sha256(ikm: bytes, salt: bytes, info: bytes) -> bytes:
    prk = hmac.new(salt, ikm, hashlib.sha256).digest()
    return hmac.new(prk, info + b"\x01", hashlib.sha256).digest()


def _reference_open(data: bytes, share_id: bytes, key: bytes, passphrase: str | None) -> tuple[Any, bytes]:
    magic, version, flags, reserved, salt, iterations, size, prefix, meta_len = struct.unpack(
        ">4sBBH16sII8sI", data[:44]
    )
    if magic != b"OTSE" or version != 1 or flags not in (0, 1) or reserved:
        raise ValueError("bad header")
    ikm = key
    if flags:
        if passphrase is None:
            raise ValueError("passphrase needed")
        pw = unicodedata.normalize("NFC", passphrase).encode("utf-8")
        ikm += hashlib.pbkdf2_hmac("sha256", pw, salt, iterations, 32)
    aes = AESGCM(_hkdf_sha256(ikm, salt, b"ots-desktop/v1 envelope key"))

    def chunk(counter: int, kind: int, blob: bytes) -> bytes:
        return aes.decrypt(prefix + struct.pack(">I", counter), blob, data[:44] + share_id + bytes([kind]))

    meta = json.loads(chunk(0, 2, data[44 : 44 + meta_len]))
    body = data[44 + meta_len :]
    rest = len(body) % (size + 16)
    if len(body) != 16 and (len(body) < 16 or 0 < rest <= 16):
        raise ValueError("bad layout")
    pieces = [body[i : i + size + 16] for i in range(0, len(body), size + 16)]
    plain = b"".join(chunk(i + 1, int(i == len(pieces) - 1), p) for i, p in enumerate(pieces))
    return meta, plain


@pytest.mark.parametrize("vector", VALID, ids=_ids(VALID))
def test_reference_reader_opens_valid_vectors(vector: dict[str, Any]) -> None:
    meta, plain = _reference_open(
        base64.b64decode(vector["envelope_b64"]), ids.b64u_decode(vector["share_id"]),
        ids.b64u_decode(vector["fragment_key"]), vector["passphrase"],
    )  # fmt: skip
    assert (meta, plain.hex()) == (vector["meta"], vector["plaintext_hex"])
    salt = bytes.fromhex(vector["salt"])
    ikm = ids.b64u_decode(vector["fragment_key"])
    if vector["passphrase"] is None:
        assert _hkdf_sha256(ikm, salt, b"ots-desktop/v1 auth token").hex() == vector["auth_token_hex"]
    proof = _hkdf_sha256(ikm, salt, b"ots-desktop/v1 link proof")
    assert proof.hex() == vector["link_proof_hex"]
    assert hashlib.sha256(proof).hexdigest() == vector["link_proof_sha256_hex"]


@pytest.mark.parametrize("vector", INVALID, ids=_ids(INVALID))
def test_reference_reader_refuses_invalid_vectors(vector: dict[str, Any]) -> None:
    with pytest.raises((ValueError, InvalidTag, struct.error)):
        _reference_open(
            base64.b64decode(vector["envelope_b64"]), ids.b64u_decode(vector["share_id"]),
            ids.b64u_decode(vector["fragment_key"]), vector["passphrase"],
        )  # fmt: skip
