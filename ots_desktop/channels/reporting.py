"""Recording a transfer's outcome: the audit log first (fail closed), then the event stream."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

from ots_desktop.channels.failures import ChannelFailure, cancelled, translate
from ots_desktop.core.audit.events import AuditEvent, Channel, EventType, Outcome, Reason
from ots_desktop.core.audit.log import AuditLog
from ots_desktop.core.errors import OtsError
from ots_desktop.core.events import ChannelEvent, EventBus, EventKind


@dataclass
class Reporter:
    """Audit and publish the steps of one share or receive."""

    audit: AuditLog
    bus: EventBus
    channel: Channel
    share_id: str
    direction: str
    label: str | None = None
    recipient: str | None = None
    kind: str | None = None
    size_bytes: int | None = None
    fingerprint: str | None = None
    details: dict[str, str] = field(default_factory=dict)

    def publish(self, kind: EventKind, *, reason: Reason | None = None, message: str | None = None,
                done: int | None = None, total: int | None = None) -> None:
        """Tell subscribers (the GUI, --json output) what happened."""
        self.bus.publish(ChannelEvent(kind=kind, channel=self.channel, share_id=self.share_id,
                                      direction=self.direction, reason=reason, message=message,
                                      done_bytes=done, total_bytes=total, label=self.label,
                                      details=dict(self.details)))

    def record(self, event_type: EventType, *, outcome: Outcome = Outcome.OK, reason: Reason | None = None,
               remote_addr: str | None = None) -> None:
        """Append to the audit log; raises AuditError, which must stop the transfer."""
        self.audit.append(AuditEvent(event_type, outcome=outcome, reason=reason, channel=self.channel,
                                     label=self.label, share_id=self.share_id, fingerprint=self.fingerprint,
                                     recipient=self.recipient, kind=self.kind, size_bytes=self.size_bytes,
                                     remote_addr=remote_addr))

    @contextlib.contextmanager
    def outcome(self, failed_type: EventType, *, url: str) -> Iterator[None]:
        """Record and publish how the enclosed transfer failed, and re-raise it as a ChannelFailure.

        Audit, keychain and input errors pass through untouched: they carry their own
        message, and the audit log may be the thing that failed.
        """
        try:
            yield
        except asyncio.CancelledError:
            self.failed(cancelled(), failed_type)
            raise
        except ChannelFailure as failure:
            self.failed(failure, failed_type)
            raise
        except OtsError:
            raise
        except Exception as exc:  # noqa: BLE001 - the audit must record every way a transfer can end
            translated = self.translate(exc, url)
            self.failed(translated, failed_type)
            raise translated from None

    def translate(self, exc: Exception, url: str) -> ChannelFailure:
        """The failure an unexpected exception stands for (the wormhole's mapping here)."""
        return translate(exc, url=url)

    def failed(self, failure: ChannelFailure, failed_type: EventType) -> None:
        """Record and publish a failure; a wrong code or a crowded mailbox is an alert."""
        if failure.is_alert:
            self.record(EventType.ALERT, outcome=Outcome.ALERT, reason=failure.reason)
            self.publish(EventKind.ALERT, reason=failure.reason, message=failure.message)
        else:
            self.record(failed_type, outcome=Outcome.FAILED, reason=failure.reason)
        self.publish(EventKind.FAILED, reason=failure.reason, message=failure.message)


class FingerprintingHasher:
    """SHA-256 for the transfer check and the audit fingerprint in one pass over the bytes."""

    def __init__(self, audit: AuditLog) -> None:
        self.sha256 = hashlib.sha256()
        self._mac = audit.fingerprint_mac()

    def update(self, data: bytes) -> None:
        """Feed both digests."""
        self.sha256.update(data)
        self._mac.update(data)

    def fingerprint(self) -> str:
        """The audit fingerprint of everything fed so far."""
        return AuditLog.fingerprint_of(self._mac)



class ProgressGate:
    """Lets progress through at most every ``interval_s`` (and always at the end).

    Transit calls back for every 16 KiB record: ten thousand updates a second would cost a
    window (events, signals, repaints) more than the transfer itself.
    """

    def __init__(self, interval_s: float = 0.1) -> None:
        self.interval_s = interval_s
        self._next = 0.0

    def due(self, done: int, total: int) -> bool:
        """Whether this update should be shown."""
        now = time.monotonic()
        if done >= total or now >= self._next:
            self._next = now + self.interval_s
            return True
        return False
