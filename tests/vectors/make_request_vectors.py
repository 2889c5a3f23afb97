"""Regenerate tests/vectors/request-v1.json: ``python tests/vectors/make_request_vectors.py``.

Every input (keys, ids, salts, nonce prefixes, plaintexts) is derived from the vector's name with
SHA-256, so a rerun rewrites the file byte for byte. For the browser as much as for the Python tests:

* ``vectors``: answers that must open with ``request_private_hex``. ``fragment`` is what the link
  carries after ``#``; ``request_proof_b64u`` what an answer presents and ``request_proof_sha256_hex``
  what the relay keeps; ``shared_hex`` and ``answer_key_hex`` let the X25519 and HKDF steps be tested
  alone; ``answer_b64u`` is the whole answer (header, then the v1 envelope).
* ``invalid``: answers that must be refused, with ``reason``: ``not-answer``, ``cut``,
  ``wrong-key`` (sealed to another request's key) or ``tampered``.
* ``labels``: sealed labels (``label_box``) that must open to ``label`` with the link's ``fragment``
  and ``request_id_b64u``; ``label_key_hex`` and ``nonce_hex`` let the HKDF step be tested alone.
* ``invalid_labels``: label boxes that must read as "(the description could not be read)".
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from ots_desktop.core import request_box
from ots_desktop.core.ids import b64u_decode, b64u_encode
from ots_desktop.core.secret import SecretBuffer

OUTPUT = Path(__file__).with_name("request-v1.json")


def fixed(name: str, label: str, size: int) -> bytes:
    """Deterministic stand-in for random bytes, unique per vector and field."""
    return hashlib.sha256(f"ots-request-v1 test vector/{name}/{label}".encode()).digest()[:size]


def _public(private: bytes) -> bytes:
    return X25519PrivateKey.from_private_bytes(private).public_key().public_bytes_raw()


def make_vector(name: str, plaintext: bytes, meta: dict[str, object], chunk_size: int = 65536) -> dict[str, Any]:
    request_private, proof_key, eph_private = (fixed(name, label, 32) for label in ("request", "proof", "eph"))
    request_id = fixed(name, "id", 16)
    public = _public(request_private)
    link = request_box.RequestLink(public, SecretBuffer(proof_key))
    with link.proof(request_id) as proof:
        proof_raw = bytes(proof.view())
    eph_public = _public(eph_private)
    shared = X25519PrivateKey.from_private_bytes(eph_private).exchange(X25519PublicKey.from_public_bytes(public))
    answer_key = HKDF(SHA256(), 32, public + eph_public, request_box.ANSWER_KEY_INFO).derive(shared)
    answer = request_box.seal_answer(
        plaintext, request_id=request_id, public_key=public, meta=meta, chunk_size=chunk_size,
        _ephemeral=SecretBuffer(eph_private), _salt=fixed(name, "salt", 16), _nonce_prefix=fixed(name, "nonce", 8))
    return {
        "name": name, "request_id_b64u": b64u_encode(request_id), "request_private_hex": request_private.hex(),
        "request_public_hex": public.hex(), "proof_key_hex": proof_key.hex(), "fragment": link.fragment(),
        "request_proof_b64u": b64u_encode(proof_raw), "request_proof_sha256_hex": hashlib.sha256(proof_raw).hexdigest(),
        "key_hash_hex": link.key_hash(), "ephemeral_private_hex": eph_private.hex(), "ephemeral_public_hex":
        eph_public.hex(), "shared_hex": shared.hex(), "answer_key_hex": answer_key.hex(), "meta": meta,
        "chunk_size": chunk_size, "plaintext_hex": plaintext.hex(), "answer_b64u": b64u_encode(answer),
    }


def make_label(name: str, label: str) -> dict[str, Any]:
    request_id, proof_key = fixed(name, "id", 16), fixed(name, "proof", 32)
    public = _public(fixed(name, "request", 32))
    link = request_box.RequestLink(public, SecretBuffer(proof_key))
    nonce = fixed(name, "label-nonce", 12)
    label_key = HKDF(SHA256(), 32, request_id, request_box.LABEL_KEY_INFO).derive(public + proof_key)
    return {"name": name, "request_id_b64u": b64u_encode(request_id), "fragment": link.fragment(), "label": label,
            "label_key_hex": label_key.hex(), "nonce_hex": nonce.hex(),
            "label_box": link.seal_label(request_id, label, _nonce=nonce)}


def build() -> dict[str, Any]:
    text = "Staging DB: postgres://app:s3cr3t@db:5432/app \u2713".encode()
    vectors = [
        make_vector("text", text, {"type": "text"}),
        make_vector("file-three-chunks", bytes(i % 251 for i in range(40)), {"type": "file", "name": "id_ed25519",
                    "size": 40, "mime": "application/octet-stream"}, chunk_size=16),
        make_vector("empty", b"", {"type": "text"}),
    ]
    base = vectors[0]
    raw = b64u_decode(base["answer_b64u"])
    other = make_vector("other-request", text, {"type": "text"})
    flipped = bytearray(raw)
    flipped[-1] ^= 1
    invalid = [
        {"name": "bad-magic", "reason": "not-answer", "answer_b64u": b64u_encode(b"OTSX" + raw[4:])},
        {"name": "cut-header", "reason": "cut", "answer_b64u": b64u_encode(raw[:50])},
        {"name": "cut-envelope", "reason": "cut", "answer_b64u": b64u_encode(raw[:-7])},
        {"name": "other-key", "reason": "wrong-key", "answer_b64u": other["answer_b64u"]},
        {"name": "forged-key-hash", "reason": "wrong-key",
         "answer_b64u": b64u_encode(raw[:8] + bytes.fromhex(base["key_hash_hex"]) + b64u_decode(
             other["answer_b64u"])[40:])},
        {"name": "tampered-last-byte", "reason": "tampered", "answer_b64u": b64u_encode(bytes(flipped))},
    ]
    labels = [make_label("text", "Staging DB password for the migration \u2713"), make_label("short", "x")]
    box = b64u_decode(labels[0]["label_box"])
    invalid_labels = [
        {"name": "tampered-tag", "label_box": b64u_encode(box[:-1] + bytes([box[-1] ^ 1]))},
        {"name": "tampered-text", "label_box": b64u_encode(box[:20] + bytes([box[20] ^ 1]) + box[21:])},
        {"name": "other-request", "label_box": labels[1]["label_box"]},
        {"name": "version-2", "label_box": b64u_encode(b"\x02" + box[1:])},
        {"name": "cut", "label_box": b64u_encode(box[:20])},
        {"name": "not-base64url", "label_box": "not base64url!"},
    ]
    return {"format": "ots request answer v1", "for_vector": base["name"], "vectors": vectors, "invalid": invalid,
            "labels": labels, "invalid_labels": invalid_labels}


if __name__ == "__main__":
    OUTPUT.write_text(json.dumps(build(), indent=1, sort_keys=True) + "\n", encoding="ascii")
