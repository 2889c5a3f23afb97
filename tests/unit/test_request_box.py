"""Request answers: the committed vectors open and re-seal byte for byte, each attack on an answer
fails with a clear message, and an independent X25519 + HKDF + AES-GCM reading agrees."""

from __future__ import annotations

import hashlib
import importlib.util
import json
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from ots_desktop.core import request_box
from ots_desktop.core.errors import EnvelopeError, InputError
from ots_desktop.core.ids import b64u_decode, new_share_id
from ots_desktop.core.secret import SecretBuffer

VECTORS_DIR = Path(__file__).resolve().parents[1] / "vectors"
DOC: dict[str, Any] = json.loads((VECTORS_DIR / "request-v1.json").read_text(encoding="ascii"))
BY_NAME = {vector["name"]: vector for vector in DOC["vectors"]}
REASONS = {"not-answer": "not an ots answer", "cut": "cut short", "wrong-key": request_box.NOT_FOR_THIS_REQUEST,
           "tampered": "altered"}


def _generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("make_request_vectors", VECTORS_DIR / "make_request_vectors.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_generator_rewrites_the_committed_vectors_byte_for_byte() -> None:
    assert _generator().build() == DOC


@pytest.mark.parametrize("vector", DOC["vectors"], ids=lambda v: v["name"])
def test_each_vector_opens_with_the_request_key(vector: dict[str, Any]) -> None:
    private = SecretBuffer(bytes.fromhex(vector["request_private_hex"]))
    with request_box.open_answer(b64u_decode(vector["answer_b64u"]), request_id=b64u_decode(
            vector["request_id_b64u"]), private_key=private) as opened:
        assert bytes(opened.plaintext.view()).hex() == vector["plaintext_hex"]
        assert opened.meta == vector["meta"]
    link = request_box.parse_fragment(vector["fragment"])
    assert link.public_key.hex() == vector["request_public_hex"] == request_box.public_key_of(private).hex()
    assert link.key_hash() == vector["key_hash_hex"]
    with link.proof(b64u_decode(vector["request_id_b64u"])) as proof:
        assert hashlib.sha256(proof.view()).hexdigest() == vector["request_proof_sha256_hex"]
    request_box.check_answer(b64u_decode(vector["answer_b64u"]), vector["key_hash_hex"])


@pytest.mark.parametrize("vector", DOC["vectors"], ids=lambda v: v["name"])
def test_an_independent_reading_of_the_specification_agrees(vector: dict[str, Any]) -> None:
    """X25519, HKDF and the first chunk's AES-GCM from the docstring alone, not from request_box."""
    answer = b64u_decode(vector["answer_b64u"])
    assert answer[:8] == b"OTSA\x01\0\0\0"
    public, eph = bytes.fromhex(vector["request_public_hex"]), answer[40:72]
    assert answer[8:40] == hashlib.sha256(public).digest()
    shared = X25519PrivateKey.from_private_bytes(bytes.fromhex(vector["request_private_hex"])).exchange(
        X25519PublicKey.from_public_bytes(eph))
    assert shared.hex() == vector["shared_hex"]
    answer_key = HKDF(SHA256(), 32, public + eph, b"ots-desktop/v1 answer key").derive(shared)
    assert answer_key.hex() == vector["answer_key_hex"]
    envelope = answer[72:]
    salt, prefix, meta_len = envelope[8:24], envelope[32:40], int.from_bytes(envelope[40:44], "big")
    enc_key = HKDF(SHA256(), 32, salt, b"ots-desktop/v1 envelope key").derive(answer_key)
    aad = envelope[:44] + b64u_decode(vector["request_id_b64u"]) + b"\x02"
    meta = AESGCM(enc_key).decrypt(prefix + (0).to_bytes(4, "big"), envelope[44:44 + meta_len], aad)
    assert json.loads(meta) == vector["meta"]
    fragment = b64u_decode(vector["fragment"])
    proof = HKDF(SHA256(), 32, b64u_decode(vector["request_id_b64u"]), b"ots-desktop/v1 request proof").derive(
        fragment)
    assert hashlib.sha256(proof).hexdigest() == vector["request_proof_sha256_hex"]


@pytest.mark.parametrize("case", DOC["invalid"], ids=lambda v: v["name"])
def test_invalid_answers_are_refused_clearly(case: dict[str, Any]) -> None:
    base = BY_NAME[DOC["for_vector"]]
    with pytest.raises(EnvelopeError) as caught:
        request_box.open_answer(b64u_decode(case["answer_b64u"]), request_id=b64u_decode(base["request_id_b64u"]),
                                private_key=SecretBuffer(bytes.fromhex(base["request_private_hex"])))
    assert REASONS[case["reason"]] in caught.value.message


def test_the_relay_check_refuses_another_key_and_a_truncated_upload() -> None:
    base = BY_NAME[DOC["for_vector"]]
    answer = b64u_decode(base["answer_b64u"])
    with pytest.raises(EnvelopeError, match="different request's key"):
        request_box.check_answer(answer, "0" * 64)
    with pytest.raises(EnvelopeError, match="cut short"):
        request_box.check_answer(answer[:request_box.ANSWER_HEADER_LEN + 60], base["key_hash_hex"])
    with pytest.raises(EnvelopeError, match="not an ots answer"):
        request_box.check_answer(b"OTSE" + answer[4:], base["key_hash_hex"])


def test_fresh_keys_round_trip_and_the_answer_names_no_plaintext() -> None:
    private, link = request_box.new_request_keys()
    request_id = new_share_id()
    canary = b"canary-7f3a9c-request-answer"
    answer = request_box.seal_answer(canary, request_id=request_id, public_key=link.public_key,
                                     meta={"type": "text"})
    assert canary not in answer
    assert link.public_key not in answer  # only its hash travels
    request_box.check_answer(answer, link.key_hash())
    with request_box.open_answer(answer, request_id=request_id, private_key=private) as opened:
        assert bytes(opened.plaintext.view()) == canary
    # Another request id (the envelope's AAD) or another private key cannot open it.
    with pytest.raises(EnvelopeError, match="not sealed to this request"):
        request_box.open_answer(answer, request_id=new_share_id(), private_key=private)
    other, _ = request_box.new_request_keys()
    with pytest.raises(EnvelopeError, match="not sealed to this request"):
        request_box.open_answer(answer, request_id=request_id, private_key=other)
    # Two answers to one key never share an ephemeral key.
    again = request_box.seal_answer(canary, request_id=request_id, public_key=link.public_key, meta={"type": "text"})
    assert again[40:72] != answer[40:72]
    assert "canary" not in repr(link) and "canary" not in repr(private)


def test_a_low_order_public_key_and_a_bad_fragment_are_refused() -> None:
    with pytest.raises(EnvelopeError, match="low-order"):
        request_box.seal_answer(b"x", request_id=new_share_id(), public_key=bytes(32), meta={"type": "text"})
    with pytest.raises(InputError, match="86 base64url"):
        request_box.parse_fragment("abc")
    with pytest.raises(InputError, match="86 base64url"):
        request_box.parse_fragment("A" * 43)


LABEL_BASE = DOC["labels"][0]


@pytest.mark.parametrize("vector", DOC["labels"], ids=lambda v: v["name"])
def test_each_label_vector_opens_and_an_independent_reading_agrees(vector: dict[str, Any]) -> None:
    rid, fragment = b64u_decode(vector["request_id_b64u"]), b64u_decode(vector["fragment"])
    link = request_box.parse_fragment(vector["fragment"])
    assert link.open_label(rid, vector["label_box"]) == vector["label"]
    assert link.seal_label(rid, vector["label"], _nonce=bytes.fromhex(vector["nonce_hex"])) == vector["label_box"]
    # The specification read alone: HKDF of the fragment salted with the id, AES-256-GCM with the id as AAD.
    key = HKDF(SHA256(), 32, rid, b"ots-desktop/v1 request label").derive(fragment)
    assert key.hex() == vector["label_key_hex"]
    box = b64u_decode(vector["label_box"])
    assert box[0] == 1 and box[1:13].hex() == vector["nonce_hex"]
    assert AESGCM(key).decrypt(box[1:13], box[13:], rid).decode() == vector["label"]


@pytest.mark.parametrize("case", DOC["invalid_labels"], ids=lambda c: c["name"])
def test_a_label_box_that_does_not_open_reads_as_unreadable(case: dict[str, Any]) -> None:
    link = request_box.parse_fragment(LABEL_BASE["fragment"])
    rid = b64u_decode(LABEL_BASE["request_id_b64u"])
    assert link.open_label(rid, case["label_box"]) == request_box.LABEL_UNREADABLE == (
        "(the description could not be read)")


def test_a_fresh_label_box_hides_the_text_and_changes_each_time() -> None:
    _, link = request_box.new_request_keys()
    rid = new_share_id()
    label = "Staging DB password for the migration"
    first, second = link.seal_label(rid, label), link.seal_label(rid, label)
    assert first != second and label.encode() not in b64u_decode(first)
    assert len(first) <= request_box.MAX_LABEL_BOX_LEN
    assert link.open_label(rid, first) == link.open_label(rid, second) == label
    assert link.seal_label(rid, "") == "" and link.open_label(rid, "") == ""
    longest = "\u2713" * 200  # the longest label a requester may give, in 3-byte characters
    assert len(link.seal_label(rid, longest)) <= request_box.MAX_LABEL_BOX_LEN
    # A box that opens to a line break or a control character is not shown as it is.
    assert link.open_label(rid, link.seal_label(rid, "two\nlines")) == request_box.LABEL_UNREADABLE
