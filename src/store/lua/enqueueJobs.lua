--[[
  Writes one chunk of a batch's jobs and pushes each id onto its queues (step 2 of the batch
  protocol, see beginBatch.lua). Nothing of it is claimable before commitBatch: claimJobs
  refuses entries whose batch record is still "writing". A chunk is a few hundred jobs at
  most (src/store/store.ts ENQUEUE_CHUNK / ENQUEUE_CHUNK_BYTES) so that it runs for a few
  milliseconds and other clients (heartbeats, claims) get their turn between chunks.
  Writing a chunk twice (ioredis resends unanswered commands after a reconnect) is harmless.

  KEYS[1]  base: the cluster's key prefix, e.g. "{ks}:" (per-job keys are built from it)
  KEYS[2]  queues  (every queue name jobs were pushed to)
  ARGV[1]  now (ms): the submit's time, the same for every chunk of a batch
  ARGV[2]  job TTL (ms): an undelivered job expires after this
  ARGV[3]  locality wait (ms): the copy in the k-th queue (k from 0) is claimable at
           now + k * (wait + 0.001): the extra microsecond per choice keeps the rounds of
           architecture §5 when the wait is 0 (or the copies of several jobs would tie)
  ARGV[4]  the jobs, packed fields (see includes/fieldReader.lua), seven per job: id, fn,
           kind ("s" shipped | "r" registered), args (CBOR), opts (CBOR or ""),
           queues (comma-separated, in order of preference), schedule ("" or
           "<priority>:<delay ms>": see below)
  ARGV[5]  head node: the node whose client waits for these jobs (their events go to ks.ev.<head>)
  ARGV[6]  batch id
  ARGV[7]  chunk number (1-based): marked c<n> in the batch record, which commitBatch checks
  ARGV[8]  lease (ms): the writer is alive until Redis' clock + this
  ARGV[9]  record TTL (ms)

  Writes nothing and returns 0 unless the batch record is "writing" with a live lease
  (aborted, taken over, lost with Redis' data, or a writer too slow: claims may already have
  dropped its entries). Returns 1 when the chunk was written.

  Queues are sorted sets scored by the time a copy becomes claimable; ties sort by id,
  and ids sort in submission order. Jobs enqueued together share `now`, so every one's first
  choice sorts before any one's second choice, and so on (architecture §5's rounds), whatever the
  wait. With wait 0, a claim (it compares scores with its whole-millisecond now) takes a
  later choice at most a millisecond after the first.
  Priorities are bands of the score (architecture §5, *Priorities*): a job of priority P is
  scored (claimable time) - P * 2^42, so every higher priority sorts first, and within a band
  the score is still the claimable time (claimJobs.lua reads the band back). A delay adds to
  the claimable time. A non-zero priority is kept in the job hash (`pri`) for re-queues. Every queue used is added to the set
  `queues`, where the reaper looks for queues no live node serves any more.
]]
-- @include fieldReader
local p = KEYS[1]
local record = p .. 'batch:' .. ARGV[6]
local b = redis.call('HMGET', record, 'st', 'lease')
local t = redis.call('TIME')
local clock = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
if b[1] ~= 'writing' or tonumber(b[2] or 0) < clock then return 0 end
local now = tonumber(ARGV[1])
local ttl = tonumber(ARGV[2])
-- per choice: the locality wait plus a microsecond, the tie-breaker between rounds
local step = tonumber(ARGV[3]) + 0.001
local BAND = 4398046511104
local used = {}
local nextField = fieldReader(ARGV[4])
while true do
  local id = nextField()
  if not id then break end
  local fn, kind, args, opts, queues, sched = nextField(), nextField(), nextField(), nextField(), nextField(), nextField()
  local key = p .. 'job:' .. id
  -- Fields at their default are left out (kind "s", no opts, attempts 0; created is the
  -- batch id's time): a waiting job is mostly its record, and a million of them wait at once.
  if kind == 's' and opts == '' then
    redis.call('HSET', key, 'fn', fn, 'args', args, 'queues', queues, 'head', ARGV[5], 'st', 'queued')
  else
    redis.call('HSET', key, 'fn', fn, 'kind', kind, 'args', args, 'opts', opts, 'queues', queues, 'head', ARGV[5], 'st', 'queued')
  end
  local base = now
  if sched ~= '' then
    local pri, delay = string.match(sched, '^(-?%d+):(%d+)$')
    pri = tonumber(pri)
    base = now + tonumber(delay) - pri * BAND
    if pri ~= 0 then redis.call('HSET', key, 'pri', pri) end
  end
  redis.call('PEXPIRE', key, ttl)
  local k = 0
  for q in string.gmatch(queues, '[^,]+') do
    redis.call('ZADD', p .. 'q:' .. q, base + k * step, id)
    used[q] = true
    k = k + 1
  end
end
local names = {}
for q in pairs(used) do names[#names + 1] = q end
if #names > 0 then redis.call('SADD', KEYS[2], unpack(names)) end
redis.call('HSET', record, 'c' .. ARGV[7], 1, 'lease', clock + tonumber(ARGV[8]))
redis.call('PEXPIRE', record, tonumber(ARGV[9]))
return 1
