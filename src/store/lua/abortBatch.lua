--[[
  Undoes a submit that failed before its commit (see beginBatch.lua), unless it committed
  after all (the commit ran but its reply was lost). Only commands Redis allows above
  maxmemory (HGET, HDEL, GET, DEL) are used, so an abort works when an -OOM failed the submit.
  The record stays, "writing" without a lease, until it expires: claims drop any queue entry
  of the batch that the caller's cleanup (UNLINK of the jobs, ZREM of the queue entries,
  sent right after this) could not remove.

  KEYS[1]  base: the cluster's key prefix, e.g. "{ks}:" (per-job keys are built from it)
  ARGV[1]  batch id
  ARGV[2]  submitId, or ""
  Returns: { "committed", claimed ids } or { "aborted" }.
]]
local p = KEYS[1]
local record = p .. 'batch:' .. ARGV[1]
local f = redis.call('HMGET', record, 'st', 'local')
if f[1] == 'committed' then return { 'committed', f[2] or '' } end
if f[1] then redis.call('HDEL', record, 'lease') end
if ARGV[2] ~= '' then
  local submitKey = p .. 'submit:' .. ARGV[2]
  if redis.call('GET', submitKey) == ARGV[1] then redis.call('DEL', submitKey) end
end
return { 'aborted' }
