"""Audit and events for links: the wormhole's Reporter plus link policy, and what `status` learns.

The audit log is written first and fails closed, as for the wormhole. Sender-side
observations (a reveal, failed or blocked attempts, the end of a share) are recorded
exactly once: the shares file remembers what was already recorded.
"""

from __future__ import annotations

from dataclasses import dataclass

from ots_desktop.channels.failures import ChannelFailure
from ots_desktop.channels.link_errors import LinkFailure
from ots_desktop.channels.relay_client import ShareStatus
from ots_desktop.channels.reporting import Reporter
from ots_desktop.core.audit.events import AuditEvent, Channel, EventType, Outcome, Reason
from ots_desktop.core.events import ChannelEvent, EventKind
from ots_desktop.core.shares import Seen, ShareRecord

# At most this many blocked-attempt alerts per look at the status: an allowlist under
# attack must not flood the log. The counter still moves to the full number.
MAX_BLOCKED_ALERTS = 10


@dataclass
class LinkReporter(Reporter):
    """A :class:`Reporter` that also records the link's expiry and views."""

    expires_at: str | None = None
    max_views: int | None = None

    def record(self, event_type: EventType, *, outcome: Outcome = Outcome.OK, reason: Reason | None = None,
               remote_addr: str | None = None) -> None:
        """Append to the audit log; raises AuditError, which must stop the action."""
        self.audit.append(AuditEvent(event_type, outcome=outcome, reason=reason, channel=self.channel,
                                     label=self.label, share_id=self.share_id, fingerprint=self.fingerprint,
                                     recipient=self.recipient, kind=self.kind, size_bytes=self.size_bytes,
                                     expires_at=self.expires_at, max_views=self.max_views,
                                     remote_addr=remote_addr))

    def translate(self, exc: Exception, url: str) -> ChannelFailure:
        """An unexpected exception during a link operation (the wormhole's mapping does not apply)."""
        return LinkFailure(Reason.ERROR, f"the link operation with {url} failed ({type(exc).__name__})")


def sender_event(record: ShareRecord, event_type: EventType, *, outcome: Outcome = Outcome.OK,
                 reason: Reason | None = None, remote_addr: str | None = None) -> AuditEvent:
    """An audit event about one of our shares, described from its local record."""
    return AuditEvent(event_type, outcome=outcome, reason=reason, channel=Channel.LINK, label=record.label,
                      share_id=record.share_id, recipient=record.recipient, kind=record.kind,
                      expires_at=record.expires_at, max_views=record.max_views, remote_addr=remote_addr)


def _remote(addr: str) -> str | None:
    text = addr.strip()
    return text[:200] if text and text.isprintable() else None


def observe(record: ShareRecord, status: ShareStatus) -> tuple[list[AuditEvent], Seen]:
    """What ``status`` shows that the audit log does not hold yet, and the new ``seen`` marks.

    New reveals -> SHARE_REVEALED (with the address); new failed attempts -> ALERT
    WRONG_PASSPHRASE; new blocked attempts -> ALERT BLOCKED_NETWORK; an ending ->
    SHARE_EXPIRED, SHARE_REVOKED or ALERT BURNED (a reveal ending is the reveals).
    """
    seen = record.seen
    events = [sender_event(record, EventType.SHARE_REVEALED, remote_addr=_remote(reveal.remote_addr))
              for reveal in status.reveals[seen.reveals:]]
    alert = Outcome.ALERT
    failed_new = max(0, status.failed_attempts - seen.failed)
    events += [sender_event(record, EventType.ALERT, outcome=alert, reason=Reason.WRONG_PASSPHRASE)] * failed_new
    blocked_new = min(MAX_BLOCKED_ALERTS, max(0, status.blocked_attempts - seen.blocked))
    events += [sender_event(record, EventType.ALERT, outcome=alert, reason=Reason.BLOCKED_NETWORK)] * blocked_new
    state = seen.state
    if status.state != "pending" and seen.state is None:
        state = status.state
        if status.state == "expired":
            events.append(sender_event(record, EventType.SHARE_EXPIRED, reason=Reason.EXPIRED))
        elif status.state == "revoked":
            events.append(sender_event(record, EventType.SHARE_REVOKED, reason=Reason.REVOKED))
        elif status.state == "burned":
            events.append(sender_event(record, EventType.ALERT, outcome=alert, reason=Reason.BURNED))
    new_seen = Seen(reveals=max(seen.reveals, len(status.reveals)), failed=max(seen.failed, status.failed_attempts),
                    blocked=max(seen.blocked, status.blocked_attempts), state=state)
    return events, new_seen



def lifecycle_events(record: ShareRecord, status: ShareStatus) -> list[ChannelEvent]:
    """What ``status`` shows that ``record.seen`` does not, as bus events (the same delta :func:`observe` records).

    Each new reveal (details: at, from); new wrong passphrases or blocked attempts, one alert
    per kind and look (details: count); the end (details: state), after a burn's alert. The tray,
    notifications and cards follow these, so each is seen once, whoever looked first.
    """
    def event(kind: EventKind, message: str, details: dict[str, str], reason: Reason | None = None) -> ChannelEvent:
        return ChannelEvent(kind=kind, channel=Channel.LINK, share_id=record.share_id, direction="send",
                            label=record.label, reason=reason, message=message, details=details)

    seen = record.seen
    events = []
    for reveal in status.reveals[seen.reveals:]:
        where = _remote(reveal.remote_addr)
        events.append(event(EventKind.REVEALED, f"opened from {where or 'an unknown address'}",
                            {"at": reveal.at, "from": where or ""}))
    failed_new = status.failed_attempts - seen.failed
    if failed_new > 0:
        events.append(event(EventKind.ALERT, f"someone tried a wrong passphrase ({failed_new}×)",
                            {"count": str(failed_new)}, Reason.WRONG_PASSPHRASE))
    blocked_new = status.blocked_attempts - seen.blocked
    if blocked_new > 0:
        events.append(event(EventKind.ALERT, f"someone tried to open it from a network that is not allowed "
                            f"({blocked_new}×)", {"count": str(blocked_new)}, Reason.BLOCKED_NETWORK))
    if status.state != "pending" and seen.state is None:
        if status.state == "burned":
            events.append(event(EventKind.ALERT, "destroyed after too many wrong passphrases, never opened", {},
                                Reason.BURNED))
        events.append(ended_event(record, status.state))
    return events


def ended_event(record: ShareRecord, state: str) -> ChannelEvent:
    """The bus event for the end of one of our links (revealed, expired, revoked or burned)."""
    reason = {"expired": Reason.EXPIRED, "revoked": Reason.REVOKED, "burned": Reason.BURNED}.get(state)
    return ChannelEvent(kind=EventKind.ENDED, channel=Channel.LINK, share_id=record.share_id, direction="send",
                        label=record.label, reason=reason, message=f"the link ended: {state}",
                        details={"state": state})
