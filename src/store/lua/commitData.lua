--[[
  Records a finished write: the file is fsynced and in place on the writing node.

  KEYS[1]  base: the cluster's key prefix, e.g. "{ks}:" (per-url keys are built from it)
  KEYS[2]  data:held-bytes   (node -> bytes it holds)
  KEYS[3]  data:claims       (url -> claim expiry, ms)
  ARGV[1]  claim token
  ARGV[2]  writing node
  ARGV[3]  size (bytes)
  ARGV[4]  sha256 (hex)
  ARGV[5]  format (cbor | json | raw | file)
  ARGV[6]  created (ms)
  ARGV[7]  the url (its field in data:held:<node>)

  The info hash becomes { state = ready, size, sha256, fmt, created, node } with no TTL, and
  the node becomes the url's first holder. The url keeps counting in its folders (data:dirs).
  Returns: 1, or 0 when the claim was lost (the caller removes its file).
]]
local p = KEYS[1]
local info, loc = p .. 'data:info:' .. ARGV[7], p .. 'data:loc:' .. ARGV[7]
local held, heldBytes, claims = p .. 'data:held:' .. ARGV[2], KEYS[2], KEYS[3]
local f = redis.call('HMGET', info, 'state', 'token')
if f[1] ~= 'starting' or f[2] ~= ARGV[1] then return 0 end
redis.call('HDEL', info, 'token', 'started')
redis.call('HSET', info, 'state', 'ready', 'node', ARGV[2], 'size', ARGV[3], 'sha256', ARGV[4], 'fmt', ARGV[5], 'created', ARGV[6])
redis.call('PERSIST', info)
redis.call('ZREM', claims, ARGV[7])
redis.call('SADD', loc, ARGV[2])
if redis.call('HSETNX', held, ARGV[7], ARGV[3]) == 1 then
  redis.call('HINCRBY', heldBytes, ARGV[2], tonumber(ARGV[3]))
end
return 1
