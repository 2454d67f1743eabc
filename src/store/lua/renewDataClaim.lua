--[[
  Extends the claim of a write that is still streaming.

  KEYS[1]  data:info:<url>
  KEYS[2]  data:claims  (url -> claim expiry, ms)
  ARGV[1]  claim token
  ARGV[2]  claim TTL (ms)
  ARGV[3]  the url

  Returns: 1 when the claim is still this write's, 0 when it was lost (expired and taken).
]]
-- @include dataFolders
local f = redis.call('HMGET', KEYS[1], 'state', 'token')
if f[1] ~= 'starting' or f[2] ~= ARGV[1] then return 0 end
local expires = redisNowMs() + tonumber(ARGV[2])
redis.call('PEXPIREAT', KEYS[1], expires)
redis.call('ZADD', KEYS[2], expires, ARGV[3])
return 1
