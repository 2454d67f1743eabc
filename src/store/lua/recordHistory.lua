--[[
  Job history (docs/dashboard.md#job-history): records the jobs a node finished in the last
  50 ms or so (one call per flush of its buffer) and trims the history by age, count and
  bytes. Trimming costs three O(1)/O(log n) checks when nothing is over a limit.

  KEYS[1]  base: the cluster's key prefix, e.g. "{ks}:" (per-job keys are built from it)
  KEYS[2]  hist
  KEYS[3]  hist:failed
  KEYS[4]  hist:data
  KEYS[5]  hist:bytes
  ARGV[1]  now (ms)
  ARGV[2]  keep entries this many ms (by finish time)
  ARGV[3]  keep at most this many entries
  ARGV[4]  keep at most this many bytes of entries
  ARGV[5]  the entries, packed fields (see includes/fieldReader.lua), four per job:
           id, finish time (ms), "1" if it failed else "0", the entry (CBOR, or the compact
           text of an ok job: actors/node/history/history-entry-codec.ts)

  Keys: hist (sorted set id -> finish time), hist:failed (the same, failed jobs only),
  hist:data (hash id -> entry), hist:bytes (the bytes of hist:data's values).
  Returns: the number of entries removed.
]]
-- @include fieldReader
local now = tonumber(ARGV[1])
local ttl = tonumber(ARGV[2])
local maxEntries = tonumber(ARGV[3])
local maxBytes = tonumber(ARGV[4])
local all, failed, data, bytesKey = KEYS[2], KEYS[3], KEYS[4], KEYS[5]

-- Arguments of at most CHUNK items per command: Lua's unpack stops near 8,000.
local CHUNK = 4000
local function inChunks(command, key, items)
  for i = 1, #items, CHUNK do redis.call(command, key, unpack(items, i, math.min(i + CHUNK - 1, #items))) end
end

-- One variadic ZADD and HSET per call, not commands per job: a round of 2,000 finished jobs
-- is a handful of commands. ZADD NX counts the new ids: fewer than given means some were
-- recorded before.
local ids, fields, scored, failedScored = {}, {}, {}, {}
local added = 0
local nextField = fieldReader(ARGV[5])
while true do
  local id = nextField()
  if not id then break end
  local at, isFailed, entry = nextField(), nextField(), nextField()
  ids[#ids + 1] = id
  fields[#fields + 1] = id
  fields[#fields + 1] = entry
  scored[#scored + 1] = at
  scored[#scored + 1] = id
  if isFailed == '1' then
    failedScored[#failedScored + 1] = at
    failedScored[#failedScored + 1] = id
  end
  added = added + #entry
end
if #ids > 0 then
  local fresh = 0
  for i = 1, #scored, CHUNK do
    fresh = fresh + redis.call('ZADD', all, 'NX', unpack(scored, i, math.min(i + CHUNK - 1, #scored)))
  end
  if fresh < #ids then
    -- Some job was recorded before (run again after its node was lost): the old entries'
    -- bytes leave the count (HSTRLEN of a new id is 0), and their end times move.
    for _, id in ipairs(ids) do added = added - redis.call('HSTRLEN', data, id) end
    inChunks('ZADD', all, scored)
  end
  inChunks('HSET', data, fields)
  if #failedScored > 0 then inChunks('ZADD', failed, failedScored) end
end
local bytes = redis.call('INCRBY', bytesKey, added)

local removed = 0
local function drop(ids)
  if #ids == 0 then return end
  local freed = 0
  for _, id in ipairs(ids) do freed = freed + redis.call('HSTRLEN', data, id) end
  redis.call('HDEL', data, unpack(ids))
  redis.call('ZREM', all, unpack(ids))
  redis.call('ZREM', failed, unpack(ids))
  bytes = redis.call('DECRBY', bytesKey, freed)
  removed = removed + #ids
end

-- Each pass removes at most STEP entries, so one call never stalls Redis for long; the next
-- batch (or the node's timer) continues.
local STEP = 2000
drop(redis.call('ZRANGEBYSCORE', all, '-inf', '(' .. (now - ttl), 'LIMIT', 0, STEP))
local over = redis.call('ZCARD', all) - maxEntries
if over > 0 then drop(redis.call('ZRANGE', all, 0, math.min(over, STEP) - 1)) end
local rounds = 0
while bytes > maxBytes and rounds < 20 do
  local oldest = redis.call('ZRANGE', all, 0, 99)
  if #oldest == 0 then
    redis.call('SET', bytesKey, 0)
    break
  end
  drop(oldest)
  rounds = rounds + 1
end
return removed
