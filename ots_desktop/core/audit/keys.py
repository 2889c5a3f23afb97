"""Forward-secure signing keys: one Ed25519 key per epoch, each certified by the one before.

The log's identity is its *root* public key, the key of epoch 0. Moving to epoch
``e + 1`` appends a ``key_rotated`` entry whose certificate is signed by the key of
epoch ``e`` over (log id, new epoch, new public key, the entry's seq, the hash of the
entry before it). The old private key is then erased. A verifier who knows only the
root key (or its :func:`fingerprint`) walks the certificates; whoever reads the key of
epoch ``e`` later cannot re-sign anything before that epoch's certificate, because the
certificate signed by the previous (erased) key fixes the chain up to it.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass

from nacl.signing import SigningKey

from ots_desktop.core.audit.chain import canonical_json
from ots_desktop.core.audit.checkpoint import signature_ok

_CERT_DOMAIN = b"ots-desktop audit key certificate v2\n"
_FINGERPRINT_DOMAIN = b"ots-desktop audit root key\n"
FINGERPRINT_BYTES = 20


def fingerprint(root_public_key: bytes) -> str:
    """A short name of the root key to read aloud or print: 32 base32 letters in groups of four."""
    digest = hashlib.sha256(_FINGERPRINT_DOMAIN + root_public_key).digest()[:FINGERPRINT_BYTES]
    text = base64.b32encode(digest).decode("ascii").lower()
    return "-".join(text[i:i + 4] for i in range(0, len(text), 4))


def normalize_fingerprint(text: str) -> str | None:
    """``text`` as :func:`fingerprint` writes it, or None when it is not a fingerprint."""
    letters = "".join(ch for ch in text.lower() if ch not in " -:\t")
    if len(letters) != 32 or any(ch not in "abcdefghijklmnopqrstuvwxyz234567" for ch in letters):
        return None
    return "-".join(letters[i:i + 4] for i in range(0, 32, 4))


def public_key_of(seed: bytes) -> bytes:
    """The Ed25519 public key of a 32-byte seed."""
    return bytes(SigningKey(seed).verify_key)


@dataclass(frozen=True)
class KeyCertificate:
    """Epoch ``epoch`` signs with ``public_key`` from entry ``seq`` on; signed by the previous epoch's key."""

    log_id: str
    epoch: int
    public_key: str
    seq: int
    prev_hash: str
    signature: str = ""

    def message(self) -> bytes:
        """The exact bytes that are signed."""
        body = {"log_id": self.log_id, "epoch": self.epoch, "public_key": self.public_key, "seq": self.seq,
                "prev_hash": self.prev_hash}
        return _CERT_DOMAIN + canonical_json(body).encode("ascii")

    def signed(self, previous: SigningKey) -> KeyCertificate:
        """This certificate signed by the previous epoch's key."""
        sig = previous.sign(self.message()).signature.hex()
        return KeyCertificate(self.log_id, self.epoch, self.public_key, self.seq, self.prev_hash, sig)

    def is_valid(self, previous_public_key: bytes) -> bool:
        """Whether the previous epoch's key signed this certificate."""
        return signature_ok(previous_public_key, self.message(), self.signature)
