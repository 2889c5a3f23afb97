"""Per-client rate limits kept in Redis, shared by every relay process on the same Redis.

The same token bucket as :class:`~ots_desktop.server.ratelimit.RateLimiter`, one small hash
per client address and endpoint (``tokens``, ``seen``), updated by one Lua script so that
processes taking tokens at the same moment cannot both spend the last one. The time is Redis'
own (``TIME``), so relay hosts with clocks apart still share one bucket. A bucket expires
once it would be full again: an address that stops asking leaves nothing behind.

Should Redis fail to answer, the process falls back to its own in-memory bucket for that
address (each process then enforces the rate by itself, as without Redis) rather than
turning every request away; the store's own errors follow soon enough.
"""

from __future__ import annotations

import logging
import time

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from ots_desktop.server.ratelimit import Rate, RateLimiter

_log = logging.getLogger(__name__)
# How often a process says that it fell back to in-memory limits (seconds).
FALLBACK_NOTICE_S = 60.0

# KEYS[1] the bucket; ARGV[1] tokens per second, ARGV[2] burst. Returns the seconds to wait, as text
# (a Lua number would reach the caller cut to an integer).
_TAKE = """
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
local per_second = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local bucket = redis.call('HMGET', KEYS[1], 'tokens', 'seen')
local tokens = tonumber(bucket[1]) or burst
local seen = tonumber(bucket[2]) or now
tokens = math.min(burst, tokens + math.max(0, now - seen) * per_second)
local wait = 0
if tokens >= 1 then
  tokens = tokens - 1
else
  wait = (1 - tokens) / per_second
end
redis.call('HSET', KEYS[1], 'tokens', string.format('%.6f', tokens), 'seen', string.format('%.6f', now))
redis.call('PEXPIRE', KEYS[1], math.ceil((burst - tokens) / per_second * 1000) + 1000)
return string.format('%.6f', wait)
"""


class RedisRateLimiter:
    """One token bucket per client address in Redis, under ``prefix``."""

    def __init__(self, client: aioredis.Redis, prefix: str, rate: Rate) -> None:
        self.rate = rate
        self._prefix = prefix
        self._take = client.register_script(_TAKE)
        self._fallback = RateLimiter(rate, time.monotonic)
        self._noticed = float("-inf")

    async def take(self, client: str) -> float:
        """Take a token for ``client``; 0 if allowed, else the seconds until one is free."""
        if not self.rate.per_minute:
            return 0.0
        try:
            reply = await self._take(keys=[f"{self._prefix}{client}"],
                                     args=[repr(self.rate.per_minute / 60.0), self.rate.burst])
            return max(0.0, float(reply))
        except (RedisError, OSError, ValueError) as exc:
            now = time.monotonic()
            if now - self._noticed >= FALLBACK_NOTICE_S:
                self._noticed = now
                _log.warning("rate limits fall back to this process alone: Redis did not answer (%s)",
                             type(exc).__name__)
            return self._fallback.check(client)
