--[[
  Fails queued jobs that no live node can run any more: none of their queues is served.

  KEYS[1]  base: the cluster's key prefix, e.g. "{ks}:" (per-job keys are built from it)
  KEYS[2]  queues  (every queue name jobs were pushed to)
  ARGV[1]  now (ms)
  ARGV[2]  TTL (ms) of a failed job's record
  ARGV[3]  error to record (CBOR of { name, message })
  ARGV[4]  the queues live nodes serve, comma-separated (shared and host queues)
  ARGV[5]  the queue the ids were read from (one nobody serves), or "": every id leaves it, and
           it leaves the set of queue names once it is empty
  ARGV[6..] job ids

  A job is failed only while it is still queued and none of its queues is served; its copies
  in queues nobody serves are dropped either way (also those of jobs that ended or expired).
  Returns: two per failed job: id, head node.
]]
local p = KEYS[1]
local served = {}
for q in string.gmatch(ARGV[4], '[^,]+') do served[q] = true end
local scanned = ARGV[5]
local out = {}
for i = 6, #ARGV do
  local id = ARGV[i]
  local key = p .. 'job:' .. id
  local f = redis.call('HMGET', key, 'st', 'queues', 'head')
  local alive = false
  for q in string.gmatch(f[2] or '', '[^,]+') do
    if served[q] then alive = true else redis.call('ZREM', p .. 'q:' .. q, id) end
  end
  if f[1] == 'queued' and not alive then
    redis.call('HSET', key, 'st', 'failed', 'err', ARGV[3], 'finished', ARGV[1])
    redis.call('PEXPIRE', key, tonumber(ARGV[2]))
    out[#out + 1] = id
    out[#out + 1] = f[3] or ''
  end
  if scanned ~= '' then redis.call('ZREM', p .. 'q:' .. scanned, id) end
end
if scanned ~= '' and redis.call('EXISTS', p .. 'q:' .. scanned) == 0 then
  redis.call('SREM', KEYS[2], scanned)
end
return out
