"""What the relay takes in: stored bytes in all, bytes on their way per address, bodies in memory at once.

- :class:`StorageBudget`: the envelopes the store holds may total at most ``--storage-budget`` bytes.
  Beyond it a create gets ``507 storage_full`` with a Retry-After: room comes back as links are
  opened, revoked or expire (expired ones are swept every minute). The store's own figure is
  read at most every ``REFRESH_S`` seconds; what this process stored since is added to it.
  Processes sharing a store can each go over by what they have in flight at that moment.
- :class:`UploadGate`: one client address may have at most ``per_address`` bytes of request
  bodies on their way (``429 in_flight``), and the process reads at most ``memory`` bytes of
  bodies at once. A create that would pass that waits, its bytes left in the kernel's socket
  buffer, for up to ``wait`` seconds (``503 busy`` after that). However many large creates
  arrive together, the relay's memory grows by about ``memory`` and no more.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from ots_desktop.server.link_policy import ApiError

REFRESH_S = 2.0
# Expired links are swept once a minute (link_service.SWEEP_INTERVAL_S): room may come back that late.
FULL_RETRY_AFTER_S = 60
IN_FLIGHT_RETRY_AFTER_S = 5
BUSY_RETRY_AFTER_S = 5


class StorageBudget:
    """The total size of the envelopes in the store, kept under ``limit`` bytes (None: no limit)."""

    def __init__(self, limit: int | None, measure: Callable[[], Awaitable[int]],
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.limit = limit
        self._measure = measure
        self._clock = clock
        self._stored = 0
        self._added = 0
        self._measured_at = float("-inf")

    async def _refresh(self) -> None:
        self._stored, self._added = await self._measure(), 0
        self._measured_at = self._clock()

    async def check(self, incoming: int) -> None:
        """Refuse with a 507 if ``incoming`` more bytes would take the store over the budget."""
        if self.limit is None:
            return
        if self._clock() - self._measured_at >= REFRESH_S:
            await self._refresh()
        if self._stored + self._added + incoming > self.limit:
            await self._refresh()  # room may have come back since the last look
            if self._stored + incoming > self.limit:
                raise ApiError(507, "storage_full", "this relay holds as many secrets as it may right now; "
                               "try again later", retry_after=str(FULL_RETRY_AFTER_S))

    def added(self, size: int) -> None:
        """Count an envelope this process has just stored."""
        self._added += size


class UploadGate:
    """Bytes of request bodies on their way, per client address and in this process's memory."""

    def __init__(self, per_address: int, memory: int, wait: float) -> None:
        self.per_address = per_address
        self.memory = memory
        self.wait = wait
        self._by_address: dict[str, int] = {}
        self._in_memory = 0
        self._changed: asyncio.Condition | None = None

    @asynccontextmanager
    async def hold(self, address: str, size: int) -> AsyncIterator[None]:
        """Admit a body of ``size`` bytes from ``address`` for the duration of the block."""
        if self._by_address.get(address, 0) + size > self.per_address:
            raise ApiError(429, "in_flight", "your address already has as many bytes on their way to this relay "
                           "as it may; try again when they are in", retry_after=str(IN_FLIGHT_RETRY_AFTER_S))
        self._by_address[address] = self._by_address.get(address, 0) + size
        try:
            if self._changed is None:
                self._changed = asyncio.Condition()
            changed = self._changed
            try:
                async with asyncio.timeout(self.wait), changed:
                    # A body larger than the whole allowance still gets in, alone.
                    await changed.wait_for(lambda: not self._in_memory or self._in_memory + size <= self.memory)
                    self._in_memory += size
            except TimeoutError:
                raise ApiError(503, "busy", "this relay is taking in other large secrets right now; try again "
                               "shortly", retry_after=str(BUSY_RETRY_AFTER_S)) from None
            try:
                yield
            finally:
                async with changed:
                    self._in_memory -= size
                    changed.notify_all()
        finally:
            left = self._by_address.pop(address) - size
            if left > 0:
                self._by_address[address] = left
