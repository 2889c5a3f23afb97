"""Ed25519-signed checkpoints over (log id, seq, head hash, time).

A valid checkpoint at seq N vouches for every entry up to N, because the head hash
commits to the whole chain before it. The latest checkpoint is also kept in the
keychain, so a file that was truncated or rolled back to an older copy no longer
matches it.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass

from nacl.exceptions import BadSignatureError
from nacl.signing import SigningKey, VerifyKey

from ots_desktop.core.audit.chain import canonical_json

_DOMAIN = b"ots-desktop audit checkpoint v1\n"


def key_id_of(verify_key: bytes) -> str:
    """A short, stable name for a public key: 16 hex digits of its SHA-256."""
    return hashlib.sha256(verify_key).hexdigest()[:16]


@dataclass(frozen=True)
class Checkpoint:
    """A signed statement that the log ``log_id`` had head ``head`` at ``seq``."""

    log_id: str
    seq: int
    head: str
    ts_utc: str
    key_id: str
    signature: str = ""

    def message(self) -> bytes:
        """The exact bytes that are signed."""
        body = {"log_id": self.log_id, "seq": self.seq, "head": self.head, "ts_utc": self.ts_utc,
                "key_id": self.key_id}
        return _DOMAIN + canonical_json(body).encode("ascii")

    def signed(self, key: SigningKey) -> Checkpoint:
        """This checkpoint with a fresh signature by ``key``."""
        sig = key.sign(self.message()).signature.hex()
        return Checkpoint(self.log_id, self.seq, self.head, self.ts_utc, self.key_id, sig)

    def is_valid(self, verify_key: bytes) -> bool:
        """Whether the signature verifies with ``verify_key``."""
        try:
            VerifyKey(verify_key).verify(self.message(), bytes.fromhex(self.signature))
        except (BadSignatureError, ValueError):
            return False
        return True

    def to_json(self) -> str:
        """Canonical JSON, for the keychain and for exports."""
        return canonical_json(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> Checkpoint:
        """Parse :meth:`to_json` output; raises ValueError when malformed."""
        data = json.loads(text)
        if not isinstance(data, dict):
            raise ValueError("checkpoint is not an object")
        try:
            cp = cls(str(data["log_id"]), int(data["seq"]), str(data["head"]), str(data["ts_utc"]),
                     str(data["key_id"]), str(data["signature"]))
        except (KeyError, TypeError) as exc:
            raise ValueError(f"checkpoint is missing {exc}") from None
        return cp
