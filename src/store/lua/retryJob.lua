--[[
  A job that failed with an error its retry policy covers is queued again after a delay,
  unless its retries are used up (then the caller records the failure as usual). Only a job
  still running on this node is touched (not one cancelled or re-queued meanwhile).

  KEYS[1]  base: the cluster's key prefix, e.g. "{ks}:" (per-job keys are built from it)
  KEYS[2]  queues  (every queue name jobs were pushed to)
  ARGV[1]  node name
  ARGV[2]  job id
  ARGV[3]  now (ms)
  ARGV[4]  retries allowed
  ARGV[5]  first delay (ms)
  ARGV[6]  backoff: each later delay is this many times the one before
  ARGV[7]  jitter factor (0.8 to 1.2), drawn by the caller

  The retry count is the hash's `rtry` (lost-node re-queues count apart, in `attempts`). The
  copies go back into every queue of the job, in its priority band (enqueueJobs.lua), claimable
  after the delay: retryDelay × backoff^(retries so far) × jitter.
  Returns: the retry number (1 for the first) when queued again; 0 when the retries are used
  up; -1 when the job is not running on this node.
]]
local p = KEYS[1]
local node = ARGV[1]
local id = ARGV[2]
local key = p .. 'job:' .. id
local f = redis.call('HMGET', key, 'st', 'node', 'queues', 'pri', 'rtry')
if f[1] ~= 'running' or f[2] ~= node then return -1 end
local done = tonumber(f[5] or 0)
if done >= tonumber(ARGV[4]) then return 0 end
local delay = math.floor(tonumber(ARGV[5]) * math.pow(tonumber(ARGV[6]), done) * tonumber(ARGV[7]) + 0.5)
local base = tonumber(ARGV[3]) + delay - tonumber(f[4] or 0) * 4398046511104
local k = 0
local used = {}
for q in string.gmatch(f[3] or '', '[^,]+') do
  redis.call('ZADD', p .. 'q:' .. q, base + k * 0.001, id)
  used[#used + 1] = q
  k = k + 1
end
if #used > 0 then redis.call('SADD', KEYS[2], unpack(used)) end
redis.call('HSET', key, 'st', 'queued', 'rtry', done + 1)
redis.call('HDEL', key, 'node', 'started')
redis.call('SREM', p .. 'running:' .. node, id)
return done + 1
