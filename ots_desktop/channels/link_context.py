"""What the link flows (receive, status, revoke, watch) need from the channel that runs them.

:class:`~ots_desktop.channels.link.LinkChannel` provides it; the flows depend on this
small interface instead of on the channel module, which imports them.
"""

from __future__ import annotations

from typing import Protocol

from ots_desktop.channels.relay_client import RelayClient
from ots_desktop.core.audit.log import AuditLog
from ots_desktop.core.events import EventBus
from ots_desktop.core.shares import ShareStore


class LinkContext(Protocol):
    """The audit log, the event bus, the local shares file and relay clients."""

    bus: EventBus

    async def audit(self) -> AuditLog:
        """The audit log, once open; refused while it does not verify."""

    def shares(self) -> ShareStore:
        """The local shares file (the sender's operations need it)."""

    def client(self, base_url: str) -> RelayClient:
        """A relay client for ``base_url``."""
