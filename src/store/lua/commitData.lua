--[[
  Records a finished write: the file is fsynced and in place on the writing node.

  KEYS[1]  data:info:<url>
  KEYS[2]  data:loc:<url>
  KEYS[3]  data:held:<node>  (url -> size: what the node holds)
  KEYS[4]  data:held-bytes   (node -> bytes it holds)
  KEYS[5]  data:claims       (url -> claim expiry, ms)
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
local f = redis.call('HMGET', KEYS[1], 'state', 'token')
if f[1] ~= 'starting' or f[2] ~= ARGV[1] then return 0 end
redis.call('HDEL', KEYS[1], 'token', 'started')
redis.call('HSET', KEYS[1], 'state', 'ready', 'node', ARGV[2], 'size', ARGV[3], 'sha256', ARGV[4], 'fmt', ARGV[5], 'created', ARGV[6])
redis.call('PERSIST', KEYS[1])
redis.call('ZREM', KEYS[5], ARGV[7])
redis.call('SADD', KEYS[2], ARGV[2])
if redis.call('HSETNX', KEYS[3], ARGV[7], ARGV[3]) == 1 then
  redis.call('HINCRBY', KEYS[4], ARGV[2], tonumber(ARGV[3]))
end
return 1
