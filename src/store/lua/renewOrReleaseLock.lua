--[[
  Renews or releases a lock (a string key holding its holder's token), only for its holder:
  a holder whose lock lapsed and was taken by another must not extend or delete that one.

  KEYS[1]  the lock
  ARGV[1]  the holder's token
  ARGV[2]  new TTL (ms), or 0 to release the lock

  Returns: 1 when the lock was the holder's (now renewed or released), 0 when it was not.
]]
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
local ttl = tonumber(ARGV[2])
if ttl > 0 then
  redis.call('PEXPIRE', KEYS[1], ttl)
else
  redis.call('DEL', KEYS[1])
end
return 1
