-- Writes one batch of a partition atomically. Every key shares the
-- partition's hash tag, so the script touches one slot.
--
-- KEYS[1] deadlines (sorted set, member "order|timer", score due ms)
-- KEYS[2] outbox (list of "<command id>\n<written ms>\n<json entry>")
-- KEYS[3] applied offsets (hash topic -> offset)
-- KEYS[4..7] the open disputes by status (sorted sets, member order ID,
--   score ms it took the status): negotiating, under_review, escalated,
--   suspended
-- KEYS[8..] the orders of the batch (hash: s = state JSON, v = version,
--   st = status)
--
-- ARGV: n orders, m offsets, retention ms, now ms,
--   then per order: order ID, loaded version, new state ("" = unchanged),
--   closed (1/0), new status,
--   then per offset: topic, offset,
--   then t, and per deadline change: "a"|"d", member, score,
--   then the outbox entries.
--
-- Returns {1, 0} when written, {0, i} when order i changed since it was
-- loaded, {2, j} when offset j is already applied. Everything is checked
-- before anything is written, so a refusal writes nothing.
local index = {negotiating = KEYS[4], under_review = KEYS[5], escalated = KEYS[6], suspended = KEYS[7]}
local first = 8
local n, m, ttl, now = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4]
local i = 5
for k = 1, n do
  local v = tonumber(redis.call('HGET', KEYS[first + k - 1], 'v') or '0')
  if v ~= tonumber(ARGV[i + 1]) then return {0, k} end
  i = i + 5
end
local j = i
for k = 1, m do
  local cur = tonumber(redis.call('HGET', KEYS[3], ARGV[j]) or '-1')
  if tonumber(ARGV[j + 1]) <= cur then return {2, k} end
  j = j + 2
end

i = 5
for k = 1, n do
  local order, s, status = ARGV[i], ARGV[i + 2], ARGV[i + 4]
  if s ~= '' then
    local key = KEYS[first + k - 1]
    local old = redis.call('HGET', key, 'st') or ''
    redis.call('HSET', key, 's', s, 'v', tonumber(ARGV[i + 1]) + 1, 'st', status)
    if ARGV[i + 3] == '1' and ttl > 0 then
      redis.call('PEXPIRE', key, ttl)
    else
      redis.call('PERSIST', key)
    end
    if old ~= status then
      if index[old] then redis.call('ZREM', index[old], order) end
      if index[status] then redis.call('ZADD', index[status], now, order) end
    end
  end
  i = i + 5
end
for k = 1, m do
  redis.call('HSET', KEYS[3], ARGV[i], ARGV[i + 1])
  i = i + 2
end
local t = tonumber(ARGV[i])
i = i + 1
for k = 1, t do
  if ARGV[i] == 'a' then
    redis.call('ZADD', KEYS[1], ARGV[i + 2], ARGV[i + 1])
  else
    redis.call('ZREM', KEYS[1], ARGV[i + 1])
  end
  i = i + 3
end
-- Append in chunks: unpack has a stack limit.
while i <= #ARGV do
  local last = math.min(i + 999, #ARGV)
  redis.call('RPUSH', KEYS[2], unpack(ARGV, i, last))
  i = last + 1
end
return {1, 0}
