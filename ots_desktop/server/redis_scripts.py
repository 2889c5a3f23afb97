"""The Lua scripts of the Redis link store (server/store_redis.py): each change to a share is one of them.

KEYS, for every script that takes a share: the record (a hash), the envelope, the reveal
history, the pending index, the ended index and the stored-bytes counter. ARGV[1] is the
share id, ARGV[2] the earliest expiry in ms a TTL may get (real clock, ``MIN_TTL_S`` ahead),
ARGV[3] the caller's ``now``.
"""

from __future__ import annotations

from ots_desktop.server.link_model import MAX_FAILED_ATTEMPTS, TOMBSTONE_S
from ots_desktop.server.redis_blobs import DROP_ENVELOPE

# Shared by the scripts that end a share. KEYS: record, envelope, reveals, pending, ended, stored bytes.
# ARGV[1] id, ARGV[2] the earliest allowed expiry in ms (real clock), ARGV[3] now.
FINISH = DROP_ENVELOPE + f"""
local function finish(state, ended_at)
  local keep = math.max((tonumber(ended_at) + {TOMBSTONE_S}) * 1000, tonumber(ARGV[2]))
  keep = string.format('%.0f', math.floor(keep))
  redis.call('HSET', KEYS[1], 'state', state, 'ended_at', ended_at, 'keep_ms', keep)
  drop_envelope()
  local stored = redis.call('HGET', KEYS[1], 'stored')
  if stored then
    redis.call('DECRBY', KEYS[6], stored)
    redis.call('HDEL', KEYS[1], 'stored')
  end
  redis.call('ZREM', KEYS[4], ARGV[1])
  redis.call('ZADD', KEYS[5], ended_at, ARGV[1])
  redis.call('PEXPIREAT', KEYS[1], keep)
  redis.call('PEXPIREAT', KEYS[3], keep)
end
"""

# ARGV[4] envelope, ARGV[5] envelope expiry ms, ARGV[6] record expiry ms, ARGV[7] expires_at, ARGV[8..] fields.
CREATE = """
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('DEL', KEYS[2], KEYS[3])
redis.call('HSET', KEYS[1], unpack(ARGV, 8))
redis.call('PEXPIREAT', KEYS[1], ARGV[6])
redis.call('SET', KEYS[2], ARGV[4], 'PXAT', ARGV[5])
redis.call('INCRBY', KEYS[6], string.len(ARGV[4]))
redis.call('ZADD', KEYS[4], ARGV[7], ARGV[1])
redis.call('ZREM', KEYS[5], ARGV[1])
return 1
"""

# The envelope of a streamed share is a list of pieces (server/redis_blobs.py), counted in 'pieces'.
# ARGV[4] size, ARGV[5] envelope expiry ms, ARGV[6] record expiry ms, ARGV[7] expires_at, ARGV[8] pieces,
# ARGV[9..] fields; KEYS[7] the complete upload, renamed to the envelope.
CREATE_STREAMED = """
if redis.call('EXISTS', KEYS[1]) == 1 then
  redis.call('DEL', KEYS[7])
  return 0
end
if redis.call('LLEN', KEYS[7]) ~= tonumber(ARGV[8]) then return redis.error_reply('the upload is incomplete') end
redis.call('DEL', KEYS[2], KEYS[3])
redis.call('RENAME', KEYS[7], KEYS[2])
redis.call('HSET', KEYS[1], unpack(ARGV, 9))
redis.call('PEXPIREAT', KEYS[1], ARGV[6])
redis.call('PEXPIREAT', KEYS[2], ARGV[5])
redis.call('INCRBY', KEYS[6], ARGV[4])
redis.call('ZADD', KEYS[4], ARGV[7], ARGV[1])
redis.call('ZREM', KEYS[5], ARGV[1])
return 1
"""

# ARGV[4] auth hash, ARGV[5] the reveal record (JSON). Returns {outcome, state, views_left, attempts_left,
# envelope, stream size, pieces}: a streamed share's envelope stays in its list, and the claim counts a reader.
REVEAL = FINISH + f"""
local m = redis.call('HMGET', KEYS[1], 'state', 'auth_hash', 'expires_at', 'failed_attempts', 'keep_ms',
                     'stream_size', 'pieces')
if not m[1] then return {{'not_found'}} end
if m[1] ~= 'pending' then return {{'gone', m[1]}} end
if tonumber(ARGV[3]) >= tonumber(m[3]) then
  finish('expired', m[3])
  return {{'gone', 'expired'}}
end
local failed = tonumber(m[4])
if m[2] ~= ARGV[4] then
  failed = redis.call('HINCRBY', KEYS[1], 'failed_attempts', 1)
  if failed >= {MAX_FAILED_ATTEMPTS} then
    finish('burned', ARGV[3])
    return {{'burned', 'burned'}}
  end
  return {{'wrong_token', 'pending', 0, {MAX_FAILED_ATTEMPTS} - failed}}
end
local envelope = ''
if m[6] then
  if redis.call('EXISTS', KEYS[2]) == 1 then redis.call('HINCRBY', KEYS[1], 'readers', 1) else envelope = false end
else
  envelope = redis.call('GET', KEYS[2])
end
if not envelope then
  -- Only Redis' clock running ahead of the caller's can drop it first: it did expire.
  finish('expired', m[3])
  return {{'gone', 'expired'}}
end
local left = redis.call('HINCRBY', KEYS[1], 'views_left', -1)
redis.call('RPUSH', KEYS[3], ARGV[5])
redis.call('PEXPIREAT', KEYS[3], m[5])
local state = 'pending'
if left <= 0 then
  finish('revealed', ARGV[3])
  state = 'revealed'
end
return {{'revealed', state, left, {MAX_FAILED_ATTEMPTS} - failed, envelope, m[6] or '', m[7] or ''}}
"""

NOTE_BLOCKED = """
if redis.call('EXISTS', KEYS[1]) == 1 then redis.call('HINCRBY', KEYS[1], 'blocked_attempts', 1) end
return 0
"""

REVOKE = FINISH + """
local m = redis.call('HMGET', KEYS[1], 'state', 'expires_at')
if not m[1] then return false end
if m[1] ~= 'pending' then return m[1] end
if tonumber(ARGV[3]) >= tonumber(m[2]) then
  finish('expired', m[2])
  return 'expired'
end
finish('revoked', ARGV[3])
return 'revoked'
"""

# Sweep steps return 1 (changed the share), 0 (dropped a stale index entry) or -1 (left as is).
EXPIRE_ONE = FINISH + """
local m = redis.call('HMGET', KEYS[1], 'state', 'expires_at')
if m[1] ~= 'pending' then
  redis.call('ZREM', KEYS[4], ARGV[1])
  return 0
end
if tonumber(ARGV[3]) < tonumber(m[2]) then return -1 end
finish('expired', m[2])
return 1
"""

FORGET_ONE = f"""
local m = redis.call('HMGET', KEYS[1], 'state', 'ended_at')
if (not m[1]) or m[1] == 'pending' or (not m[2]) then
  redis.call('ZREM', KEYS[5], ARGV[1])
  return 0
end
if tonumber(ARGV[3]) < tonumber(m[2]) + {TOMBSTONE_S} then return -1 end
redis.call('DEL', KEYS[1], KEYS[2], KEYS[3])
redis.call('ZREM', KEYS[5], ARGV[1])
return 1
"""


# KEYS[1] pending index, KEYS[2] stored-bytes counter. With nothing pending, nothing is stored: a count
# left over by records Redis dropped on its own (no relay swept for a week) goes back to 0.
RESET_STORED = """
if redis.call('ZCARD', KEYS[1]) == 0 then redis.call('SET', KEYS[2], 0) end
return 0
"""
