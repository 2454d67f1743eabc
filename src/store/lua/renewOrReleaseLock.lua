--[[
  Renews or releases a lock (a string key holding its holder's token), only for its holder:
  a holder whose lock lapsed and was taken by another must not extend or delete that one.

  KEYS[1]  base: the cluster's key prefix, e.g. "{ks}:" (unused: every script takes it first)
  KEYS[2]  <lock>  (the lock's key, named by the caller: e.g. reaper)
  ARGV[1]  the holder's token
  ARGV[2]  new TTL (ms), or 0 to release the lock

  Returns: 1 when the lock was the holder's (now renewed or released), 0 when it was not.
]]
local lock = KEYS[2]
if redis.call('GET', lock) ~= ARGV[1] then return 0 end
local ttl = tonumber(ARGV[2])
if ttl > 0 then
  redis.call('PEXPIRE', lock, ttl)
else
  redis.call('DEL', lock)
end
return 1
