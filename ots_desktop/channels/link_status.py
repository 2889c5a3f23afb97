"""The sender's side of a link after it is made: status, revocation and watching.

These use the status token kept in the local shares file. Whatever the relay shows
that the audit log does not hold yet (a reveal, failed or blocked attempts, an ending)
is recorded once, then remembered in the shares file.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, replace

from ots_desktop.channels.link_context import LinkContext
from ots_desktop.channels.link_errors import timed_out
from ots_desktop.channels.link_reporting import ended_event, lifecycle_events, observe, sender_event
from ots_desktop.channels.relay_client import RevealRecord, ShareStatus
from ots_desktop.core.audit.events import EventType, Reason
from ots_desktop.core.errors import ExitCode, OtsError
from ots_desktop.core.shares import ShareRecord


class UnknownShareError(OtsError):
    """The share was not made by this installation (so its status token is not here)."""

    exit_code = ExitCode.NOT_FOUND


@dataclass(frozen=True)
class WatchUpdate:
    """Something ``watch`` saw: ``revealed`` (with ``reveal``), ``failed_attempts`` or
    ``blocked_attempts`` (with the ``count`` of new ones), or ``ended``."""

    kind: str
    status: ShareStatus
    reveal: RevealRecord | None = None
    count: int = 0


def _lookup(channel: LinkContext, share_id: str) -> ShareRecord:
    record = channel.shares().get(share_id)
    if record is None:
        raise UnknownShareError(f"the share {share_id} was not made on this installation: only the sender's "
                                "installation holds the token that shows its status or revokes it")
    return record


async def _remember(channel: LinkContext, record: ShareRecord, status: ShareStatus) -> ShareRecord:
    """Record what is new in the audit log (fail closed), mark it seen, then publish it on the bus.

    What was seen is read again first: a revoke or another look (a second window, ``ots link status``)
    may have recorded it meanwhile, and nothing is recorded twice.
    """
    record = channel.shares().get(record.share_id) or record
    events, seen = observe(record, status)
    if events:
        audit = await channel.audit()
        with audit.batch():
            for event in events:
                audit.append(event)
    news = lifecycle_events(record, status)
    if seen != record.seen:
        channel.shares().mark_seen(record.share_id, seen)
    for news_item in news:
        channel.bus.publish(news_item)
    return record.with_seen(seen)


async def status(channel: LinkContext, share_id: str) -> tuple[ShareRecord, ShareStatus]:
    """Ask the relay about one of our shares."""
    record = _lookup(channel, share_id)
    async with channel.client(record.relay_url) as relay:
        current = await relay.status(share_id, record.status_token)
    return await _remember(channel, record, current), current


async def revoke(channel: LinkContext, share_id: str) -> tuple[ShareRecord, str, bool]:
    """Revoke a pending share; for an ended one, report how it ended. ``(record, state, revoked_now)``."""
    record = _lookup(channel, share_id)
    async with channel.client(record.relay_url) as relay:
        state, revoked_now = await relay.revoke(share_id, record.status_token)
        if not revoked_now:
            current = await relay.status(share_id, record.status_token)
            return await _remember(channel, record, current), current.state, False
    if record.seen.state is None:
        audit = await channel.audit()
        audit.append(sender_event(record, EventType.SHARE_REVOKED, reason=Reason.REVOKED))
        seen = replace(record.seen, state=state)
        channel.shares().mark_seen(share_id, seen)
        channel.bus.publish(ended_event(record, state))
        record = record.with_seen(seen)
    return record, state, True


async def watch(channel: LinkContext, share_id: str, *, timeout_s: float, on_update: Callable[[WatchUpdate], None],
                interval_s: float = 1.0) -> ShareStatus:
    """Poll until the share ends (revealed all its views, expired, revoked, burned) or ``timeout_s`` passes.

    Every reveal and attempt is reported through ``on_update``, those from before the
    watch started included; the audit log gets each one once, whoever saw it first.
    """
    record = _lookup(channel, share_id)
    deadline = time.monotonic() + timeout_s
    reveals = failed = blocked = 0
    async with channel.client(record.relay_url) as relay:
        while True:
            current = await relay.status(share_id, record.status_token)
            record = await _remember(channel, record, current)
            for reveal in current.reveals[reveals:]:
                on_update(WatchUpdate("revealed", current, reveal=reveal))
            reveals = max(reveals, len(current.reveals))
            if current.failed_attempts > failed:
                on_update(WatchUpdate("failed_attempts", current, count=current.failed_attempts - failed))
                failed = current.failed_attempts
            if current.blocked_attempts > blocked:
                on_update(WatchUpdate("blocked_attempts", current, count=current.blocked_attempts - blocked))
                blocked = current.blocked_attempts
            if current.state != "pending":
                on_update(WatchUpdate("ended", current))
                return current
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise timed_out(timeout_s, f"the share {share_id} to be opened")
            await asyncio.sleep(min(interval_s, remaining))
