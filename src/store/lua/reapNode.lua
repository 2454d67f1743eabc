--[[
  Takes the jobs of a lost node back: each job it was running is queued again (when it may
  still be retried and one of its queues is not the lost node's own) or failed.

  KEYS: none
  ARGV[1]  key prefix
  ARGV[2]  the lost node's name
  ARGV[3]  how many times a job may be re-queued after losing its node
  ARGV[4]  now (ms)
  ARGV[5]  error to record for jobs re-queued too often already (CBOR of { name, message })
  ARGV[6]  TTL (ms) of a failed job's record
  ARGV[7]  error to record for jobs that could run only on the lost node (CBOR of { name, message })

  Returns: three per re-queued or failed job: id, "requeued" | "retried" | "pinned", head node.
]]
local p = ARGV[1]
local dead = ARGV[2]
local maxRetries = tonumber(ARGV[3])
local now = tonumber(ARGV[4])
local running = p .. 'running:' .. dead
local suffix = '|' .. dead
local out = {}
for _, id in ipairs(redis.call('SMEMBERS', running)) do
  local key = p .. 'job:' .. id
  local f = redis.call('HMGET', key, 'st', 'node', 'attempts', 'queues', 'head')
  if f[1] == 'running' and f[2] == dead then
    local attempts = tonumber(f[3] or '0')
    local elsewhere = {}
    for q in string.gmatch(f[4] or '', '[^,]+') do
      if string.sub(q, -#suffix) ~= suffix then elsewhere[#elsewhere + 1] = q end
    end
    local outcome
    if #elsewhere == 0 then
      outcome = 'pinned'
      redis.call('HSET', key, 'st', 'failed', 'err', ARGV[7], 'finished', now)
    elseif attempts >= maxRetries then
      outcome = 'retried'
      redis.call('HSET', key, 'st', 'failed', 'err', ARGV[5], 'finished', now)
    else
      outcome = 'requeued'
      for _, q in ipairs(elsewhere) do redis.call('ZADD', p .. 'q:' .. q, now, id) end
      redis.call('HSET', key, 'st', 'queued', 'attempts', attempts + 1)
      redis.call('HDEL', key, 'node', 'started')
    end
    if outcome ~= 'requeued' then redis.call('PEXPIRE', key, tonumber(ARGV[6])) end
    out[#out + 1] = id
    out[#out + 1] = outcome
    out[#out + 1] = f[5] or ''
  end
end
redis.call('DEL', running)
redis.call('HDEL', p .. 'nodes', dead)
return out
