--[[
  Records the outcome of jobs that ran on this node.

  KEYS[1]  base: the cluster's key prefix, e.g. "{ks}:" (per-job keys are built from it)
  ARGV[1]  node name
  ARGV[2]  now (ms)
  ARGV[3]  result TTL (ms): an undelivered outcome expires after this
  ARGV[4]  the outcomes, packed fields (see includes/fieldReader.lua), five per job:
           id, status ("done" | "failed"), field ("res" | "err" | "spill"), value, and the
           job's own result TTL (ms; "" for ARGV[3])

  An outcome is written only while the job is still running here: a job cancelled meanwhile,
  or re-queued by the reaper, keeps its newer state. Writing the same outcome again (ioredis
  resends a command whose reply a dropped connection lost) counts as written.
  Returns: the ids whose outcome was not written.
]]
-- @include fieldReader
local p = KEYS[1]
local node = ARGV[1]
local now = ARGV[2]
local ttl = tonumber(ARGV[3])
local running = p .. 'running:' .. node
local ignored = {}
local nextField = fieldReader(ARGV[4])
while true do
  local id = nextField()
  if not id then break end
  local status, field, value, ownTtl = nextField(), nextField(), nextField(), nextField()
  local key = p .. 'job:' .. id
  local f = redis.call('HMGET', key, 'st', 'node')
  -- Already this outcome from this node: this command sent again after a reconnect.
  if (f[1] == 'running' or f[1] == status) and f[2] == node then
    redis.call('HSET', key, 'st', status, field, value, 'finished', now)
    redis.call('PEXPIRE', key, tonumber(ownTtl) or ttl)
  else
    ignored[#ignored + 1] = id
  end
  redis.call('SREM', running, id)
end
return ignored
