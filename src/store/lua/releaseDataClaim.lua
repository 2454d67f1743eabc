--[[
  Gives up the claim of a write that failed (client gone, disk guard, size or hash mismatch),
  so the url can be saved again.

  KEYS[1]  data:info:<url>
  ARGV[1]  claim token

  Returns: 1 when the claim was released, 0 when it was not this write's any more.
]]
local f = redis.call('HMGET', KEYS[1], 'state', 'token')
if f[1] ~= 'starting' or f[2] ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[1])
return 1
