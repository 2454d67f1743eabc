--[[
  Cancels jobs that have not finished.

  KEYS[1]  base: the cluster's key prefix, e.g. "{ks}:" (per-job keys are built from it)
  ARGV[1]  now (ms)
  ARGV[2]  TTL (ms) for the cancelled job record
  ARGV[3..] job ids

  A queued job leaves all its queues; a running job is marked cancelled so that its result is
  dropped (the caller then publishes the id on the cancel subject to stop it where it runs).
  Returns: three per id: id, the state before ("queued" | "running" | "done" | "failed" | "cancelled" | "missing"),
  and the job's head node ("" when missing).
]]
local p = KEYS[1]
local now = ARGV[1]
local ttl = tonumber(ARGV[2])
local out = {}
for i = 3, #ARGV do
  local id = ARGV[i]
  local key = p .. 'job:' .. id
  local f = redis.call('HMGET', key, 'st', 'queues', 'head')
  local st = f[1] or 'missing'
  if st == 'queued' or st == 'running' then
    redis.call('HSET', key, 'st', 'cancelled', 'finished', now)
    redis.call('PEXPIRE', key, ttl)
    if st == 'queued' and f[2] then
      for q in string.gmatch(f[2], '[^,]+') do
        redis.call('ZREM', p .. 'q:' .. q, id)
      end
    end
  end
  out[#out + 1] = id
  out[#out + 1] = st
  out[#out + 1] = f[3] or ''
end
return out
