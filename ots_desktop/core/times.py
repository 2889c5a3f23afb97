"""Times as the relay, the links and the audit log write them: RFC 3339, UTC, with a ``Z``."""

from __future__ import annotations

from datetime import UTC, datetime


def rfc3339(moment: datetime) -> str:
    """``2026-11-28T04:00:00Z``: to the second, as the relay and the links write times."""
    return moment.astimezone(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def rfc3339_from_timestamp(ts: float | None) -> str | None:
    """:func:`rfc3339` of a Unix time (whole seconds), or None."""
    return None if ts is None else rfc3339(datetime.fromtimestamp(int(ts), UTC))


def utc_now_ms() -> str:
    """The current time to the millisecond, as audit entries and checkpoints carry it."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_rfc3339(text: str) -> datetime:
    """A time written by this module (or any RFC 3339 text with ``Z`` or an offset); ValueError otherwise."""
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def local_clock(text: str) -> str:
    """``HH:MM`` in local time of an RFC 3339 stamp, for receipts and notifications (the text if it does not parse)."""
    try:
        return parse_rfc3339(text).astimezone().strftime("%H:%M")
    except ValueError:
        return text
