--[[
  Writes a round of jobs and pushes each id onto its queues.

  KEYS: none (job and queue keys are built from the prefix; one Redis, not Redis Cluster)
  ARGV[1]  key prefix, e.g. "ks:" or "mycluster:ks:"
  ARGV[2]  now (ms)
  ARGV[3]  job TTL (ms): an undelivered job expires after this
  ARGV[4]  locality wait (ms): the copy in the k-th queue (k from 0) is claimable at
           now + k * (wait + 0.001): the extra microsecond per choice keeps the rounds of
           DESIGN §5 when the wait is 0 (or the copies of several jobs would tie)
  ARGV[5]  the jobs, packed fields (see includes/fieldReader.lua), six per job: id, fn,
           kind ("s" shipped | "r" registered), args (CBOR), opts (CBOR or ""),
           queues (comma-separated, in order of preference)
  ARGV[6]  head node: the node whose client waits for these jobs (their events go to ks.ev.<head>)
  ARGV[7]  optional: a node that claims jobs at once (the head, for its idle threads) ...
  ARGV[8]  ... namely these (comma-separated ids); it may already be running them

  Queues are sorted sets scored by the time a copy becomes claimable; ties sort by id,
  and ids sort in submission order. Jobs enqueued together share `now`, so every one's first
  choice sorts before any one's second choice, and so on (DESIGN §5's rounds), whatever the
  wait. With wait 0, a claim (it compares scores with its whole-millisecond now) takes a
  later choice at most a millisecond after the first. Every queue used is added to the set
  `queues`, where the reaper looks for queues no live node serves any more. A job claimed at
  once is written as running on the claiming node (and in its running set) and goes to no
  queue.
  Returns: the ids claimed at once.
]]
-- @include fieldReader
local p = ARGV[1]
local now = tonumber(ARGV[2])
local ttl = tonumber(ARGV[3])
-- per choice: the locality wait plus a microsecond, the tie-breaker between rounds
local step = tonumber(ARGV[4]) + 0.001
local claimer = ARGV[7] or ''
local toClaim = {}
for claimId in string.gmatch(ARGV[8] or '', '[^,]+') do toClaim[claimId] = true end
local claimed = {}
local used = {}
local nextField = fieldReader(ARGV[5])
while true do
  local id = nextField()
  if not id then break end
  local fn, kind, args, opts, queues = nextField(), nextField(), nextField(), nextField(), nextField()
  local key = p .. 'job:' .. id
  redis.call('HSET', key, 'fn', fn, 'kind', kind, 'args', args, 'opts', opts,
    'queues', queues, 'head', ARGV[6], 'st', 'queued', 'created', now, 'attempts', 0)
  redis.call('PEXPIRE', key, ttl)
  if toClaim[id] then
    redis.call('HSET', key, 'st', 'running', 'node', claimer, 'started', now)
    redis.call('SADD', p .. 'running:' .. claimer, id)
    claimed[#claimed + 1] = id
  else
    local k = 0
    for q in string.gmatch(queues, '[^,]+') do
      redis.call('ZADD', p .. 'q:' .. q, now + k * step, id)
      used[q] = true
      k = k + 1
    end
  end
end
local names = {}
for q in pairs(used) do names[#names + 1] = q end
if #names > 0 then redis.call('SADD', p .. 'queues', unpack(names)) end
return claimed
