"""What the relay takes in: stored bytes in all, bytes on their way per address, bodies in memory at once.

- :class:`StorageBudget`: the envelopes the store holds, and the answers to secret requests waiting to be
  collected, may total at most ``--storage-budget`` bytes.
  Beyond it a create gets ``507 storage_full`` with a Retry-After: room comes back as links are
  opened, revoked or expire (expired ones are swept every minute). The store's own figure is
  read at most every ``REFRESH_S`` seconds; what this process stored since is added to it.
  Processes sharing a store can each go over by what they have in flight at that moment.
- :class:`UploadGate`: one client address may have at most ``per_address`` bytes of request
  bodies on their way (``429 in_flight``; a single larger streamed envelope gets in only while its
  address has nothing else on the way), and the process reads at most ``memory`` bytes of
  bodies at once. A create that would pass that waits, its bytes left in the kernel's socket
  buffer, for up to ``wait`` seconds (``503 busy`` after that). However many large creates
  arrive together, the relay's memory grows by about ``memory`` and no more.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

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
        self._measures = [measure]
        self._clock = clock
        self._stored = 0
        self._added = 0
        self._measured_at = float("-inf")

    async def _refresh(self) -> None:
        total = 0
        for measure in self._measures:
            total += await measure()
        self._stored, self._added = total, 0
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

    def count_also(self, measure: Callable[[], Awaitable[int]]) -> None:
        """Count another store's bytes in the budget too (the secret requests' answers)."""
        self._measures.append(measure)
        self._measured_at = float("-inf")

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
        self._waiting = 0  # creates waiting for room in memory, in the order they came

    def hold(self, address: str, size: int, in_memory: int | None = None) -> UploadSlot:
        """Admit a body of ``size`` bytes from ``address`` for the duration of an ``async with`` block.

        ``in_memory`` is what of it the process holds at once (all of it unless it is streamed).
        """
        return UploadSlot(self, address, size, in_memory)

    def _admit_address(self, address: str, size: int, streamed: bool) -> None:
        on_the_way = self._by_address.get(address, 0)
        if on_the_way + size > self.per_address and not (streamed and not on_the_way):
            raise ApiError(429, "in_flight", "your address already has as many bytes on their way to this relay "
                           "as it may; try again when they are in", retry_after=str(IN_FLIGHT_RETRY_AFTER_S))
        self._by_address[address] = on_the_way + size

    def _release_address(self, address: str, size: int) -> None:
        left = self._by_address.pop(address) - size
        if left > 0:
            self._by_address[address] = left

    def _condition(self) -> asyncio.Condition:
        if self._changed is None:
            self._changed = asyncio.Condition()
        return self._changed

    async def _wait_for_room(self, size: int) -> None:
        changed = self._condition()
        self._waiting += 1
        try:
            async with asyncio.timeout(self.wait), changed:
                # A body larger than the whole allowance still gets in, alone.
                await changed.wait_for(lambda: not self._in_memory or self._in_memory + size <= self.memory)
                self._in_memory += size
        except TimeoutError:
            raise ApiError(503, "busy", "this relay is taking in other large secrets right now; try again "
                           "shortly", retry_after=str(BUSY_RETRY_AFTER_S)) from None
        finally:
            self._waiting -= 1


class UploadSlot:
    """One admitted body (:meth:`UploadGate.hold`): a plain class, as this runs for every create."""

    __slots__ = ("_address", "_gate", "_held", "_size", "_streamed")

    def __init__(self, gate: UploadGate, address: str, size: int, in_memory: int | None) -> None:
        self._gate, self._address, self._size = gate, address, size
        self._streamed = in_memory is not None
        self._held = size if in_memory is None else in_memory

    async def __aenter__(self) -> None:
        gate, size = self._gate, self._held
        gate._admit_address(self._address, self._size, streamed=self._streamed)
        try:
            if not gate._waiting and (not gate._in_memory or gate._in_memory + size <= gate.memory):
                gate._in_memory += size  # room now and nobody queued before it: no lock, no timer
            else:
                await gate._wait_for_room(size)
        except BaseException:
            gate._release_address(self._address, self._size)
            raise

    async def __aexit__(self, *exc_info: object) -> None:
        gate = self._gate
        gate._in_memory -= self._held
        try:
            if gate._waiting:
                changed = gate._condition()
                async with changed:
                    changed.notify_all()
        finally:
            gate._release_address(self._address, self._size)
