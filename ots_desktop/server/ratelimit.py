"""Per-client token buckets for the relay's create and reveal endpoints.

A relay on SQLite keeps them in its own memory. A relay on Redis keeps them in Redis
(:mod:`ots_desktop.server.ratelimit_redis`), so that N processes on one Redis allow the
documented rate once, not N times.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

MAX_CLIENTS = 50_000


MAX_PER_MINUTE = 1_000_000


@dataclass(frozen=True)
class Rate:
    """``per_minute`` requests per minute, with bursts of up to ``burst`` (0 per minute: no limit)."""

    per_minute: int
    burst: int

    @classmethod
    def parse(cls, text: str) -> Rate:
        """Read ``N`` or ``N/BURST`` (per minute); ``0`` turns the limit off."""
        count, _, burst = text.strip().partition("/")
        try:
            per_minute = int(count)
            burst_n = int(burst) if burst else max(per_minute, 1)
        except ValueError:
            raise ValueError(f"a rate is N or N/BURST requests per minute, not {text!r}") from None
        if per_minute < 0 or burst_n < 1:
            raise ValueError(f"a rate must be >= 0 per minute with a burst >= 1, not {text!r}")
        if per_minute > MAX_PER_MINUTE or burst_n > MAX_PER_MINUTE:
            raise ValueError(f"a rate is at most {MAX_PER_MINUTE:,} per minute (0 turns the limit off), not {text!r}")
        return cls(per_minute, burst_n)

    def __str__(self) -> str:
        return "unlimited" if not self.per_minute else f"{self.per_minute}/min (burst {self.burst})"


class RateLimiter:
    """One token bucket per client address; the least recently seen clients are forgotten first."""

    def __init__(self, rate: Rate, clock: Callable[[], float]) -> None:
        self.rate = rate
        self._clock = clock
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()

    def check(self, client: str) -> float:
        """Take a token for ``client``; return 0 if allowed, else the seconds until one is free."""
        if not self.rate.per_minute:
            return 0.0
        now = self._clock()
        per_second = self.rate.per_minute / 60.0
        tokens, seen = self._buckets.pop(client, (float(self.rate.burst), now))
        tokens = min(float(self.rate.burst), tokens + max(0.0, now - seen) * per_second)
        wait = 0.0
        if tokens >= 1.0:
            tokens -= 1.0
        else:
            wait = (1.0 - tokens) / per_second
        self._buckets[client] = (tokens, now)
        while len(self._buckets) > MAX_CLIENTS:
            self._buckets.popitem(last=False)
        return wait

    async def take(self, client: str) -> float:
        """:meth:`check`, as every :class:`Limiter` is called."""
        return self.check(client)

    @staticmethod
    def retry_after(wait: float) -> str:
        """The ``Retry-After`` header value for a wait in seconds."""
        return str(max(1, math.ceil(wait)))


class Limiter(Protocol):
    """A per-client rate limit, wherever its buckets live."""

    rate: Rate

    async def take(self, client: str) -> float:
        """Take a token for ``client``; 0 if allowed, else the seconds until one is free."""


def limiter_for(store: object, rate: Rate, scope: str) -> Limiter:
    """The limit ``scope`` (create, reveal): shared through the store when it offers that, else in memory."""
    shared = getattr(store, "rate_limiter", None)
    if callable(shared):
        limiter: Limiter = shared(rate, scope)
        return limiter
    return RateLimiter(rate, time.monotonic)
