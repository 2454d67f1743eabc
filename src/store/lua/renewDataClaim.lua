--[[
  Extends the claim of a write that is still streaming.

  KEYS[1]  base: the cluster's key prefix, e.g. "{ks}:" (per-url keys are built from it)
  KEYS[2]  data:claims  (url -> claim expiry, ms)
  ARGV[1]  claim token
  ARGV[2]  claim TTL (ms)
  ARGV[3]  the url

  Returns: 1 when the claim is still this write's, 0 when it was lost (expired and taken).
]]
-- @include dataFolders
local info, claims = KEYS[1] .. 'data:info:' .. ARGV[3], KEYS[2]
local f = redis.call('HMGET', info, 'state', 'token')
if f[1] ~= 'starting' or f[2] ~= ARGV[1] then return 0 end
local expires = redisNowMs() + tonumber(ARGV[2])
redis.call('PEXPIREAT', info, expires)
redis.call('ZADD', claims, expires, ARGV[3])
return 1
