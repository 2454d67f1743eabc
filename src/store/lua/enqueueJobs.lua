--[[
  Writes one chunk of a batch's jobs and pushes each id onto its queues (step 2 of the batch
  protocol, see beginBatch.lua). Nothing of it is claimable before commitBatch: claimJobs
  refuses entries whose batch record is still "writing". A chunk is a few hundred jobs at
  most (src/store/store.ts ENQUEUE_CHUNK / ENQUEUE_CHUNK_BYTES) so that it runs for a few
  milliseconds and other clients (heartbeats, claims) get their turn between chunks.
  Writing a chunk twice (ioredis resends unanswered commands after a reconnect) is harmless.

  KEYS: none (job and queue keys are built from the prefix; one Redis, not Redis Cluster)
  ARGV[1]  key prefix, e.g. "ks:" or "mycluster:ks:"
  ARGV[2]  now (ms): the submit's time, the same for every chunk of a batch
  ARGV[3]  job TTL (ms): an undelivered job expires after this
  ARGV[4]  locality wait (ms): the copy in the k-th queue (k from 0) is claimable at
           now + k * (wait + 0.001): the extra microsecond per choice keeps the rounds of
           architecture §5 when the wait is 0 (or the copies of several jobs would tie)
  ARGV[5]  the jobs, packed fields (see includes/fieldReader.lua), six per job: id, fn,
           kind ("s" shipped | "r" registered), args (CBOR), opts (CBOR or ""),
           queues (comma-separated, in order of preference)
  ARGV[6]  head node: the node whose client waits for these jobs (their events go to ks.ev.<head>)
  ARGV[7]  batch id
  ARGV[8]  chunk number (1-based): marked c<n> in the batch record, which commitBatch checks
  ARGV[9]  lease (ms): the writer is alive until Redis' clock + this
  ARGV[10] record TTL (ms)

  Writes nothing and returns 0 unless the batch record is "writing" with a live lease
  (aborted, taken over, lost with Redis' data, or a writer too slow: claims may already have
  dropped its entries). Returns 1 when the chunk was written.

  Queues are sorted sets scored by the time a copy becomes claimable; ties sort by id,
  and ids sort in submission order. Jobs enqueued together share `now`, so every one's first
  choice sorts before any one's second choice, and so on (architecture §5's rounds), whatever the
  wait. With wait 0, a claim (it compares scores with its whole-millisecond now) takes a
  later choice at most a millisecond after the first. Every queue used is added to the set
  `queues`, where the reaper looks for queues no live node serves any more.
]]
-- @include fieldReader
local p = ARGV[1]
local record = p .. 'batch:' .. ARGV[7]
local b = redis.call('HMGET', record, 'st', 'lease')
local t = redis.call('TIME')
local clock = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
if b[1] ~= 'writing' or tonumber(b[2] or 0) < clock then return 0 end
local now = tonumber(ARGV[2])
local ttl = tonumber(ARGV[3])
-- per choice: the locality wait plus a microsecond, the tie-breaker between rounds
local step = tonumber(ARGV[4]) + 0.001
local used = {}
local nextField = fieldReader(ARGV[5])
while true do
  local id = nextField()
  if not id then break end
  local fn, kind, args, opts, queues = nextField(), nextField(), nextField(), nextField(), nextField()
  local key = p .. 'job:' .. id
  -- Fields at their default are left out (kind "s", no opts, attempts 0; created is the
  -- batch id's time): a waiting job is mostly its record, and a million of them wait at once.
  if kind == 's' and opts == '' then
    redis.call('HSET', key, 'fn', fn, 'args', args, 'queues', queues, 'head', ARGV[6], 'st', 'queued')
  else
    redis.call('HSET', key, 'fn', fn, 'kind', kind, 'args', args, 'opts', opts, 'queues', queues, 'head', ARGV[6], 'st', 'queued')
  end
  redis.call('PEXPIRE', key, ttl)
  local k = 0
  for q in string.gmatch(queues, '[^,]+') do
    redis.call('ZADD', p .. 'q:' .. q, now + k * step, id)
    used[q] = true
    k = k + 1
  end
end
local names = {}
for q in pairs(used) do names[#names + 1] = q end
if #names > 0 then redis.call('SADD', p .. 'queues', unpack(names)) end
redis.call('HSET', record, 'c' .. ARGV[8], 1, 'lease', clock + tonumber(ARGV[9]))
redis.call('PEXPIRE', record, tonumber(ARGV[10]))
return 1
