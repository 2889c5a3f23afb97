"""What the audit log records.

An event holds only the fields listed in :data:`FIELDS`. There is deliberately no
free-text field: a secret, a wormhole code, a fragment key, a passphrase or argv has
nowhere to go.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from ots_desktop.core.errors import InputError
from ots_desktop.core.policy import AUDIT_TEXT_MAX, check_audit_text


class EventType(StrEnum):
    """Kinds of audited events."""

    LOG_CREATED = "log_created"
    KEY_ROTATED = "key_rotated"
    KEYSTORE_CHANGED = "keystore_changed"
    SHARE_CREATED = "share_created"
    SHARE_DELIVERED = "share_delivered"
    SHARE_REVEALED = "share_revealed"
    SHARE_EXPIRED = "share_expired"
    SHARE_REVOKED = "share_revoked"
    SHARE_FAILED = "share_failed"
    SECRET_RECEIVED = "secret_received"  # noqa: S105 - an event name
    RECEIVE_FAILED = "receive_failed"
    REQUEST_CREATED = "request_created"
    REQUEST_ANSWERED = "request_answered"
    REQUEST_OPENED = "request_opened"
    REQUEST_EXPIRED = "request_expired"
    REQUEST_REVOKED = "request_revoked"
    ALERT = "alert"
    AUDIT_REVIEWED = "audit_reviewed"
    AUDIT_EXPORTED = "audit_exported"


class Outcome(StrEnum):
    """The result an event records."""

    OK = "ok"
    FAILED = "failed"
    ALERT = "alert"


class Channel(StrEnum):
    """How a secret travelled."""

    WORMHOLE = "wormhole"
    LINK = "link"


class Reason(StrEnum):
    """Machine-readable reason codes for failures, alerts and reviews."""

    WRONG_CODE = "wrong_code"
    WRONG_PASSPHRASE = "wrong_passphrase"  # noqa: S105 - a reason code
    BLOCKED_NETWORK = "blocked_network"
    ALREADY_CONSUMED = "already_consumed"
    SECOND_ANSWER = "second_answer"
    PEER_NEVER_CAME = "peer_never_came"
    CROWDED = "crowded"
    SERVER_UNREACHABLE = "server_unreachable"
    TIMEOUT = "timeout"
    CANCELLED = "cancelled"
    EXPIRED = "expired"
    REVOKED = "revoked"
    BURNED = "burned"
    DAMAGED = "damaged"
    TOO_LARGE = "too_large"
    UNSAFE_PATH = "unsafe_path"
    REJECTED = "rejected"
    TRANSFER_FAILED = "transfer_failed"
    INTERRUPTED = "interrupted"  # the process running a share died before recording its end
    VERIFY_INTACT = "verify_intact"
    VERIFY_TAMPERED = "verify_tampered"
    LIST = "list"
    LOOKUP = "lookup"
    EXPORT = "export"
    PUBKEY = "pubkey"
    RESET = "reset"
    KEYSTORE = "keystore"
    EPOCH = "epoch"
    ROTATE = "rotate"
    ERROR = "error"


# Field name -> the JSON types it may hold. Order is the column order of exports.
FIELDS: dict[str, tuple[type, ...]] = {
    "seq": (int,),
    "ts_utc": (str,),
    "event_type": (str,),
    "actor": (str,),
    "host": (str,),
    "channel": (str,),
    "label": (str,),
    "share_id": (str,),
    "fingerprint": (str,),
    "recipient": (str,),
    "kind": (str,),
    "size_bytes": (int,),
    "expires_at": (str,),
    "max_views": (int,),
    "remote_addr": (str,),
    "outcome": (str,),
    "reason": (str,),
    "app_version": (str,),
    "key_id": (str,),
    # The log's own structure: its identity (entry 1), key certificates and resets.
    "log_id": (str,),
    "epoch": (int,),
    "public_key": (str,),
    "signature": (str,),
    "prev_log_id": (str,),
    "prev_seq": (int,),
    "prev_head": (str,),
}
MAX_TEXT = AUDIT_TEXT_MAX
_NAMES = {"label": "label", "recipient": "recipient note"}


@dataclass(frozen=True)
class AuditEvent:
    """One event as the app describes it, before the log numbers and stamps it.

    ``label`` and ``recipient`` are short notes the user typed to recognise a share
    later. They are limited in length and may not hold control characters.
    """

    event_type: EventType
    outcome: Outcome = Outcome.OK
    reason: Reason | None = None
    channel: Channel | None = None
    label: str | None = None
    share_id: str | None = None
    fingerprint: str | None = None
    recipient: str | None = None
    kind: str | None = None
    size_bytes: int | None = None
    expires_at: str | None = None
    max_views: int | None = None
    remote_addr: str | None = None
    log_id: str | None = None
    epoch: int | None = None
    public_key: str | None = None
    signature: str | None = None
    prev_log_id: str | None = None
    prev_seq: int | None = None
    prev_head: str | None = None

    def fields(self) -> dict[str, Any]:
        """The non-empty fields of this event, validated."""
        out: dict[str, Any] = {"event_type": str(self.event_type), "outcome": str(self.outcome)}
        for name in (
            "reason", "channel", "label", "share_id", "fingerprint", "recipient",
            "kind", "size_bytes", "expires_at", "max_views", "remote_addr", "log_id", "epoch", "public_key",
            "signature", "prev_log_id", "prev_seq", "prev_head",
        ):
            value = getattr(self, name)
            # An empty text is left out, so that an export's empty cell reads back as the same entry.
            if value is not None and value != "":
                out[name] = str(value) if isinstance(value, StrEnum) else value
        validate_fields(out)
        return out


def validate_fields(record: dict[str, Any]) -> None:
    """Refuse unknown fields, wrong types and over-long or control-character text (InputError)."""
    for name, value in record.items():
        allowed = FIELDS.get(name)
        if allowed is None:
            raise InputError(f"the audit log has no field {name!r}")
        if isinstance(value, bool) or not isinstance(value, allowed):
            raise InputError(f"the audit field {name!r} must be {allowed[0].__name__}")
        if isinstance(value, str):
            check_audit_text(_NAMES.get(name, f"audit field {name!r}"), value)
