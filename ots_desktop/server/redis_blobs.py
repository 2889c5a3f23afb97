"""Large envelopes in the Redis store: a list of pieces of up to 1 MiB, streamed in and out.

An upload goes to a list of its own, ``upload:<id>:<random>``, piece by piece; each push
renews that list's idle TTL (``UPLOAD_IDLE_S``), so an upload given up, or cut by a relay
that was killed, disappears on its own. The create script renames the complete list to the
share's envelope key in the same step that writes the record, so a share exists exactly when
its envelope does, and no other relay process sees a half upload.

A reveal's claim counts the share's ``readers`` (in the record) and the reader reads the list
one piece at a time. The script that ends a share (the last view, a burn, a revoke, an expiry)
deletes the list only when nobody is reading it; otherwise it shortens the list's TTL to at
most ``SERVE_GRACE_S`` and the last reader to close deletes it. So several views of one share
can stream at once, and a view that ends the share while another streams does not cut that
one off.
"""

from __future__ import annotations

import logging
import secrets
from typing import TYPE_CHECKING

import redis.asyncio as aioredis

from ots_desktop.server.link_model import PIECE, StoreFailure

if TYPE_CHECKING:
    from ots_desktop.server.store_redis import RedisStore

_log = logging.getLogger("ots_desktop.server.access")
# An upload that has not grown for this long is dropped by Redis (the relay's body timeout is far shorter).
UPLOAD_IDLE_S = 300
# How long an ended share's envelope may stay for a reader still streaming it (then Redis drops it).
SERVE_GRACE_S = 3600

# KEYS: record, envelope. Called by a reader when it is done: the last reader of an ended share deletes it.
RELEASE = """
if redis.call('EXISTS', KEYS[1]) == 0 then
  redis.call('DEL', KEYS[2])
  return 0
end
local left = redis.call('HINCRBY', KEYS[1], 'readers', -1)
if left <= 0 then
  redis.call('HSET', KEYS[1], 'readers', 0)
  if redis.call('HGET', KEYS[1], 'state') ~= 'pending' then redis.call('DEL', KEYS[2]) end
end
return left
"""

# Lua for the scripts that end a share (store_redis._FINISH): the envelope goes now, unless a reader streams it.
DROP_ENVELOPE = f"""
local function drop_envelope()
  local readers = tonumber(redis.call('HGET', KEYS[1], 'readers') or '0')
  if readers > 0 then
    local ttl = redis.call('PTTL', KEYS[2])
    if ttl < 0 or ttl > {SERVE_GRACE_S * 1000} then redis.call('PEXPIRE', KEYS[2], {SERVE_GRACE_S * 1000}) end
  else
    redis.call('DEL', KEYS[2])
  end
end
"""


class RedisUpload:
    """An envelope arriving into its own list (:class:`~ots_desktop.server.link_model.BlobUpload`).

    Bytes are gathered into pieces of ``PIECE`` bytes; each full piece is pushed, with the
    list's idle TTL renewed in the same round trip. At most one piece waits here.
    """

    def __init__(self, store: RedisStore, client: aioredis.Redis, share_id: str, prefix: str) -> None:
        self.key = f"{prefix}upload:{share_id}:{secrets.token_hex(8)}"
        self._store = store
        self._client = client
        self._buffer = bytearray()
        self.pieces = 0

    async def write(self, data: bytes) -> None:
        self._buffer += data
        while len(self._buffer) >= PIECE:
            piece = bytes(self._buffer[:PIECE])
            del self._buffer[:PIECE]
            await self._push(piece)

    async def complete(self) -> None:
        if self._buffer:
            piece = bytes(self._buffer)
            self._buffer.clear()
            await self._push(piece)

    async def discard(self) -> None:
        self._buffer.clear()
        await self._store.guard(self._client.delete(self.key))

    async def _push(self, piece: bytes) -> None:
        async with self._client.pipeline(transaction=False) as pipe:
            pipe.rpush(self.key, piece)
            pipe.expire(self.key, UPLOAD_IDLE_S)
            await self._store.guard(pipe.execute())
        self.pieces += 1


class RedisBlob:
    """A claimed envelope list, read a piece at a time (:class:`~ots_desktop.server.link_model.BlobReader`)."""

    def __init__(self, store: RedisStore, client: aioredis.Redis, share_id: str, key: str, pieces: int) -> None:
        self._store = store
        self._client = client
        self._share_id = share_id
        self._key = key
        self._pieces = pieces
        self._next = 0
        self._closed = False

    async def read(self) -> bytes:
        if self._next >= self._pieces:
            return b""
        piece = await self._store.guard(self._client.lindex(self._key, self._next))  # type: ignore[misc]
        if piece is None:
            raise self._store.error("a large envelope vanished from Redis while it was being read")
        self._next += 1
        return piece if isinstance(piece, bytes) else piece.encode()  # bytes: the client does not decode

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            await self._store.release(self._share_id)
        except StoreFailure as exc:
            # Redis went away mid-reveal. The envelope is not lost track of: an ended share's list has a TTL
            # of at most SERVE_GRACE_S, a pending one's ends with the share.
            _log.warning("a streamed reveal could not tell Redis it was done: %s", exc)
