--[[
  Writes a round of jobs and pushes each id onto its queues.

  KEYS: none (job and queue keys are built from the prefix; one Redis, not Redis Cluster)
  ARGV[1]  key prefix, e.g. "ks:" or "mycluster:ks:"
  ARGV[2]  now (ms)
  ARGV[3]  job TTL (ms): an undelivered job expires after this
  ARGV[4]  locality wait (ms): the copy in the k-th queue (k from 0) is claimable at now + k * wait
  ARGV[5..] six per job: id, fn, kind ("s" shipped | "r" registered), args (CBOR), opts (CBOR or ""),
            queues (comma-separated, in order of preference)

  Queues are sorted sets scored by the time a copy becomes claimable; ties sort by id,
  and ids sort in submission order.
  Returns: the number of jobs written.
]]
local p = ARGV[1]
local now = tonumber(ARGV[2])
local ttl = tonumber(ARGV[3])
local wait = tonumber(ARGV[4])
local n = 0
for i = 5, #ARGV, 6 do
  local id = ARGV[i]
  local key = p .. 'job:' .. id
  redis.call('HSET', key, 'fn', ARGV[i + 1], 'kind', ARGV[i + 2], 'args', ARGV[i + 3], 'opts', ARGV[i + 4],
    'queues', ARGV[i + 5], 'st', 'queued', 'created', now, 'attempts', 0)
  redis.call('PEXPIRE', key, ttl)
  local k = 0
  for q in string.gmatch(ARGV[i + 5], '[^,]+') do
    redis.call('ZADD', p .. 'q:' .. q, now + k * wait, id)
    k = k + 1
  end
  n = n + 1
end
return n
