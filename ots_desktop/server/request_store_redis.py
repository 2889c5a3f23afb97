"""The scale-out request store: Redis, shared by any number of relay processes.

Per request there are two keys: a hash with the record and, once answered, a string with
the answer (ciphertext only). Two sorted sets index the live requests (by ``expires_at``)
and the ended ones (by ``ended_at``) for :meth:`RedisRequestStore.sweep`. Every change is
one Lua script, atomic across processes: one answer wins, and opening reads and deletes
the answer in the same step. Expiry is decided against the ``now`` the caller passes;
Redis' own TTLs (from the real clock) are a backstop for data nobody sweeps.
"""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable
from typing import Any, TypeVar, cast

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from ots_desktop.server.request_model import (
    TOMBSTONE_S,
    AnswerOutcome,
    NewRequest,
    RequestInfo,
    RequestState,
    StoreResult,
    state_at,
)
from ots_desktop.server.store_redis import COMMAND_TIMEOUT_S, CONNECT_TIMEOUT_S, RedisStoreError, safe_url

T = TypeVar("T")
MIN_TTL_S = 3600

# KEYS: record, answer, live index, ended index, answer bytes held. ARGV[1] = id, ARGV[2] = now.
# The record keeps its answer's size (answer_size) until the answer is gone, so that the bytes held
# come down by it even when the answer's own key has already expired.
_STATE = """
local function state_of(rec, now)
  local s = redis.call('HGET', rec, 'state')
  if not s then return nil end
  if (s == 'pending' or s == 'answered') and now >= tonumber(redis.call('HGET', rec, 'expires_at')) then
    return 'expired'
  end
  return s
end
local function release()
  local n = tonumber(redis.call('HGET', KEYS[1], 'answer_size') or '0')
  if n > 0 then
    redis.call('DECRBY', KEYS[5], n)
    redis.call('HDEL', KEYS[1], 'answer_size')
  end
end
local function finish(state, now)
  release()
  redis.call('HSET', KEYS[1], 'state', state, 'ended_at', ARGV[2])
  redis.call('DEL', KEYS[2])
  redis.call('ZREM', KEYS[3], ARGV[1])
  redis.call('ZADD', KEYS[4], now, ARGV[1])
  redis.call('EXPIRE', KEYS[1], {tombstone})
end
local now = tonumber(ARGV[2])
""".replace("{tombstone}", str(TOMBSTONE_S))
_CREATE = """
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], unpack(cjson.decode(ARGV[3])))
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[4]))
redis.call('ZADD', KEYS[3], ARGV[5], ARGV[1])
return 1
"""
_ANSWER = _STATE + """
local s = state_of(KEYS[1], now)
if not s then return {'not_found', ''} end
if s == 'pending' then
  redis.call('HSET', KEYS[1], 'state', 'answered', 'answered_at', ARGV[2], 'answered_from', ARGV[4],
             'answer_size', string.len(ARGV[3]))
  redis.call('INCRBY', KEYS[5], string.len(ARGV[3]))
  redis.call('SET', KEYS[2], ARGV[3], 'EX', tonumber(ARGV[5]))
  return {'done', 'answered'}
end
if s == 'answered' or s == 'opened' then
  redis.call('HINCRBY', KEYS[1], 'refused_answers', 1)
  return {'already_answered', s}
end
return {'gone', s}
"""
_OPEN = _STATE + """
local s = state_of(KEYS[1], now)
if not s then return {'not_found', ''} end
if s == 'pending' then return {'not_answered', s} end
if s ~= 'answered' then return {'gone', s} end
local data = redis.call('GET', KEYS[2])
finish('opened', now)
return {'done', 'opened', data or false}
"""
_REVOKE = _STATE + """
local s = state_of(KEYS[1], now)
if not s then return '' end
if s == 'pending' or s == 'answered' then finish('revoked', now) return 'revoked' end
return s
"""
_EXPIRE = _STATE + """
local s = state_of(KEYS[1], now)
if s == 'expired' and redis.call('HGET', KEYS[1], 'state') ~= 'expired' then
  release()
  redis.call('HSET', KEYS[1], 'state', 'expired', 'ended_at', redis.call('HGET', KEYS[1], 'expires_at'))
  redis.call('DEL', KEYS[2])
  redis.call('ZREM', KEYS[3], ARGV[1])
  redis.call('ZADD', KEYS[4], now, ARGV[1])
  return 1
end
if not s then redis.call('ZREM', KEYS[3], ARGV[1]) end
return 0
"""
_BLOCKED = """
if redis.call('EXISTS', KEYS[1]) == 1 then redis.call('HINCRBY', KEYS[1], 'blocked_attempts', 1) end
return 0
"""


class RedisRequestStore:
    """:class:`~ots_desktop.server.request_model.RequestStore` on one Redis database."""

    name = "redis"

    def __init__(self, client: aioredis.Redis, url: str, prefix: str) -> None:
        self._client = client
        self._url = safe_url(url)
        self._prefix = prefix
        self._scripts = {name: client.register_script(body) for name, body in (
            ("create", _CREATE), ("answer", _ANSWER), ("open", _OPEN), ("revoke", _REVOKE), ("expire", _EXPIRE),
            ("blocked", _BLOCKED))}

    @classmethod
    async def connect(cls, url: str, *, prefix: str = "ots:") -> RedisRequestStore:
        """Connect to the same Redis URLs as the link store (it has checked the server already)."""
        try:
            client: aioredis.Redis = aioredis.Redis.from_url(
                url, decode_responses=False, socket_connect_timeout=CONNECT_TIMEOUT_S,
                socket_timeout=COMMAND_TIMEOUT_S)
        except ValueError as exc:
            raise RedisStoreError(f"invalid Redis store URL {safe_url(url)}: {exc}") from None
        return cls(client, url, prefix)

    def _keys(self, request_id: str) -> list[str]:
        p = self._prefix
        return [f"{p}request:{request_id}", f"{p}answer:{request_id}", f"{p}requests:live", f"{p}requests:ended",
                f"{p}requests:answer_bytes"]

    async def _guard(self, pending: Awaitable[T]) -> T:
        try:
            return await pending
        except (RedisError, OSError) as exc:
            raise RedisStoreError(f"the Redis store at {self._url} failed: {exc}") from None

    async def _run(self, script: str, request_id: str, now: float, *extra: Any) -> Any:
        call = self._scripts[script](keys=self._keys(request_id), args=[request_id, repr(now), *extra])
        return await self._guard(call)

    async def create(self, request: NewRequest) -> bool:
        """Store a new request; False if the id is taken."""
        fields = {"state": "pending", "label_box": request.label_box, "proof_hash": request.proof_hash,
                  "key_hash": request.key_hash, "status_hash": request.status_hash,
                  "created_at": repr(request.created_at), "expires_at": repr(request.expires_at),
                  "allow_cidrs": json.dumps(list(request.allow_cidrs)),
                  "allow_countries": json.dumps(list(request.allow_countries)), "refused_answers": "0",
                  "blocked_attempts": "0"}
        flat = [item for pair in fields.items() for item in pair]
        ttl = max(MIN_TTL_S, int(request.expires_at - time.time()) + TOMBSTONE_S)
        created = await self._run("create", request.id, request.created_at, json.dumps(flat), ttl,
                                  repr(request.expires_at))
        return bool(created)

    async def info(self, request_id: str, now: float) -> RequestInfo | None:
        """The request as of ``now``."""
        record = await self._guard(self._client.hgetall(self._keys(request_id)[0]))  # type: ignore[misc]
        return _decode(request_id, cast(dict[bytes, bytes], record), now) if record else None

    async def answer(self, request_id: str, answer: bytes, ip: str, now: float) -> StoreResult:
        """Keep the first answer; count any later one."""
        info = await self.info(request_id, now)
        ttl = max(MIN_TTL_S, int((info.expires_at if info else now) - time.time()) + 60)
        outcome, state = await self._run("answer", request_id, now, answer, ip, ttl)
        return StoreResult(AnswerOutcome(outcome.decode()), RequestState(state.decode()) if state else None)

    async def open(self, request_id: str, now: float) -> StoreResult:
        """Claim the answer, delete it, and return it."""
        before = await self.info(request_id, now)
        reply = await self._run("open", request_id, now)
        outcome, state = AnswerOutcome(reply[0].decode()), reply[1].decode()
        data = reply[2] if len(reply) > 2 and reply[2] else None
        return StoreResult(outcome, RequestState(state) if state else None, data,
                           before.answered_at if before else None, before.answered_from if before else None)

    async def note_blocked(self, request_id: str, now: float) -> None:
        """Count an answer refused for its network."""
        await self._run("blocked", request_id, now)

    async def revoke(self, request_id: str, now: float) -> RequestState | None:
        """End a live request."""
        state = await self._run("revoke", request_id, now)
        return RequestState(state.decode()) if state else None

    async def stored_bytes(self) -> int:
        """The total size of the answers held, as the scripts count it."""
        value = await self._guard(self._client.get(self._keys("")[4]))
        return max(0, int(value or 0))

    async def sweep(self, now: float) -> int:
        """Expire live requests past their expiry; forget ended ones after TOMBSTONE_S."""
        keys = self._keys("")
        due = cast(list[bytes], await self._guard(self._client.zrangebyscore(keys[2], "-inf", now)))
        expired = 0
        for raw in due:
            expired += int(await self._run("expire", raw.decode(), now))
        old = cast(list[bytes], await self._guard(self._client.zrangebyscore(keys[3], "-inf", now - TOMBSTONE_S)))
        for raw in old:
            request_id = raw.decode()
            await self._guard(self._client.delete(self._keys(request_id)[0]))
            await self._guard(self._client.zrem(keys[3], request_id))
        return expired + len(old)

    async def close(self) -> None:
        """Close the connection."""
        await self._client.aclose()


def _decode(request_id: str, record: dict[bytes, bytes], now: float) -> RequestInfo:
    def text(name: str) -> str:
        return record.get(name.encode(), b"").decode()

    def number(name: str) -> float | None:
        value = text(name)
        return float(value) if value else None

    expires_at = float(text("expires_at"))
    state = state_at(text("state"), expires_at, now)
    ended = number("ended_at")
    return RequestInfo(
        id=request_id, state=state, label_box=text("label_box"), proof_hash=text("proof_hash"),
        key_hash=text("key_hash"),
        status_hash=text("status_hash"), created_at=float(text("created_at")), expires_at=expires_at,
        allow_cidrs=tuple(json.loads(text("allow_cidrs") or "[]")),
        allow_countries=tuple(json.loads(text("allow_countries") or "[]")), answered_at=number("answered_at"),
        answered_from=text("answered_from") or None,
        ended_at=ended if ended is not None else (expires_at if state is RequestState.EXPIRED else None),
        refused_answers=int(text("refused_answers") or 0), blocked_attempts=int(text("blocked_attempts") or 0))
