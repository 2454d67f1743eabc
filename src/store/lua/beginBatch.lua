--[[
  Step 1 of a submit (the batch protocol; see docs/reliability.md "Submits"): writes the batch
  record, and maps the client's submitId to the batch.

    begin (this)  ->  enqueueJobs, once per chunk  ->  commitBatch     (all pipelined)
                                   on any failure  ->  abortBatch + cleanup

  The record `batch:<id>` is a hash: st ("writing" | "committed"), n (jobs), head, sub
  (submitId or ""), created, lease (ms, Redis clock: while st is "writing", the writer is
  alive until then; every chunk renews it), c<i> (chunk i was written), local (ids the head
  claimed at commit). It lives as long as the batch's jobs can (ARGV[6], renewed by every
  chunk and the commit). Queue entries of a batch whose record is "writing" are never
  claimed: claimJobs stops at them while the lease runs, and drops them (with their job)
  once it lapsed. `submit:<submitId>` holds the batch id, SET only if absent.

  KEYS[1]  base: the cluster's key prefix, e.g. "{ks}:" (per-job keys are built from it)
  ARGV[1]  batch id (new, time-ordered: ids.ts newBatchId)
  ARGV[2]  number of jobs
  ARGV[3]  head node
  ARGV[4]  lease (ms)
  ARGV[5]  submitId, or "" for none
  ARGV[6]  record TTL (ms): the job TTL plus a margin
  Returns: { "new", batch } when this batch is written; { "exists", batch, st, n } when the
  submitId already maps to another batch that is committed or still being written by a live
  writer (nothing is written then; the caller answers with that batch, or waits for it).
  A mapping to a batch that was aborted, lost or whose writer's lease lapsed is taken over.
]]
local p = KEYS[1]
local batch = ARGV[1]
local sub = ARGV[5]
local recordTtl = tonumber(ARGV[6])
local t = redis.call('TIME')
local clock = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
if sub ~= '' then
  local submitKey = p .. 'submit:' .. sub
  local other = redis.call('GET', submitKey)
  if other and other ~= batch then
    local f = redis.call('HMGET', p .. 'batch:' .. other, 'st', 'n', 'lease')
    if f[1] == 'committed' or (f[1] == 'writing' and tonumber(f[3] or 0) >= clock) then
      return { 'exists', other, f[1], f[2] }
    end
  end
  redis.call('SET', submitKey, batch, 'PX', recordTtl)
end
local record = p .. 'batch:' .. batch
-- Already there: this very command sent again by the client library after a reconnect.
if redis.call('EXISTS', record) == 1 then return { 'new', batch } end
redis.call('HSET', record, 'st', 'writing', 'n', ARGV[2], 'head', ARGV[3], 'sub', sub,
  'created', clock, 'lease', clock + tonumber(ARGV[4]))
redis.call('PEXPIRE', record, recordTtl)
return { 'new', batch }
