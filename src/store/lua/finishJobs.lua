--[[
  Records the outcome of jobs that ran on this node.

  KEYS: none
  ARGV[1]  key prefix
  ARGV[2]  node name
  ARGV[3]  now (ms)
  ARGV[4]  result TTL (ms): an undelivered outcome expires after this
  ARGV[5]  the outcomes, packed fields (see includes/fieldReader.lua), five per job:
           id, status ("done" | "failed"), field ("res" | "err" | "spill"), value, and the
           job's own result TTL (ms; "" for ARGV[4])

  An outcome is written only while the job is still running here: a job cancelled meanwhile,
  or re-queued by the reaper, keeps its newer state. Writing the same outcome again (ioredis
  resends a command whose reply a dropped connection lost) counts as written.
  Returns: the ids whose outcome was not written.
]]
-- @include fieldReader
local p = ARGV[1]
local node = ARGV[2]
local now = ARGV[3]
local ttl = tonumber(ARGV[4])
local running = p .. 'running:' .. node
local ignored = {}
local nextField = fieldReader(ARGV[5])
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
