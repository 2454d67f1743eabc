--[[
  Extends the claim of a write that is still streaming.

  KEYS[1]  data:info:<url>
  ARGV[1]  claim token
  ARGV[2]  claim TTL (ms)

  Returns: 1 when the claim is still this write's, 0 when it was lost (expired and taken).
]]
local f = redis.call('HMGET', KEYS[1], 'state', 'token')
if f[1] ~= 'starting' or f[2] ~= ARGV[1] then return 0 end
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[2]))
return 1
