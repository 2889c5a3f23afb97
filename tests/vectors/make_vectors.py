"""Regenerate tests/vectors/envelope-v1.json: ``python tests/vectors/make_vectors.py``.

Every input (ids, keys, salts, nonce prefixes, plaintexts) is fixed or derived from the
vector's name with SHA-256, so a rerun rewrites the file byte for byte. The JSON is for
the browser implementation as much as for the Python tests:

* ``vectors``: envelopes that must open. ``iterations`` is the header value (0 without a
  passphrase); ``enc_key_hex`` and ``auth_token_hex`` let the KDF step be tested alone.
  ``link_proof_hex`` is the link proof (from the fragment key alone) a reveal presents, and
  ``link_proof_sha256_hex`` what the relay keeps of it. ``meta_padded`` is false for
  envelopes whose metadata is not padded, as they were written before padding: readers
  must open them too.
* ``invalid``: envelopes that must be refused. ``reason`` names the failure class a
  reader should report: ``not-envelope``, ``unsupported-version``, ``damaged-header``,
  ``needs-passphrase``, ``cut`` (impossible length or chunk boundary), ``cannot-decrypt``
  (the meta chunk fails: wrong key, passphrase or share id) or ``tampered`` (a data chunk
  fails after the meta chunk opened).
"""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path
from typing import Any

from ots_desktop.core import envelope, ids, kdf
from ots_desktop.core.secret import SecretBuffer

OUTPUT = Path(__file__).with_name("envelope-v1.json")
PASSPHRASE = "correct horse battery staple"
# Non-ASCII on purpose: the browser must NFC-normalise and UTF-8-encode the same way.
UNICODE_PASSPHRASE = "p\u00e4ssw\u00f6rd \u00fcber \u2713 \u79d8\u5bc6"
EMOJI_TEXT = "Gr\u00fc\u00dfe \U0001f511 \u79d8\u5bc6 \u2713 \u2014 na\u00efve caf\u00e9"


def fixed(name: str, label: str, size: int) -> bytes:
    """Deterministic stand-in for random bytes, unique per vector and field."""
    return hashlib.sha256(f"ots-envelope-v1 test vector/{name}/{label}".encode()).digest()[:size]


def pattern(size: int, mul: int, add: int) -> bytes:
    """A plaintext that differs from chunk to chunk, so reordering cannot go unnoticed."""
    return bytes((i * mul + add) % 256 for i in range(size))


def _file_meta(name: str, size: int, mime: str = "application/octet-stream") -> dict[str, object]:
    return {"type": "file", "name": name, "size": size, "mime": mime}


Spec = tuple[str, bytes, dict[str, object], str | None, int, int]
# (name, plaintext, meta, passphrase, iterations, chunk_size)
SPECS: list[Spec] = [
    ("empty-text", b"", {"type": "text"}, None, 0, 65536),
    ("short-ascii-text", b"Hello, world! The database password is hunter2.", {"type": "text"}, None, 0, 65536),
    ("utf8-emoji-text", EMOJI_TEXT.encode("utf-8"), {"type": "text"}, None, 0, 65536),
    ("text-with-passphrase", b"postgres://app:s3cr3t@db.internal:5432/prod", {"type": "text"}, PASSPHRASE, 600_000,
     65536),
    ("file-exactly-one-chunk", pattern(256, 1, 0), _file_meta("one-chunk.bin", 256), None, 0, 256),
    ("file-two-full-chunks", pattern(128, 3, 1), _file_meta("two-chunks.bin", 128), None, 0, 64),
    ("file-3.5-chunks", pattern(224, 7, 3), _file_meta("r\u00e9sum\u00e9 (final).pdf", 224, "application/pdf"), None,
     0, 64),
    ("file-with-passphrase", pattern(300, 13, 5), _file_meta("prod.env", 300, "text/plain"), UNICODE_PASSPHRASE,
     650_000, 128),
]  # fmt: skip
# Written as envelopes were before the metadata was padded.
UNPADDED = {"unpadded-meta-text", "unpadded-meta-file"}
SPECS += [
    ("unpadded-meta-text", b"written before padding", {"type": "text", "size": 22}, None, 0, 65536),
    ("unpadded-meta-file", pattern(40, 5, 9), _file_meta("old.bin", 40), None, 0, 65536),
]


def _passphrase(text: str | None) -> SecretBuffer | None:
    return None if text is None else kdf.passphrase_from_text(text)


def build_valid(spec: Spec) -> dict[str, Any]:
    """Seal one vector and record every input and derived value."""
    name, plaintext, meta, passphrase, iterations, chunk_size = spec
    share_id, salt, prefix = fixed(name, "share_id", 16), fixed(name, "salt", 16), fixed(name, "nonce_prefix", 8)
    with SecretBuffer(fixed(name, "fragment_key", 32)) as key:
        pw = _passphrase(passphrase)
        sealed = envelope.seal(
            plaintext, share_id=share_id, fragment_key=key, meta=meta, passphrase=pw,
            iterations=iterations, chunk_size=chunk_size, _salt=salt, _nonce_prefix=prefix,
            _pad_meta=name not in UNPADDED,
        )  # fmt: skip
        with kdf.derive_keys(key, salt, pw, iterations) as keys:
            enc_key_hex, auth_token_hex = keys.enc_key.view().hex(), keys.auth_token.view().hex()
            token_hash = kdf.auth_token_hash(keys.auth_token)
        with kdf.derive_link_proof(key, salt) as proof:
            link_proof_hex, link_proof_hash = proof.view().hex(), kdf.auth_token_hash(proof)
        return {
            "name": name,
            "share_id": ids.b64u_encode(share_id),
            "fragment_key": ids.b64u_encode(key),
            "passphrase": passphrase,
            "iterations": iterations,
            "chunk_size": chunk_size,
            "salt": salt.hex(),
            "nonce_prefix": prefix.hex(),
            "meta": meta,
            "meta_padded": name not in UNPADDED,
            "plaintext_hex": plaintext.hex(),
            "envelope_b64": base64.b64encode(sealed).decode("ascii"),
            "enc_key_hex": enc_key_hex,
            "auth_token_hex": auth_token_hex,
            "auth_token_sha256_hex": token_hash,
            "link_proof_hex": link_proof_hex,
            "link_proof_sha256_hex": link_proof_hash,
        }


def _invalid(
    base: dict[str, Any], name: str, reason: str, description: str, data: bytes, **changes: Any
) -> dict[str, Any]:
    entry = {
        "name": name,
        "description": description,
        "reason": reason,
        "share_id": base["share_id"],
        "fragment_key": base["fragment_key"],
        "passphrase": base["passphrase"],
        "envelope_b64": base64.b64encode(data).decode("ascii"),
    }
    entry.update(changes)
    return entry


def build_invalid(valid: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Damage the multi-chunk and the passphrase vectors in every way a reader must catch."""
    multi = next(v for v in valid if v["name"] == "file-3.5-chunks")
    locked = next(v for v in valid if v["name"] == "file-with-passphrase")
    env = base64.b64decode(multi["envelope_b64"])
    locked_env = base64.b64decode(locked["envelope_b64"])
    full = multi["chunk_size"] + 16
    body = envelope.HEADER_LEN + envelope.read_header(env).meta_len
    chunk1, chunk2 = env[body : body + full], env[body + full : body + 2 * full]
    last_len = len(env) - body - 3 * full
    header = bytearray(env[: envelope.HEADER_LEN])

    def with_header(offset: int, value: int) -> bytes:
        changed = bytearray(header)
        changed[offset] = value
        return bytes(changed) + env[envelope.HEADER_LEN :]

    return [
        _invalid(multi, "truncated-last-chunk", "tampered", "last byte of the last chunk removed", env[:-1]),
        _invalid(multi, "dropped-last-chunk", "tampered", "the partial last chunk removed entirely",
                 env[:-last_len]),
        _invalid(multi, "cut-inside-chunk", "cut", "ends 10 bytes into the last chunk, shorter than a tag",
                 env[: -last_len + 10]),
        _invalid(multi, "swapped-chunks", "tampered", "data chunks 1 and 2 exchanged",
                 env[:body] + chunk2 + chunk1 + env[body + 2 * full :]),
        _invalid(multi, "trailing-byte", "tampered", "one zero byte appended", env + b"\x00"),
        _invalid(multi, "flipped-bit-in-header", "cannot-decrypt", "lowest bit of the first salt byte flipped",
                 with_header(8, header[8] ^ 0x01)),
        _invalid(multi, "reserved-flag-bit", "damaged-header", "flags bit 1 set", with_header(5, header[5] | 0x02)),
        _invalid(multi, "unsupported-version", "unsupported-version", "version byte 2", with_header(4, 2)),
        _invalid(multi, "not-an-envelope", "not-envelope", "a zip file header", b"PK\x03\x04" + env[4:]),
        _invalid(multi, "wrong-share-id", "cannot-decrypt", "share id of another vector", env,
                 share_id=locked["share_id"]),
        _invalid(multi, "wrong-key", "cannot-decrypt", "fragment key of another vector", env,
                 fragment_key=locked["fragment_key"]),
        _invalid(locked, "wrong-passphrase", "cannot-decrypt", "one letter of the passphrase changed",
                 locked_env, passphrase=locked["passphrase"].replace("p", "q", 1)),
        _invalid(locked, "missing-passphrase", "needs-passphrase", "passphrase required but not given",
                 locked_env, passphrase=None),
    ]  # fmt: skip


def build() -> dict[str, Any]:
    """The whole vector document."""
    valid = [build_valid(spec) for spec in SPECS]
    return {"format": "ots-envelope", "version": 1, "vectors": valid, "invalid": build_invalid(valid)}


def render() -> str:
    """The document as the exact text written to :data:`OUTPUT`."""
    return json.dumps(build(), indent=2, ensure_ascii=False) + "\n"


def main() -> None:
    """Rewrite :data:`OUTPUT`."""
    OUTPUT.write_text(render(), encoding="utf-8", newline="\n")
    print(f"wrote {OUTPUT}")


if __name__ == "__main__":
    main()
