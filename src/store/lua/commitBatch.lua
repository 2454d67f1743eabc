--[[
  Last step of a submit (see beginBatch.lua): makes every job of the batch claimable at once,
  stores the shipped functions' sources with them, and lets the head claim jobs for its idle
  threads in the same step (it starts them only once this reply arrived).

  KEYS[1]  base: the cluster's key prefix, e.g. "{ks}:" (per-job keys are built from it)
  ARGV[1]  batch id
  ARGV[2]  how many chunks were sent (each must have marked c<i> in the record)
  ARGV[3]  record TTL (ms); also the sources' TTL
  ARGV[4]  the sources, packed fields (includes/fieldReader.lua): sha256, source, ...
  ARGV[5]  node claiming jobs at once ("" for none) ...
  ARGV[6]  ... namely these ids (comma-separated); each must still be queued
  Returns: { "committed", claimed ids (comma-separated) } (also when the batch was already
  committed: this command sent again after a reconnect), or { reason } when it commits
  nothing: "lost" (no record: aborted, or Redis lost its data), "expired" (the writer's
  lease lapsed: claims may have dropped its jobs), "incomplete" (a chunk is missing).
  A source is SET before the record changes: under maxmemory a refused write (-OOM) fails
  the script before anything was written.
]]
-- @include fieldReader
local p = KEYS[1]
local record = p .. 'batch:' .. ARGV[1]
local ttl = tonumber(ARGV[3])
local f = redis.call('HMGET', record, 'st', 'lease', 'local')
if f[1] == 'committed' then return { 'committed', f[3] or '' } end
if f[1] ~= 'writing' then return { 'lost' } end
local t = redis.call('TIME')
local clock = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
if tonumber(f[2] or 0) < clock then return { 'expired' } end
local chunks = tonumber(ARGV[2])
for i = 1, chunks do
  if redis.call('HEXISTS', record, 'c' .. i) == 0 then return { 'incomplete' } end
end
local nextField = fieldReader(ARGV[4])
while true do
  local sha = nextField()
  if not sha then break end
  redis.call('SET', p .. 'fn:' .. sha, nextField(), 'PX', ttl)
end
local claimer = ARGV[5]
local claimed = {}
if claimer ~= '' then
  local now = clock
  for id in string.gmatch(ARGV[6], '[^,]+') do
    local key = p .. 'job:' .. id
    local j = redis.call('HMGET', key, 'st', 'queues')
    if j[1] == 'queued' then
      redis.call('HSET', key, 'st', 'running', 'node', claimer, 'started', now)
      redis.call('SADD', p .. 'running:' .. claimer, id)
      for q in string.gmatch(j[2], '[^,]+') do redis.call('ZREM', p .. 'q:' .. q, id) end
      claimed[#claimed + 1] = id
    end
  end
end
local list = table.concat(claimed, ',')
redis.call('HSET', record, 'st', 'committed', 'local', list)
redis.call('HDEL', record, 'lease')
redis.call('PEXPIRE', record, ttl)
return { 'committed', list }
