"""The Lua scripts that own the firm's keys: every change to the latch is one of these.

Why scripts: Redis runs a script atomically, so "first trip wins", "re-arm only the epoch
named" and "write my heartbeat and read everyone's" each happen as one step that no other
node can interleave with, and no client-side lock is needed.

What the scripts do *not* do: judge. Redis cannot check an Ed25519 signature, and anyone
who can write to Redis can change what a script would read. So the scripts only store and
fetch; every node verifies re-arms and figures itself, sums the figures that count in
Python (exact ``Decimal``), and trips the latch through ``TRIP`` when the sum or a lost
node says so. A script meets a key of the wrong type (someone wrote over it) by treating
it as corrupt: ``TRIP`` replaces a corrupt latch with a trip, the reads report it.

Keys (``{firm}`` is a Redis Cluster hash tag: every key of one firm lives in one slot):
``riskwatch:{firm}:latch`` (hash), ``riskwatch:{firm}:events`` (capped stream),
``riskwatch:{firm}:nodes`` (set of node names), ``riskwatch:{firm}:node:<name>`` (hash),
``riskwatch:{firm}:enrolled`` and ``riskwatch:{firm}:forgotten`` (hashes: the operator's
signed enrolments and forgets), ``riskwatch:{firm}:operator`` (string: the operator's
public key as the nodes hold it, for the CLI's check before it writes).
Changes are announced on the pub/sub channel ``riskwatch:{firm}:latch``.
"""

from __future__ import annotations

#: Shared: server time, a hash read that survives a wrong type, and the trip itself.
_LIBRARY = r"""
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

local function kind(key)
  return redis.call('TYPE', key)['ok']
end

-- HGETALL, or {'__wrongtype__', type} for a key someone wrote as something else
local function read_hash(key)
  local t = kind(key)
  if t == 'none' then return {} end
  if t ~= 'hash' then return {'__wrongtype__', t} end
  return redis.call('HGETALL', key)
end

-- XADD to the capped stream; a key of another type there (someone wrote over it) is
-- dropped first, so that no write to the stream can block a trip
local function xadd(events, maxlen, ...)
  local t = kind(events)
  if t ~= 'stream' and t ~= 'none' then redis.call('DEL', events) end
  return redis.call('XADD', events, 'MAXLEN', '~', maxlen, '*', ...)
end

-- the latch's epoch, or nil (with why) if the latch is not a readable hash
local function latch_epoch(latch)
  local t = kind(latch)
  if t == 'none' then return 0 end
  if t ~= 'hash' then return nil, 'the latch key is a ' .. t end
  local raw = redis.call('HGET', latch, 'epoch')
  if not raw then return 0 end
  local n = tonumber(raw)
  if not n or n < 0 or n ~= math.floor(n) then return nil, 'epoch ' .. raw end
  return n
end

-- Set the latch: first trip wins. Returns {1, epoch} if this call set it, {0, epoch} if
-- it was set already (the attempt is recorded as suppressed). A corrupt latch is replaced
-- by this trip, at an epoch above ``floor`` (the highest the caller has seen).
local function trip(latch, events, channel, maxlen, origin, cause, reason, detail, floor)
  local at = now_ms()
  local epoch, why = latch_epoch(latch)
  if epoch and redis.call('HGET', latch, 'state') == 'tripped' then
    xadd(events, maxlen, 'event', 'suppressed',
      'epoch', epoch, 'origin', origin, 'cause', cause, 'reason', reason, 'at_ms', at)
    return {0, epoch}
  end
  if not epoch then
    redis.call('DEL', latch)
    xadd(events, maxlen, 'event', 'corrupt-latch',
      'origin', origin, 'reason', why, 'at_ms', at)
    epoch = 0
  end
  epoch = math.max(epoch, floor) + 1
  redis.call('DEL', latch)
  redis.call('HSET', latch, 'state', 'tripped', 'epoch', epoch, 'origin', origin,
    'cause', cause, 'reason', reason, 'detail', detail, 'at_ms', at)
  xadd(events, maxlen, 'event', 'trip', 'epoch', epoch,
    'origin', origin, 'cause', cause, 'reason', reason, 'detail', detail, 'at_ms', at)
  redis.call('PUBLISH', channel, 'trip ' .. epoch)
  return {1, epoch}
end
"""

#: KEYS: latch, events. ARGV: channel, maxlen, origin, cause, reason, detail, floor.
TRIP = (
    _LIBRARY
    + r"""
return trip(KEYS[1], KEYS[2], ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6],
  tonumber(ARGV[7]) or 0)
"""
)

#: KEYS: latch, events. ARGV: channel, maxlen, node, epoch, observed signature, then the
#: latch's fields and values to write back. A node puts back the latch it can prove:
#: the trip it holds, or the signed re-arm it accepted, when the latch went backwards (a
#: lower epoch, or at the same epoch a state that is neither that trip nor a re-arm that
#: verifies). Nothing is written if the firm moved past ``epoch``, or if the latch changed
#: since the node read it (its ``rearm_sig`` is no longer the one observed: the operator
#: may just have re-armed). Returns 1 if written.
RESTORE = (
    _LIBRARY
    + r"""
local epoch = tonumber(ARGV[4])
local current = latch_epoch(KEYS[1])
if current then
  if current > epoch then return 0 end
  if current == epoch then
    local state = redis.call('HGET', KEYS[1], 'state')
    local sig = redis.call('HGET', KEYS[1], 'rearm_sig') or ''
    if sig ~= ARGV[5] then return 0 end
    local wanted = nil
    for i = 6, #ARGV, 2 do if ARGV[i] == 'state' then wanted = ARGV[i + 1] end end
    if state == wanted and wanted == 'tripped' then return 0 end
  end
end
redis.call('DEL', KEYS[1])
local fields = {}
for i = 6, #ARGV do fields[#fields + 1] = ARGV[i] end
redis.call('HSET', KEYS[1], unpack(fields))
xadd(KEYS[2], ARGV[2], 'event', 'restore', 'epoch', epoch,
  'origin', ARGV[3], 'reason', 'the latch went backwards: ' .. (current and
  ('epoch ' .. current) or 'unreadable'), 'at_ms', now_ms())
redis.call('PUBLISH', ARGV[1], 'restore ' .. epoch)
return 1
"""
)

#: KEYS: latch, events. ARGV: channel, maxlen, epoch, by, reason, at_ms, signature.
#: Returns {1, "re-armed epoch N"} or {0, why}. The script cannot check the signature
#: (Redis holds no key that could): the CLI checks its key against the one the nodes hold
#: before it calls this, and the nodes verify the signature. Any latch at the named epoch
#: is re-armed, whatever its state says (a writer may have set it to anything): only the
#: epoch decides which trip the signature clears.
REARM = (
    _LIBRARY
    + r"""
local epoch, why = latch_epoch(KEYS[1])
local at = now_ms()
if not epoch then
  why = 'the latch is corrupt (' .. why .. '): kill again, then re-arm the new epoch'
elseif epoch == 0 then
  why = 'not tripped (the firm never tripped)'
elseif tostring(epoch) ~= ARGV[3] then
  why = 'stale epoch ' .. ARGV[3] .. ': the latch is at epoch ' .. epoch
end
if why then
  xadd(KEYS[2], ARGV[2], 'event', 'rearm-refused',
    'epoch', ARGV[3], 'origin', ARGV[4], 'reason', why, 'at_ms', at)
  return {0, why}
end
redis.call('HSET', KEYS[1], 'state', 'armed', 'rearm_by', ARGV[4], 'rearm_reason', ARGV[5],
  'rearm_at_ms', ARGV[6], 'rearm_sig', ARGV[7])
xadd(KEYS[2], ARGV[2], 'event', 'rearm', 'epoch', epoch,
  'origin', ARGV[4], 'reason', ARGV[5], 'at_ms', at)
redis.call('PUBLISH', ARGV[1], 'rearm ' .. epoch)
return {1, 're-armed epoch ' .. epoch}
"""
)

#: KEYS: latch, nodes, enrolled, forgotten, operator. ARGV: prefix, node, operator key
#: ("" for none), then this node's fields and values. Writes this node's heartbeat
#: (stamped with the server's clock, for people reading ``status``) and registers the
#: operator key the node holds if none is registered; returns what a node judges by, in
#: one round trip: {latch, enrolled, forgotten, {name, entry, name, entry, ...}} (each a
#: flat HGETALL, or {'__wrongtype__', type}).
HEARTBEAT = (
    _LIBRARY
    + r"""
local prefix, node = ARGV[1], ARGV[2]
local mine = prefix .. node
redis.call('DEL', mine)
local fields = {'at_ms', now_ms()}
for i = 4, #ARGV do fields[#fields + 1] = ARGV[i] end
redis.call('HSET', mine, unpack(fields))
local members = {}
local set = kind(KEYS[2])
if set == 'set' or set == 'none' then
  redis.call('SADD', KEYS[2], node)
  for _, name in ipairs(redis.call('SMEMBERS', KEYS[2])) do
    members[#members + 1] = name
    members[#members + 1] = read_hash(prefix .. name)
  end
else
  members = {'__wrongtype__', set}
end
if ARGV[3] ~= '' and kind(KEYS[5]) == 'none' then redis.call('SET', KEYS[5], ARGV[3]) end
return {read_hash(KEYS[1]), read_hash(KEYS[3]), read_hash(KEYS[4]), members}
"""
)
