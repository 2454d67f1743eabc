--[[
  A draining node gives back jobs it claimed but has not started (prefetched): each is queued
  again, ahead of the waiting jobs of its priority (score 0 in its band, see enqueueJobs.lua), in its queues other than this node's own host
  queues, without counting an attempt (it never ran). A job with no other queue (pinned to
  this node) is kept: it runs here if the drain leaves time.

  KEYS[1]  base: the cluster's key prefix, e.g. "{ks}:" (per-job keys are built from it)
  KEYS[2]  queues  (every queue name jobs were pushed to)
  ARGV[1]  the node's name
  ARGV[2+] job ids

  Returns: the ids handed back.
]]
local p = KEYS[1]
local node = ARGV[1]
local running = p .. 'running:' .. node
local suffix = '|' .. node
local out = {}
for i = 2, #ARGV do
  local id = ARGV[i]
  local key = p .. 'job:' .. id
  local f = redis.call('HMGET', key, 'st', 'node', 'queues', 'pri')
  if f[1] == 'running' and f[2] == node then
    local others = {}
    for q in string.gmatch(f[3] or '', '[^,]+') do
      if string.sub(q, -#suffix) ~= suffix then others[#others + 1] = q end
    end
    if #others > 0 then
      local lead = -tonumber(f[4] or 0) * 4398046511104
      for _, q in ipairs(others) do redis.call('ZADD', p .. 'q:' .. q, lead, id) end
      redis.call('SADD', KEYS[2], unpack(others))
      redis.call('HSET', key, 'st', 'queued')
      redis.call('HDEL', key, 'node', 'started')
      redis.call('SREM', running, id)
      out[#out + 1] = id
    end
  end
end
return out
