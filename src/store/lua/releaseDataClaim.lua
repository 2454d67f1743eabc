--[[
  Gives up the claim of a write that failed (client gone, disk guard, size or hash mismatch),
  so the url can be saved again; it no longer counts in its folders.

  KEYS[1]  base: the cluster's key prefix, e.g. "{ks}:" (per-url keys are built from it)
  KEYS[2]  data:dirs    (folder -> urls claimed or held under it)
  KEYS[3]  data:claims  (url -> claim expiry, ms)
  ARGV[1]  claim token
  ARGV[2]  the url

  Returns: 1 when the claim was released, 0 when it was not this write's any more.
]]
-- @include dataFolders
local info = KEYS[1] .. 'data:info:' .. ARGV[2]
local dirs, claims = KEYS[2], KEYS[3]
local f = redis.call('HMGET', info, 'state', 'token')
if f[1] ~= 'starting' or f[2] ~= ARGV[1] then return 0 end
redis.call('DEL', info)
if redis.call('ZREM', claims, ARGV[2]) == 1 then countInFolders(dirs, ARGV[2], -1) end
return 1
