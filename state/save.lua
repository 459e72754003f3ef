-- Writes one batch of a partition atomically. Every key shares the
-- partition's hash tag, so the script touches one slot.
--
-- KEYS[1] deadlines (sorted set, member "order|timer", score due ms)
-- KEYS[2] outbox (list of "<seq>\n<command id>\n<written ms>\n<subject>\n<body>")
-- KEYS[3] applied offsets (hash topic -> offset)
-- KEYS[4] meta (hash: m = the mark of the last write, o = the number of
--   the last command appended to the outbox)
-- KEYS[5 .. 4+k] the open disputes by status (sorted sets, member order ID,
--   score when it took the status, ms * 1000 + place in the batch), one per
--   open status named in ARGV
-- KEYS[5+k ..] the orders of the batch (hash: s = state (codec.go), v =
--   version, st = status)
--
-- ARGV: n orders, m offsets, retention ms, now ms, prev mark, new mark,
--   k open statuses, then the k status names,
--   then per order: order ID, loaded version, new state ("" = unchanged),
--   closed (1/0), new status,
--   then per offset: topic, offset,
--   then t, and per deadline change: "a"|"d", member, score,
--   then the outbox entries.
--
-- Returns {1, next due ms or "", deadlines pending, last outbox number}
-- when written;
-- {0, i} when order i changed since it was loaded, {2, j} when offset j is
-- already applied, {3, mark} when the partition's mark is not prev (another
-- owner wrote it, or the store lost writes). Everything is checked before
-- anything is written, so a refusal writes nothing.
local n, m, ttl, now = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4]
local prev, mark, k = ARGV[5], ARGV[6], tonumber(ARGV[7])
local index = {}
for x = 1, k do index[ARGV[7 + x]] = KEYS[4 + x] end
local first = 5 + k
local per = 5

local stored = redis.call('HGET', KEYS[4], 'm') or ''
if stored ~= prev then return {3, stored} end
local i = 8 + k
for x = 1, n do
  local v = tonumber(redis.call('HGET', KEYS[first + x - 1], 'v') or '0')
  if v ~= tonumber(ARGV[i + 1]) then return {0, x} end
  i = i + per
end
local j = i
for x = 1, m do
  local cur = tonumber(redis.call('HGET', KEYS[3], ARGV[j]) or '-1')
  if tonumber(ARGV[j + 1]) <= cur then return {2, x} end
  j = j + 2
end

i = 8 + k
for x = 1, n do
  local order, s, status = ARGV[i], ARGV[i + 2], ARGV[i + 4]
  if s ~= '' then
    local key = KEYS[first + x - 1]
    local old = redis.call('HGET', key, 'st') or ''
    redis.call('HSET', key, 's', s, 'v', tonumber(ARGV[i + 1]) + 1, 'st', status)
    if ARGV[i + 3] == '1' and ttl > 0 then
      redis.call('PEXPIRE', key, ttl)
    else
      redis.call('PERSIST', key)
    end
    if old ~= status then
      if index[old] then redis.call('ZREM', index[old], order) end
      -- The score is when it took the status, in ms, times 1000, plus its
      -- place in the batch: the reviewers' queue keeps one batch's orders
      -- in order, and rarely sees a tie.
      if index[status] then redis.call('ZADD', index[status], now .. string.format('%03d', x % 1000), order) end
    end
  end
  i = i + per
end
for x = 1, m do
  redis.call('HSET', KEYS[3], ARGV[i], ARGV[i + 1])
  i = i + 2
end
local t = tonumber(ARGV[i])
i = i + 1
for x = 1, t do
  if ARGV[i] == 'a' then
    redis.call('ZADD', KEYS[1], ARGV[i + 2], ARGV[i + 1])
  else
    redis.call('ZREM', KEYS[1], ARGV[i + 1])
  end
  i = i + 3
end
-- Number the commands (meta's o is the last number given) and append them
-- in chunks: unpack has a stack limit.
local count = #ARGV - i + 1
local seq = tonumber(redis.call('HINCRBY', KEYS[4], 'o', count))
local n = seq - count
while i <= #ARGV do
  local last = math.min(i + 999, #ARGV)
  local chunk = {}
  for x = i, last do
    n = n + 1
    chunk[#chunk + 1] = n .. '\n' .. ARGV[x]
  end
  redis.call('RPUSH', KEYS[2], unpack(chunk))
  i = last + 1
end
redis.call('HSET', KEYS[4], 'm', mark)
local head = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
local due = ''
if head[2] then due = head[2] end
return {1, due, redis.call('ZCARD', KEYS[1]), seq}
