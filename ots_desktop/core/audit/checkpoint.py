"""Ed25519-signed checkpoints over (log id, seq, head hash, epoch, time).

A valid checkpoint at seq N vouches for every entry up to N, because the head hash
commits to the whole chain before it. It is signed with the key of the epoch that
entry N belongs to (:mod:`.keys`). The latest checkpoint is also kept in the
keychain (:mod:`.state`), so a file that was truncated or rolled back to an older
copy no longer matches it.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, replace

from nacl.exceptions import BadSignatureError
from nacl.signing import SigningKey, VerifyKey

from ots_desktop.core.audit.chain import canonical_json

_DOMAIN = b"ots-desktop audit checkpoint v2\n"


def key_id_of(verify_key: bytes) -> str:
    """A short, stable name for a public key: 16 hex digits of its SHA-256."""
    return hashlib.sha256(verify_key).hexdigest()[:16]


def signature_ok(verify_key: bytes, message: bytes, signature_hex: str) -> bool:
    """Whether ``signature_hex`` is a valid Ed25519 signature of ``message``."""
    try:
        VerifyKey(verify_key).verify(message, bytes.fromhex(signature_hex))
    except (BadSignatureError, ValueError, TypeError):
        return False
    return True


@dataclass(frozen=True)
class Checkpoint:
    """A signed statement that the log ``log_id`` had head ``head`` at ``seq``."""

    log_id: str
    seq: int
    head: str
    ts_utc: str
    key_id: str
    epoch: int = 0
    signature: str = ""

    def message(self) -> bytes:
        """The exact bytes that are signed."""
        body = {"log_id": self.log_id, "seq": self.seq, "head": self.head, "ts_utc": self.ts_utc,
                "key_id": self.key_id, "epoch": self.epoch}
        return _DOMAIN + canonical_json(body).encode("ascii")

    def signed(self, key: SigningKey) -> Checkpoint:
        """This checkpoint with a fresh signature by ``key``."""
        return replace(self, signature=key.sign(self.message()).signature.hex())

    def is_valid(self, verify_key: bytes) -> bool:
        """Whether the signature verifies with ``verify_key``."""
        return signature_ok(verify_key, self.message(), self.signature)

    def to_json(self) -> str:
        """Canonical JSON, for the keychain and for exports."""
        return canonical_json(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> Checkpoint:
        """Parse :meth:`to_json` output; raises ValueError when malformed."""
        data = json.loads(text)
        return cls.from_dict(data)

    @classmethod
    def from_dict(cls, data: object) -> Checkpoint:
        """Build from a parsed JSON object; raises ValueError when malformed."""
        if not isinstance(data, dict):
            raise ValueError("checkpoint is not an object")
        try:
            seq, epoch = data["seq"], data["epoch"]
            if isinstance(seq, bool) or not isinstance(seq, int) or isinstance(epoch, bool) \
                    or not isinstance(epoch, int):
                raise TypeError("seq and epoch must be numbers")
            return cls(str(data["log_id"]), seq, str(data["head"]), str(data["ts_utc"]),
                       str(data["key_id"]), epoch, str(data["signature"]))
        except (KeyError, TypeError) as exc:
            raise ValueError(f"checkpoint is malformed ({exc})") from None
