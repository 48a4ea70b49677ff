"""The Lua scripts that own the firm's keys: every change to the latch is one of these.

Why scripts: Redis runs a script atomically, so "first trip wins", "re-arm only the epoch
named" and "sum the fresh figures and trip at the ceiling" each happen as one step that no
other node can interleave with, and no client-side lock is needed.

Why decimal arithmetic in Lua: Lua numbers are doubles, so ``tonumber("0.1") + ...`` is not
exact. The figures stay strings; ``SUM`` adds them as base-10^7 integer limbs at the widest
scale among them (limbs < 10^7 summed over any realistic number of nodes stay far below
2^53, where doubles are exact integers), and compares ``loss >= ceiling`` on the limbs too.
The alternative (sum in Python over a snapshot, then trip if nothing changed meanwhile)
needs a second round trip and a retry loop, and leaves the rule "the server sums" to every
client; here it is one script and one answer.

Keys (``{firm}`` is a Redis Cluster hash tag: every key of one firm lives in one slot):
``riskwatch:{firm}:latch`` (hash), ``riskwatch:{firm}:events`` (capped stream),
``riskwatch:{firm}:nodes`` (set of node names), ``riskwatch:{firm}:node:<name>`` (hash).
Changes are announced on the pub/sub channel ``riskwatch:{firm}:latch``.
"""

from __future__ import annotations

#: Shared by every script: server time, the exact decimal sum, and the trip itself.
_LIBRARY = r"""
local BASE = 10000000
local BASE_DIGITS = 7

local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

-- "-12.3400" -> sign, integer digits, fraction digits; nil if it is not a plain decimal
local function parse(s)
  if type(s) ~= 'string' or #s == 0 or #s > 120 then return nil end
  local sign, int, frac = string.match(s, '^([+-]?)(%d+)%.?(%d*)$')
  if not int then
    sign, frac = string.match(s, '^([+-]?)%.(%d+)$')
    if not frac then return nil end
    int = '0'
  end
  return (sign == '-') and -1 or 1, int, frac
end

-- digits (a string of decimal digits) -> little-endian base-10^7 limbs
local function limbs(digits)
  local out = {}
  local i = #digits
  while i >= 1 do
    local j = math.max(1, i - BASE_DIGITS + 1)
    out[#out + 1] = tonumber(string.sub(digits, j, i))
    i = j - 1
  end
  return out
end

local function add_into(acc, l)
  for k = 1, #l do acc[k] = (acc[k] or 0) + l[k] end
  for k = #acc + 1, #l do acc[k] = acc[k] or 0 end
end

local function normalize(acc)
  local carry = 0
  local n = #acc
  for k = 1, n do
    local v = (acc[k] or 0) + carry
    carry = math.floor(v / BASE)
    acc[k] = v - carry * BASE
  end
  while carry > 0 do
    local v = carry
    carry = math.floor(v / BASE)
    acc[#acc + 1] = v - carry * BASE
  end
  while #acc > 0 and acc[#acc] == 0 do acc[#acc] = nil end
  return acc
end

local function cmp(a, b)
  if #a ~= #b then return (#a > #b) and 1 or -1 end
  for k = #a, 1, -1 do
    if a[k] ~= b[k] then return (a[k] > b[k]) and 1 or -1 end
  end
  return 0
end

-- a - b for normalized a >= b
local function sub(a, b)
  local out, borrow = {}, 0
  for k = 1, #a do
    local v = a[k] - (b[k] or 0) - borrow
    if v < 0 then v = v + BASE; borrow = 1 else borrow = 0 end
    out[k] = v
  end
  return normalize(out)
end

local function format(sign, l, scale)
  local parts = {}
  for k = #l, 1, -1 do
    if k == #l then parts[#parts + 1] = tostring(l[k])
    else parts[#parts + 1] = string.format('%07d', l[k]) end
  end
  local digits = table.concat(parts)
  if #digits <= scale then digits = string.rep('0', scale - #digits + 1) .. digits end
  local out = digits
  if scale > 0 then
    out = string.sub(digits, 1, #digits - scale) .. '.' .. string.sub(digits, #digits - scale + 1)
  end
  if sign < 0 and #l > 0 then out = '-' .. out end
  return out
end

-- Exact sum of decimal strings, and whether the loss (-sum) reaches the ceiling.
-- Returns sum_string, breached (true/false), or nil and the bad figure.
local function decimal_sum(figures, ceiling)
  local parsed, scale = {}, 0
  for i = 1, #figures do
    local sign, int, frac = parse(figures[i])
    if not sign then return nil, figures[i] end
    parsed[i] = {sign, int, frac}
    if #frac > scale then scale = #frac end
  end
  local csign, cint, cfrac = 1, '0', ''
  if ceiling then
    csign, cint, cfrac = parse(ceiling)
    if not csign or csign < 0 then return nil, ceiling end
    if #cfrac > scale then scale = #cfrac end
  end
  local pos, neg = {}, {}
  for i = 1, #parsed do
    local p = parsed[i]
    local l = limbs(p[2] .. p[3] .. string.rep('0', scale - #p[3]))
    if p[1] < 0 then add_into(neg, l) else add_into(pos, l) end
  end
  pos, neg = normalize(pos), normalize(neg)
  local total
  if cmp(pos, neg) >= 0 then total = format(1, sub(pos, neg), scale)
  else total = format(-1, sub(neg, pos), scale) end
  local breached = false
  if ceiling then
    local c = limbs(cint .. cfrac .. string.rep('0', scale - #cfrac))
    local bound = {}
    add_into(bound, pos)
    add_into(bound, c)
    breached = cmp(neg, normalize(bound)) >= 0   -- loss = neg - pos >= ceiling
  end
  return total, breached
end

-- Set the latch: first trip wins. Returns {1, epoch} if this call set it, {0, epoch} if
-- it was set already (the attempt is recorded as suppressed).
local function trip(latch, events, channel, maxlen, origin, cause, reason, detail)
  local at = now_ms()
  if redis.call('HGET', latch, 'state') == 'tripped' then
    local epoch = redis.call('HGET', latch, 'epoch')
    redis.call('XADD', events, 'MAXLEN', '~', maxlen, '*', 'event', 'suppressed',
      'epoch', epoch, 'origin', origin, 'cause', cause, 'reason', reason, 'at_ms', at)
    return {0, tonumber(epoch)}
  end
  local epoch = redis.call('HINCRBY', latch, 'epoch', 1)
  redis.call('HDEL', latch, 'rearm_by', 'rearm_reason', 'rearm_at_ms', 'rearm_sig')
  redis.call('HSET', latch, 'state', 'tripped', 'origin', origin, 'cause', cause,
    'reason', reason, 'detail', detail, 'at_ms', at)
  redis.call('XADD', events, 'MAXLEN', '~', maxlen, '*', 'event', 'trip', 'epoch', epoch,
    'origin', origin, 'cause', cause, 'reason', reason, 'detail', detail, 'at_ms', at)
  redis.call('PUBLISH', channel, 'trip ' .. epoch)
  return {1, epoch}
end
"""

#: KEYS: latch, events. ARGV: channel, maxlen, origin, cause, reason, detail, reassert.
#: ``reassert`` > 0: a node that holds the firm trip of that epoch finds the latch gone
#: (Redis lost it) and sets it again at that epoch, unless the firm has moved past it.
TRIP = (
    _LIBRARY
    + r"""
local reassert = tonumber(ARGV[7]) or 0
if reassert > 0 then
  local epoch = tonumber(redis.call('HGET', KEYS[1], 'epoch') or '0')
  if epoch >= reassert then return {0, epoch} end
  if redis.call('HGET', KEYS[1], 'state') == 'tripped' then
    redis.call('HSET', KEYS[1], 'epoch', reassert)
    return {0, reassert}
  end
  redis.call('HSET', KEYS[1], 'epoch', reassert - 1)
end
return trip(KEYS[1], KEYS[2], ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6])
"""
)

#: KEYS: latch, events. ARGV: channel, maxlen, epoch, by, reason, at_ms, signature.
#: Returns {1, "re-armed"} or {0, why}. The script cannot check the signature (Redis has
#: no secret, by design): the nodes do, and ignore a re-arm whose signature fails.
REARM = r"""
local state = redis.call('HGET', KEYS[1], 'state')
local epoch = redis.call('HGET', KEYS[1], 'epoch')
local at = redis.call('TIME')
at = tonumber(at[1]) * 1000 + math.floor(tonumber(at[2]) / 1000)
local why = nil
if state ~= 'tripped' then
  why = 'not tripped (state ' .. (state or 'never tripped') .. ')'
elseif epoch ~= ARGV[3] then
  why = 'stale epoch ' .. ARGV[3] .. ': the latch is at epoch ' .. epoch
end
if why then
  redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[2], '*', 'event', 'rearm-refused',
    'epoch', ARGV[3], 'origin', ARGV[4], 'reason', why, 'at_ms', at)
  return {0, why}
end
redis.call('HSET', KEYS[1], 'state', 'armed', 'rearm_by', ARGV[4], 'rearm_reason', ARGV[5],
  'rearm_at_ms', ARGV[6], 'rearm_sig', ARGV[7])
redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[2], '*', 'event', 'rearm', 'epoch', epoch,
  'origin', ARGV[4], 'reason', ARGV[5], 'at_ms', at)
redis.call('PUBLISH', ARGV[1], 'rearm ' .. epoch)
return {1, 're-armed epoch ' .. epoch}
"""

#: KEYS: latch, events, nodes. ARGV: channel, maxlen, prefix, node, pnl, currency, state,
#: ttl_ms, policy ("trip" | "count_last"), ceiling ("" for none), ceiling currency, info.
#: Writes this node's heartbeat (stamped with the server's clock, so machines' clocks do
#: not matter); then, while the latch is not set, looks for expired heartbeats (policy
#: "trip": they trip the firm, ceiling or not) and, with a ceiling, sums every figure.
#: Returns {tripped (0/1), epoch, firm pnl or "", stale nodes (comma separated)}.
HEARTBEAT = (
    _LIBRARY
    + r"""
local latch, events, nodes = KEYS[1], KEYS[2], KEYS[3]
local channel, maxlen, prefix, node = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local now = now_ms()
redis.call('SADD', nodes, node)
redis.call('HSET', prefix .. node, 'state', ARGV[7], 'ttl_ms', ARGV[8], 'at_ms', now,
  'info', ARGV[12])
if ARGV[5] == '' then  -- a node that keeps no PnL ledger reports no figure
  redis.call('HDEL', prefix .. node, 'pnl', 'currency')
else
  redis.call('HSET', prefix .. node, 'pnl', ARGV[5], 'currency', ARGV[6])
end
local ceiling, currency = ARGV[10], ARGV[11]
if redis.call('HGET', latch, 'state') == 'tripped' or (ceiling == '' and ARGV[9] ~= 'trip') then
  return {0, tonumber(redis.call('HGET', latch, 'epoch') or '0'), '', ''}
end
local figures, named, stale = {}, {}, {}
for _, name in ipairs(redis.call('SMEMBERS', nodes)) do
  local h = redis.call('HMGET', prefix .. name, 'pnl', 'currency', 'state', 'ttl_ms', 'at_ms')
  local at = tonumber(h[5])
  local ttl = tonumber(h[4]) or 0
  local expired = (not at) or (h[3] ~= 'stopped' and now - at > ttl)
  if expired then
    stale[#stale + 1] = name
    if ARGV[9] == 'trip' then
      local silent = 'no heartbeat on record'
      if at then
        silent = 'silent for ' .. string.format('%.1f', (now - at) / 1000) ..
          's (heartbeat ttl ' .. string.format('%.1f', ttl / 1000) .. 's)'
      end
      local r = trip(latch, events, channel, maxlen, node, 'heartbeat',
        'node ' .. name .. ' ' .. silent, name)
      return {r[1], r[2], '', name}
    end
  end
  if h[1] and ceiling ~= '' then
    if h[2] ~= currency then
      local r = trip(latch, events, channel, maxlen, node, 'firm-figure',
        'node ' .. name .. ' reports ' .. tostring(h[2]) .. ', the firm ceiling is in ' ..
        currency, name)
      return {r[1], r[2], '', ''}
    end
    figures[#figures + 1] = h[1]
    named[#named + 1] = name .. '=' .. h[1]
  end
end
if ceiling == '' then
  return {0, tonumber(redis.call('HGET', latch, 'epoch') or '0'), '', table.concat(stale, ',')}
end
local total, breached = decimal_sum(figures, ceiling)
if not total then
  local r = trip(latch, events, channel, maxlen, node, 'firm-figure',
    'a node figure is not a decimal: ' .. tostring(breached), '')
  return {r[1], r[2], '', ''}
end
if breached then
  local loss = string.sub(total, 1, 1) == '-' and string.sub(total, 2) or ('-' .. total)
  local r = trip(latch, events, channel, maxlen, node, 'firm-loss',
    'firm loss ' .. loss .. ' ' .. currency .. ' reached the ceiling ' .. ceiling .. ' ' ..
    currency, table.concat(named, ','))
  return {r[1], r[2], total, table.concat(stale, ',')}
end
return {0, tonumber(redis.call('HGET', latch, 'epoch') or '0'), total, table.concat(stale, ',')}
"""
)

#: ARGV: ceiling ("" for none), figures... Returns {sum, breached 0/1} or {"", bad}.
#: The sum alone, so that tests can hold the Lua arithmetic against Python's Decimal.
SUM = (
    _LIBRARY
    + r"""
local ceiling = ARGV[1]
if ceiling == '' then ceiling = nil end
local figures = {}
for i = 2, #ARGV do figures[#figures + 1] = ARGV[i] end
if ceiling == '' then
  return {0, tonumber(redis.call('HGET', latch, 'epoch') or '0'), '', table.concat(stale, ',')}
end
local total, breached = decimal_sum(figures, ceiling)
if not total then return {'', tostring(breached)} end
return {total, breached and 1 or 0}
"""
)
