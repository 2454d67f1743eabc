--[[
  Registers a verified copy of existing data (a peer copy, not a new save).

  KEYS[1]  data:info:<url>
  KEYS[2]  data:loc:<url>
  KEYS[3]  data:held:<node>  (url -> size: what the node holds)
  KEYS[4]  data:held-bytes   (node -> bytes it holds)
  ARGV[1]  node holding the copy
  ARGV[2]  sha256 (hex) the copy was verified against
  ARGV[3]  the url (its field in data:held:<node>)

  Returns: 1 when added; 0 when the url is not ready data with that hash any more (deleted
  meanwhile: the caller removes its copy).
]]
local f = redis.call('HMGET', KEYS[1], 'state', 'sha256', 'size')
if f[1] ~= 'ready' or f[2] ~= ARGV[2] then return 0 end
redis.call('SADD', KEYS[2], ARGV[1])
if redis.call('HSETNX', KEYS[3], ARGV[3], f[3]) == 1 then
  redis.call('HINCRBY', KEYS[4], ARGV[1], tonumber(f[3]))
end
return 1
