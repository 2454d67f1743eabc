--[[
  Registers a verified copy of existing data (a peer copy, not a new save).

  KEYS[1]  base: the cluster's key prefix, e.g. "{ks}:" (per-url keys are built from it)
  KEYS[2]  data:held-bytes   (node -> bytes it holds)
  ARGV[1]  node holding the copy
  ARGV[2]  sha256 (hex) the copy was verified against
  ARGV[3]  the url (its field in data:held:<node>)

  Returns: 1 when added; 0 when the url is not ready data with that hash any more (deleted
  meanwhile: the caller removes its copy).
]]
local p = KEYS[1]
local info, loc = p .. 'data:info:' .. ARGV[3], p .. 'data:loc:' .. ARGV[3]
local held, heldBytes = p .. 'data:held:' .. ARGV[1], KEYS[2]
local f = redis.call('HMGET', info, 'state', 'sha256', 'size')
if f[1] ~= 'ready' or f[2] ~= ARGV[2] then return 0 end
redis.call('SADD', loc, ARGV[1])
if redis.call('HSETNX', held, ARGV[3], f[3]) == 1 then
  redis.call('HINCRBY', heldBytes, ARGV[1], tonumber(f[3]))
end
return 1
