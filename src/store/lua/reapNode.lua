--[[
  Takes the jobs of a node that is gone (lost, or stopping) back: each job it was running is
  queued again (when it may still be retried and one of its queues is served by a live node)
  or failed.

  KEYS[1]  base: the cluster's key prefix, e.g. "{ks}:" (per-job keys are built from it)
  KEYS[2]  queues  (every queue name jobs were pushed to)
  KEYS[3]  nodes  (node name -> description)
  ARGV[1]  the node's name
  ARGV[2]  how many times a job may be re-queued after losing its node
  ARGV[3]  now (ms)
  ARGV[4]  error to record for jobs re-queued too often already (CBOR of { name, message })
  ARGV[5]  TTL (ms) of a failed job's record
  ARGV[6]  error to record for jobs pinned to the node (CBOR of { name, message })
  ARGV[7]  the queues live nodes serve, comma-separated (shared and host queues)
  ARGV[8]  error to record for jobs whose queues no live node serves (CBOR of { name, message })

  A re-queued job goes ahead of every waiting job of its queues: it already waited its turn
  once, and was cut short. Queues are scored by the time a copy becomes claimable (now or
  later, about 1.7e12 ms since 1970); a re-queued copy is scored `now - REQUEUE_LEAD`, which
  sorts before any of those and is claimable at once. Re-queued copies keep their own order:
  earlier re-queues first, and a job's k-th live queue (k from 0) k microseconds later, so
  first choices of one pass sort before second choices (the locality wait itself does not
  apply: a re-queued job starts wherever a thread is free first).

  Returns: three per re-queued or failed job: id, "requeued" | "retried" | "pinned" | "unserved",
  head node.
]]
-- A job of priority P goes into its own band (enqueueJobs.lua: scores shifted by -P * 2^42),
-- first among the jobs of its priority.
local REQUEUE_LEAD = 1e12
local BAND = 4398046511104
local p = KEYS[1]
local dead = ARGV[1]
local maxRetries = tonumber(ARGV[2])
local now = tonumber(ARGV[3])
local running = p .. 'running:' .. dead
local suffix = '|' .. dead
local served = {}
for q in string.gmatch(ARGV[7] or '', '[^,]+') do served[q] = true end
local out = {}
for _, id in ipairs(redis.call('SMEMBERS', running)) do
  local key = p .. 'job:' .. id
  local f = redis.call('HMGET', key, 'st', 'node', 'attempts', 'queues', 'head', 'pri')
  if f[1] == 'running' and f[2] == dead then
    local attempts = tonumber(f[3] or '0')
    local alive = {}
    local pinned = true
    for q in string.gmatch(f[4] or '', '[^,]+') do
      if string.sub(q, -#suffix) ~= suffix then pinned = false end
      if served[q] then alive[#alive + 1] = q end
    end
    local outcome
    if #alive == 0 then
      outcome = pinned and 'pinned' or 'unserved'
      redis.call('HSET', key, 'st', 'failed', 'err', pinned and ARGV[6] or ARGV[8], 'finished', now)
    elseif attempts >= maxRetries then
      outcome = 'retried'
      redis.call('HSET', key, 'st', 'failed', 'err', ARGV[4], 'finished', now)
    else
      outcome = 'requeued'
      local lead = now - REQUEUE_LEAD - tonumber(f[6] or 0) * BAND
      for k, q in ipairs(alive) do redis.call('ZADD', p .. 'q:' .. q, lead + (k - 1) * 0.001, id) end
      redis.call('SADD', KEYS[2], unpack(alive))
      redis.call('HSET', key, 'st', 'queued', 'attempts', attempts + 1)
      redis.call('HDEL', key, 'node', 'started')
    end
    if outcome ~= 'requeued' then redis.call('PEXPIRE', key, tonumber(ARGV[5])) end
    out[#out + 1] = id
    out[#out + 1] = outcome
    out[#out + 1] = f[5] or ''
  end
end
redis.call('DEL', running)
redis.call('HDEL', KEYS[3], dead)
return out
