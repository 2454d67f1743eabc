--[[
  Writes a round of jobs and pushes each id onto its queues.

  KEYS: none (job and queue keys are built from the prefix; one Redis, not Redis Cluster)
  ARGV[1]  key prefix, e.g. "ks:" or "mycluster:ks:"
  ARGV[2]  now (ms)
  ARGV[3]  job TTL (ms): an undelivered job expires after this
  ARGV[4]  locality wait (ms): the copy in the k-th queue (k from 0) is claimable at now + k * wait
  ARGV[5]  the jobs, packed fields (see includes/fieldReader.lua), six per job: id, fn,
           kind ("s" shipped | "r" registered), args (CBOR), opts (CBOR or ""),
           queues (comma-separated, in order of preference)
  ARGV[6]  head node: the node whose client waits for these jobs (their events go to ks.ev.<head>)

  Queues are sorted sets scored by the time a copy becomes claimable; ties sort by id,
  and ids sort in submission order.
  Returns: the number of jobs written.
]]
-- @include fieldReader
local p = ARGV[1]
local now = tonumber(ARGV[2])
local ttl = tonumber(ARGV[3])
local wait = tonumber(ARGV[4])
local n = 0
local nextField = fieldReader(ARGV[5])
while true do
  local id = nextField()
  if not id then break end
  local fn, kind, args, opts, queues = nextField(), nextField(), nextField(), nextField(), nextField()
  local key = p .. 'job:' .. id
  redis.call('HSET', key, 'fn', fn, 'kind', kind, 'args', args, 'opts', opts,
    'queues', queues, 'head', ARGV[6], 'st', 'queued', 'created', now, 'attempts', 0)
  redis.call('PEXPIRE', key, ttl)
  local k = 0
  for q in string.gmatch(queues, '[^,]+') do
    redis.call('ZADD', p .. 'q:' .. q, now + k * wait, id)
    k = k + 1
  end
  n = n + 1
end
return n
