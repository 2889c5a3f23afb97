"""The scale-out link store: Redis, shared by any number of relay processes.

Per share there are three keys: a hash with the record (hashes of the tokens and of the
link proof, the 44-byte header, the policy, the counters), the envelope (ciphertext only: a
string, or for a large one streamed in, a list of pieces, see server/redis_blobs.py) and a
list with the reveal history. Two sorted sets index the shares still pending (by
``expires_at``) and the ended ones (by ``ended_at``) for :meth:`RedisStore.sweep`.

Every change is one Lua script (server/redis_scripts.py), so it is atomic across processes: a
reveal checks the state, the expiry and the auth hash, reads the envelope, consumes the view
and deletes the envelope in one step, and exactly one caller wins each view. Expiry is always
decided against the ``now`` the caller passes (tests move that clock); Redis' own TTLs, set
from the real clock and never less than ``MIN_TTL_S`` ahead of it, are only a backstop that
makes forgotten data disappear even if nobody sweeps. Floats are stored as Python writes them
and never formatted by Lua, so they come back exactly.
"""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable
from typing import Any, TypeVar, cast
from urllib.parse import parse_qsl, urlencode, urlsplit

import redis.asyncio as aioredis
from redis.commands.core import AsyncScript
from redis.exceptions import RedisError

from ots_desktop.server import redis_scripts as scripts
from ots_desktop.server.link_model import (
    TOMBSTONE_S,
    BlobUpload,
    NewSecret,
    RevealOutcome,
    RevealRecord,
    RevealResult,
    SecretInfo,
    SecretState,
    StoreFailure,
    describe_store,
)
from ots_desktop.server.ratelimit import Rate
from ots_desktop.server.ratelimit_redis import RedisRateLimiter
from ots_desktop.server.redis_blobs import RELEASE, RedisBlob, RedisUpload
from ots_desktop.server.wormhole_services import ServerError

T = TypeVar("T")

CONNECT_TIMEOUT_S = 5.0
COMMAND_TIMEOUT_S = 10.0
# A TTL is never set closer than this to the real clock, whatever ``now`` the caller claims.
MIN_TTL_S = 60
SWEEP_BATCH = 500
MIN_SERVER_VERSION = (6, 2)  # SET ... PXAT

class RedisStoreError(ServerError, StoreFailure):
    """The Redis store cannot be reached or refused a command."""


def safe_url(url: str) -> str:
    """``url`` as it may be shown: no password, neither in the netloc nor in ``?password=``."""
    shown = describe_store(url)
    parts = urlsplit(shown)
    if not parts.query:
        return shown
    query = [(k, "***" if k.lower() == "password" else v) for k, v in parse_qsl(parts.query, keep_blank_values=True)]
    return parts._replace(query=urlencode(query, safe="*/")).geturl()


def _num(value: float) -> str:
    return repr(float(value))


def _floor_ms() -> int:
    return int((time.time() + MIN_TTL_S) * 1000)


def _at_ms(at: float, floor_ms: int) -> str:
    return str(max(int(at * 1000), floor_ms))


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class RedisStore:
    """:class:`~ots_desktop.server.link_model.LinkStore` on one Redis database."""

    name = "redis"
    streaming = True  # large envelopes are lists of pieces (server/redis_blobs.py), streamed in and out

    def __init__(self, client: aioredis.Redis, url: str, prefix: str) -> None:
        self._client = client
        self._url = safe_url(url)
        self._prefix = prefix
        self._pending_key = f"{prefix}pending"
        self._ended_key = f"{prefix}ended"
        # The size of the envelopes held: added by a create, taken off (by the record's `stored`) when a share ends.
        self._stored_key = f"{prefix}stored_bytes"
        self._reset_stored = client.register_script(scripts.RESET_STORED)
        self._create = client.register_script(scripts.CREATE)
        self._create_streamed = client.register_script(scripts.CREATE_STREAMED)
        self._release = client.register_script(RELEASE)
        self._reveal = client.register_script(scripts.REVEAL)
        self._note_blocked = client.register_script(scripts.NOTE_BLOCKED)
        self._revoke = client.register_script(scripts.REVOKE)
        self._expire_one = client.register_script(scripts.EXPIRE_ONE)
        self._forget_one = client.register_script(scripts.FORGET_ONE)

    @classmethod
    async def connect(cls, url: str, *, prefix: str = "ots:") -> RedisStore:
        """Connect to ``redis://[:password@]host:port/db`` or ``unix:///path/to/sock?db=N`` and check it answers."""
        shown = safe_url(url)
        try:
            client: aioredis.Redis = aioredis.Redis.from_url(
                url, decode_responses=False, socket_connect_timeout=CONNECT_TIMEOUT_S,
                socket_timeout=COMMAND_TIMEOUT_S)
        except ValueError as exc:
            raise RedisStoreError(f"invalid Redis store URL {shown}: {exc}") from None
        try:
            await client.ping()
            server = await client.info("server")
        except (RedisError, OSError) as exc:
            await client.aclose()
            raise RedisStoreError(f"cannot reach the Redis store at {shown}: {exc}") from None
        version = str(server.get("redis_version", "0"))
        if tuple(int(p) for p in version.split(".")[:2] if p.isdigit()) < MIN_SERVER_VERSION:
            await client.aclose()
            raise RedisStoreError(f"the Redis store at {shown} runs Redis {version}; "
                                  f"{'.'.join(map(str, MIN_SERVER_VERSION))} or newer is needed")
        return cls(client, url, prefix)

    def _keys(self, share_id: str) -> list[str]:
        p = self._prefix
        return [f"{p}secret:{share_id}", f"{p}envelope:{share_id}", f"{p}reveals:{share_id}",
                self._pending_key, self._ended_key, self._stored_key]

    def error(self, what: str) -> RedisStoreError:
        return RedisStoreError(f"the Redis store at {self._url} failed: {what}")

    async def guard(self, pending: Awaitable[T]) -> T:
        """Await a Redis call; its failures become :class:`RedisStoreError`."""
        try:
            return await pending
        except (RedisError, OSError) as exc:
            raise self.error(str(exc)) from None


    async def _run(self, script: AsyncScript, share_id: str, now: float, *extra: Any) -> Any:
        args = [share_id, _floor_ms(), _num(now), *extra]
        return await self.guard(script(keys=self._keys(share_id), args=args))

    async def create(self, secret: NewSecret) -> bool:
        """Store the share and its envelope in one step; False if the id is taken."""
        floor_ms = _floor_ms()
        record_ms = _at_ms(secret.expires_at + TOMBSTONE_S, floor_ms)
        args = [secret.id, floor_ms, _num(secret.created_at), secret.envelope,
                _at_ms(secret.expires_at, floor_ms), record_ms, _num(secret.expires_at),
                *_fields(secret, record_ms, len(secret.envelope))]
        created = await self.guard(self._create(keys=self._keys(secret.id), args=args))
        return bool(created)

    async def new_upload(self, share_id: str) -> RedisUpload:
        """A list of its own for a large envelope as it arrives."""
        return RedisUpload(self, self._client, share_id, self._prefix)

    async def create_streamed(self, secret: NewSecret, upload: BlobUpload, size: int) -> bool:
        """Record the share and rename its complete upload to its envelope, in one script; False (and the
        upload deleted) if the id is taken."""
        assert isinstance(upload, RedisUpload)
        floor_ms = _floor_ms()
        record_ms = _at_ms(secret.expires_at + TOMBSTONE_S, floor_ms)
        extra = {"stream_size": size, "pieces": upload.pieces, "readers": 0}
        args = [secret.id, floor_ms, _num(secret.created_at), size, _at_ms(secret.expires_at, floor_ms),
                record_ms, _num(secret.expires_at), upload.pieces, *_fields(secret, record_ms, size, extra)]
        try:
            created = await self.guard(self._create_streamed(keys=[*self._keys(secret.id), upload.key], args=args))
        except BaseException:
            await upload.discard()
            raise
        return bool(created)

    async def release(self, share_id: str) -> None:
        """A reader of a streamed envelope is done (the last reader of an ended share deletes it)."""
        await self.guard(self._release(keys=self._keys(share_id)[:2]))

    async def info(self, share_id: str, now: float, *, history: bool = True) -> SecretInfo | None:
        """The share's record with its state as of ``now``, and with ``history`` its reveals, read in one
        transaction (without: one command, no transaction)."""
        record_key, _, reveals_key, *_ = self._keys(share_id)
        if not history:
            found = await self.guard(self._client.hgetall(record_key))  # type: ignore[misc]
            return _decode_info(share_id, cast(dict[bytes, bytes], found), [], now) if found else None
        async with self._client.pipeline(transaction=True) as pipe:
            pipe.hgetall(record_key)
            pipe.lrange(reveals_key, 0, -1)
            record, reveals = await self.guard(pipe.execute())
        if not record:
            return None
        return _decode_info(share_id, record, reveals, now)

    async def reveal(self, share_id: str, auth_hash: str, ip: str, now: float) -> RevealResult:
        """Check and claim one view in one script; the envelope comes back only to the winner."""
        record = json.dumps({"at": now, "ip": ip})
        reply = await self._run(self._reveal, share_id, now, auth_hash, record)
        outcome = RevealOutcome(_text(reply[0]))
        state = SecretState(_text(reply[1])) if len(reply) > 1 else None
        if outcome is RevealOutcome.REVEALED and reply[5]:
            envelope_key = self._keys(share_id)[1]
            return RevealResult(outcome, views_left=int(reply[2]), attempts_left=int(reply[3]), state=state,
                                blob=RedisBlob(self, self._client, share_id, envelope_key, int(reply[6])),
                                blob_size=int(reply[5]))
        if outcome is RevealOutcome.REVEALED:
            return RevealResult(outcome, envelope=bytes(reply[4]), views_left=int(reply[2]),
                                attempts_left=int(reply[3]), state=state)
        if outcome is RevealOutcome.WRONG_TOKEN:
            return RevealResult(outcome, attempts_left=int(reply[3]), state=state)
        return RevealResult(outcome, state=state)

    async def note_blocked(self, share_id: str, now: float) -> None:
        """Count one reveal refused by the allowlist or the country rule (only if the share is known)."""
        await self._run(self._note_blocked, share_id, now)

    async def revoke(self, share_id: str, now: float) -> SecretState | None:
        """End a pending share as revoked; report the state it is in afterwards."""
        reply = await self._run(self._revoke, share_id, now)
        return None if reply is None else SecretState(_text(reply))

    async def sweep(self, now: float) -> int:
        """Mark shares expired by ``now`` and drop their envelopes; forget tombstones past TOMBSTONE_S.

        Redis' TTLs forget data on the real clock anyway; this follows ``now`` and keeps the
        two indexes small. Returns the number of shares changed or forgotten.
        """
        touched = await self._sweep_index(self._pending_key, now, self._expire_one, now)
        touched += await self._sweep_index(self._ended_key, now - TOMBSTONE_S, self._forget_one, now)
        await self.guard(self._reset_stored(keys=[self._pending_key, self._stored_key]))
        return touched

    async def _sweep_index(self, index: str, upto: float, script: AsyncScript, now: float) -> int:
        touched = 0
        while True:
            members = await self.guard(self._client.zrangebyscore(index, "-inf", _num(upto), start=0,
                                                                   num=SWEEP_BATCH))
            if not members:
                return touched
            floor_ms = _floor_ms()
            async with self._client.pipeline(transaction=False) as pipe:
                for member in members:
                    share_id = _text(member)
                    await script(keys=self._keys(share_id), args=[share_id, floor_ms, _num(now)], client=pipe)
                results = await self.guard(pipe.execute())
            touched += sum(1 for r in results if int(r) == 1)
            if len(members) < SWEEP_BATCH or all(int(r) < 0 for r in results):
                return touched

    async def stored_bytes(self) -> int:
        """The total size of the envelopes held, as the scripts count it."""
        value = await self.guard(self._client.get(self._stored_key))
        return max(0, int(value or 0))

    def rate_limiter(self, rate: Rate, scope: str) -> RedisRateLimiter:
        """A per-client rate limit kept in this Redis: every relay process on it shares the one limit."""
        return RedisRateLimiter(self._client, f"{self._prefix}rate:{scope}:", rate)

    async def ping(self) -> None:
        """Raise :class:`RedisStoreError` if Redis does not answer."""
        await self.guard(self._client.ping())

    async def close(self) -> None:
        """Close the connection pool."""
        await self._client.aclose()


def _fields(secret: NewSecret, record_ms: str, stored: int,
            extra: dict[str, int] | None = None) -> list[bytes | str | int]:
    """A new share's record, flattened for HSET."""
    fields: dict[str, bytes | str | int] = {
        "state": SecretState.PENDING.value, "header": secret.header,
        "needs_passphrase": int(secret.needs_passphrase), "auth_hash": secret.auth_hash,
        "link_hash": secret.link_hash,
        "status_hash": secret.status_hash, "created_at": _num(secret.created_at),
        "expires_at": _num(secret.expires_at), "max_views": secret.max_views, "views_left": secret.max_views,
        "failed_attempts": 0, "blocked_attempts": 0, "allow_cidrs": json.dumps(list(secret.allow_cidrs)),
        "allow_countries": json.dumps(list(secret.allow_countries)),
        "keep_ms": record_ms, "stored": stored, **(extra or {}),
    }  # fmt: skip
    return [item for pair in fields.items() for item in pair]


def _decode_info(share_id: str, record: dict[bytes, bytes], reveals: list[bytes], now: float) -> SecretInfo:
    def text(name: str) -> str:
        return record[name.encode()].decode()

    state = SecretState(text("state"))
    expires_at = float(text("expires_at"))
    ended_raw = record.get(b"ended_at")
    ended_at = float(ended_raw) if ended_raw is not None else None
    if state is SecretState.PENDING and now >= expires_at:
        state, ended_at = SecretState.EXPIRED, expires_at
    history = tuple(RevealRecord(at=float(r["at"]), ip=str(r["ip"])) for r in map(json.loads, reveals))
    return SecretInfo(
        id=share_id, state=state, header=record[b"header"], needs_passphrase=text("needs_passphrase") == "1",
        status_hash=text("status_hash"), created_at=float(text("created_at")), expires_at=expires_at,
        max_views=int(text("max_views")), views_left=int(text("views_left")),
        failed_attempts=int(text("failed_attempts")), blocked_attempts=int(text("blocked_attempts")),
        allow_cidrs=tuple(json.loads(text("allow_cidrs"))), reveals=history, ended_at=ended_at,
        link_hash=record.get(b"link_hash", b"").decode(),  # absent in records made before link proofs
        allow_countries=tuple(json.loads(record.get(b"allow_countries", b"[]"))),  # absent: made before them
        stream_size=int(record[b"stream_size"]) if b"stream_size" in record else None,
    )  # fmt: skip
