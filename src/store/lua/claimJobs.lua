--[[
  Claims up to ARGV[3] claimable jobs for one node, taking queues in the order given.

  KEYS[1]  base: the cluster's key prefix, e.g. "{ks}:" (per-job keys are built from it)
  ARGV[1]  the node's queue names, comma-separated, highest priority first (keys q:<name>)
  ARGV[2]  node name
  ARGV[3]  how many jobs at most
  ARGV[4]  now (ms)
  ARGV[5]  how many of them may be of any function (the node's free threads)
  ARGV[6]  the functions (comma-separated) whose jobs may be claimed beyond that: the
           node knows them to be short, so holding a few waiting costs little
  ARGV[7]  a token unique to this claim: when Redis ran a claim but its reply was lost (the
           connection dropped, ioredis sends the command again after reconnecting), the
           second run answers the jobs the first one took (`claim:<node>` keeps the last
           token and its ids for a minute) instead of leaving them running on nobody

  Copies whose job is no longer queued (claimed through another queue, cancelled, expired)
  are dropped as they are met. A claimed job becomes status "running" on this node and is
  added to the node's running set, which the reaper reads when the node is lost; its copies
  in its other queues are removed, so queue lengths count only jobs still waiting.
  Claiming stops at the first job beyond ARGV[5] whose function is not in ARGV[6]: it stays
  queued, for this node's next free thread or for another node.
  A job is claimed only once its batch is committed (the batch protocol, beginBatch.lua):
  its batch record (`batch:<id>`, the job id up to its last "-") is read once per batch per
  call. "committed" or no record (expired, or written before batch records existed):
  claimable. "writing" with a live lease: this queue stops there (the batch is being
  written; it is woken when it commits), nothing behind it in this queue is claimed by this
  call. "writing" without a live lease (the submit failed or its writer died): the entry is
  dropped and the job deleted.
  Priorities (enqueueJobs.lua): a queue's scores fall in bands of 2^42, one per priority,
  highest priority first; within a band the score is the claimable time plus the band's
  base. Each queue is taken band by band: the due ids of the first band, then of the next.
  Emitted attempts count earlier runs: lost-node re-queues (`attempts`) plus retries (`rtry`).
  Returns: { nextAt, claimed, held } where nextAt is, when nothing was claimable, the earliest
  time a waiting copy becomes claimable (-1 when all queues are empty); claimed is one string
  of packed fields (see includes/fieldReader.lua), eight per job: id, fn, kind, args, opts,
  attempts, queue index (1-based into ARGV[1]'s names), head; held is 1 when claiming stopped at a job
  it may not prefetch.
]]
local p = KEYS[1]
local queueKeys = {}
for name in string.gmatch(ARGV[1], '[^,]+') do queueKeys[#queueKeys + 1] = p .. 'q:' .. name end
local node = ARGV[2]
local max = tonumber(ARGV[3])
local now = tonumber(ARGV[4])
local maxAny = tonumber(ARGV[5] or ARGV[3])
local prefetchable = {}
for fn in string.gmatch(ARGV[6] or '', '[^,]+') do prefetchable[fn] = true end
local running = p .. 'running:' .. node
local token = ARGV[7] or ''
local lastClaim = p .. 'claim:' .. node
-- batch id -> 'go' | 'wait' | 'drop'
local batchState = {}
local clock
local function admit(id)
  local batch = string.match(id, '^(.*)%-') or id
  local state = batchState[batch]
  if state then return state end
  local b = redis.call('HMGET', p .. 'batch:' .. batch, 'st', 'lease')
  state = 'go'
  if b[1] == 'writing' then
    if not clock then
      local t = redis.call('TIME')
      clock = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
    end
    state = tonumber(b[2] or 0) >= clock and 'wait' or 'drop'
  end
  batchState[batch] = state
  return state
end
local BAND = 4398046511104
-- the earliest claimable time met in a band with nothing due yet (for nextAt)
local earliest = -1
local blocked = {}
local out = {}
local claimed = 0
local held = 0
local function field(value)
  value = tostring(value or '')
  out[#out + 1] = struct.pack('>I4', #value)
  out[#out + 1] = value
end
-- One claimed job, as the store reads it: id, fn, kind, args, opts, attempts, queue index, head
-- (f holds HMGET st, fn, kind, args, opts, attempts, head, ...).
local function emitJob(id, f, qi, retried)
  field(id)
  field(f[2])
  field(f[3])
  field(f[4])
  field(f[5])
  field(tonumber(f[6] or 0) + tonumber(retried or 0))
  field(qi)
  field(f[7])
end
if token ~= '' then
  local last = redis.call('HMGET', lastClaim, 'token', 'ids')
  if last[1] == token then
    for entry in string.gmatch(last[2] or '', '[^,]+') do
      local id, qi = string.match(entry, '^(.*):(%d+)$')
      local f = redis.call('HMGET', p .. 'job:' .. id, 'st', 'fn', 'kind', 'args', 'opts', 'attempts', 'head', 'node', 'rtry')
      if f[1] == 'running' and f[8] == node then
        emitJob(id, f, qi, f[9])
      end
    end
    return { -1, table.concat(out), 0 }
  end
end
local taken = {}
-- Lua's unpack takes a few thousand values at most: remove in slices.
local function removeFirst(q, ids, n)
  for i = 1, n, 1000 do
    redis.call('ZREM', q, unpack(ids, i, math.min(i + 999, n)))
  end
end
local function score(x)
  return string.format('%.17g', x)
end
for qi, q in ipairs(queueKeys) do
  -- the lowest score of the band being taken ('-inf' for the first)
  local from = '-inf'
  while claimed < max and held == 0 and not blocked[qi] do
    local first = redis.call('ZRANGEBYSCORE', q, from, '+inf', 'WITHSCORES', 'LIMIT', 0, 1)
    if #first == 0 then break end
    local band = math.floor(tonumber(first[2]) / BAND)
    local ids = redis.call('ZRANGEBYSCORE', q, from, score(band * BAND + now), 'LIMIT', 0, max - claimed)
    if #ids == 0 then
      -- nothing due in this band: remember when its first copy is, and go on to the next band
      local at = tonumber(first[2]) - band * BAND
      if earliest < 0 or at < earliest then earliest = at end
      from = score((band + 1) * BAND)
    end
    local seen = 0
    for _, id in ipairs(ids) do
      local key = p .. 'job:' .. id
      local f = redis.call('HMGET', key, 'st', 'fn', 'kind', 'args', 'opts', 'attempts', 'head', 'queues', 'rtry')
      local state = f[1] == 'queued' and admit(id) or 'skip'
      if state == 'wait' then
        blocked[qi] = true
        break
      elseif state == 'drop' then
        redis.call('UNLINK', key)
      elseif state == 'go' then
        if claimed >= maxAny and not prefetchable[f[2]] then
          held = 1
          break
        end
        redis.call('HSET', key, 'st', 'running', 'node', node, 'started', now)
        redis.call('SADD', running, id)
        if f[8] and string.find(f[8], ',', 1, true) then
          for other in string.gmatch(f[8], '[^,]+') do
            local otherKey = p .. 'q:' .. other
            if otherKey ~= q then redis.call('ZREM', otherKey, id) end
          end
        end
        emitJob(id, f, qi, f[9])
        taken[#taken + 1] = id .. ':' .. qi
        claimed = claimed + 1
      end
      seen = seen + 1
    end
    if seen > 0 then removeFirst(q, ids, seen) end
  end
  if claimed >= max or held == 1 then break end
end
if claimed > 0 and token ~= '' then
  redis.call('HSET', lastClaim, 'token', token, 'ids', table.concat(taken, ','))
  redis.call('PEXPIRE', lastClaim, 60000)
end
-- Every band of every queue not stopped at a batch being written (woken when it commits)
-- was looked at when nothing was claimed.
local nextAt = -1
if claimed == 0 and held == 0 then nextAt = earliest end
return { nextAt, table.concat(out), held }
