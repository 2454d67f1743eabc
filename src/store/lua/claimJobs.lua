--[[
  Claims up to ARGV[3] claimable jobs for one node, taking queues in the order given.

  KEYS     the node's queue keys, highest priority first
  ARGV[1]  key prefix
  ARGV[2]  node name
  ARGV[3]  how many jobs at most
  ARGV[4]  now (ms)

  Copies whose job is no longer queued (claimed through another queue, cancelled, expired)
  are dropped as they are met. A claimed job becomes status "running" on this node and is
  added to the node's running set, which the reaper reads when the node is lost.
  Returns: { nextAt, claimed } where nextAt is, when nothing was claimable, the earliest time a
  waiting copy becomes claimable (-1 when all queues are empty), and claimed is one string of
  packed fields (see includes/fieldReader.lua), eight per job: id, fn, kind, args, opts,
  attempts, queue index (1-based into KEYS), head. One string instead of eight replies per job.
]]
local p = ARGV[1]
local node = ARGV[2]
local max = tonumber(ARGV[3])
local now = tonumber(ARGV[4])
local running = p .. 'running:' .. node
local out = {}
local claimed = 0
local function field(value)
  value = tostring(value or '')
  out[#out + 1] = struct.pack('>I4', #value)
  out[#out + 1] = value
end
for qi, q in ipairs(KEYS) do
  while claimed < max do
    local ids = redis.call('ZRANGEBYSCORE', q, '-inf', now, 'LIMIT', 0, max - claimed)
    if #ids == 0 then break end
    redis.call('ZREM', q, unpack(ids))
    for _, id in ipairs(ids) do
      local key = p .. 'job:' .. id
      local f = redis.call('HMGET', key, 'st', 'fn', 'kind', 'args', 'opts', 'attempts', 'head')
      if f[1] == 'queued' then
        redis.call('HSET', key, 'st', 'running', 'node', node, 'started', now)
        redis.call('SADD', running, id)
        field(id)
        field(f[2])
        field(f[3])
        field(f[4])
        field(f[5])
        field(f[6])
        field(qi)
        field(f[7])
        claimed = claimed + 1
      end
    end
  end
  if claimed >= max then break end
end
local nextAt = -1
if claimed == 0 then
  for _, q in ipairs(KEYS) do
    local head = redis.call('ZRANGE', q, 0, 0, 'WITHSCORES')
    if head[2] then
      local at = tonumber(head[2])
      if nextAt < 0 or at < nextAt then nextAt = at end
    end
  end
end
return { nextAt, table.concat(out) }
