"""What the keychain holds for one audit log: its identity, the current epoch key and the anchor.

It is one keychain item, written in one call, so the anchor and the key that signed it
never disagree. The file under ``OTS_HOME`` is the attacker's to write; this item is
not, so it is the reference every open and every append is checked against:

- ``log_id`` and ``root_public_key`` say which log the data directory holds;
- ``epoch`` and ``seed`` are the current signing key (older seeds are gone);
- ``anchor`` is the newest checkpoint ots itself wrote;
- ``pending`` is the next epoch's seed while a key rotation is being committed, so a
  crash between the database commit and the keychain write loses no key.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from nacl.signing import SigningKey

from ots_desktop.core.audit.checkpoint import Checkpoint, key_id_of
from ots_desktop.core.audit.keys import public_key_of
from ots_desktop.core.audit.keystore import KeyStore
from ots_desktop.core.errors import AuditUnverifiableError

STATE = "audit-state"
LEGACY_NAMES = ("audit-signing-seed", "audit-checkpoint")


def utc_day(now: datetime | None = None) -> str:
    """The UTC date an epoch started on (YYYY-MM-DD)."""
    return (now or datetime.now(UTC)).strftime("%Y-%m-%d")


@dataclass(frozen=True)
class PendingEpoch:
    """The next epoch's key, kept while its certificate is being committed."""

    epoch: int
    seed: str
    day: str


@dataclass(frozen=True)
class LogState:
    """The keychain's record of one log."""

    log_id: str
    root_public_key: str
    epoch: int
    seed: str
    day: str
    anchor: Checkpoint | None = None
    pending: PendingEpoch | None = None

    @property
    def root(self) -> bytes:
        """The root public key as bytes."""
        return bytes.fromhex(self.root_public_key)

    def signing_key(self) -> SigningKey:
        """The current epoch's private key (build it only to sign, then drop it)."""
        return SigningKey(bytes.fromhex(self.seed))

    @property
    def public_key(self) -> bytes:
        """The current epoch's public key."""
        return public_key_of(bytes.fromhex(self.seed))

    @property
    def key_id(self) -> str:
        """The current epoch's key id."""
        return key_id_of(self.public_key)

    def with_anchor(self, anchor: Checkpoint) -> LogState:
        """This state with a newer anchor."""
        return replace(self, anchor=anchor)

    def to_json(self) -> str:
        """The keychain item's text."""
        doc: dict[str, object] = {
            "format": "ots-audit-state", "version": 2, "log_id": self.log_id,
            "root_public_key": self.root_public_key, "epoch": self.epoch, "seed": self.seed, "day": self.day,
            "anchor": json.loads(self.anchor.to_json()) if self.anchor else None,
            "pending": ({"epoch": self.pending.epoch, "seed": self.pending.seed, "day": self.pending.day}
                        if self.pending else None),
        }
        return json.dumps(doc, sort_keys=True, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> LogState:
        """Parse the keychain item; raises ValueError when it is not one."""
        doc = json.loads(text)
        if not isinstance(doc, dict) or doc.get("format") != "ots-audit-state" or doc.get("version") != 2:
            raise ValueError("not an ots audit state")
        try:
            anchor = Checkpoint.from_dict(doc["anchor"]) if doc.get("anchor") else None
            pend = doc.get("pending")
            pending = PendingEpoch(int(pend["epoch"]), str(pend["seed"]), str(pend["day"])) if pend else None
            state = cls(str(doc["log_id"]), str(doc["root_public_key"]), int(doc["epoch"]), str(doc["seed"]),
                        str(doc["day"]), anchor, pending)
            bytes.fromhex(state.seed)
            bytes.fromhex(state.root_public_key)
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"the audit state is malformed ({exc})") from None
        return state


def load_state(keystore: KeyStore) -> LogState | None:
    """The keychain's state for this data directory, or None when there is none."""
    text = keystore.get(STATE)
    if text is None:
        return None
    try:
        return LogState.from_json(text)
    except ValueError as exc:
        raise AuditUnverifiableError(f"the {keystore.description} holds an unreadable audit state: {exc}. "
                                     "See `ots audit reset` in docs/audit-log.md.") from None


def save_state(keystore: KeyStore, state: LogState) -> None:
    """Write the state in one keychain call (the previous seed is overwritten, and so erased)."""
    keystore.set(STATE, state.to_json())


def has_legacy_keys(keystore: KeyStore) -> bool:
    """Whether the keystore still holds keys of a version-1 log (one key for its whole life)."""
    return any(keystore.get(name) is not None for name in LEGACY_NAMES)
