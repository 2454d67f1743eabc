--[[
  Removes a node from a url's holders. When no holder is left the url is forgotten (info and
  holders deleted, and it leaves its folders' counts), so that it can be saved again.

  KEYS[1]  base: the cluster's key prefix, e.g. "{ks}:" (per-url keys are built from it)
  KEYS[2]  data:held-bytes   (node -> bytes it holds)
  KEYS[3]  data:dirs         (folder -> urls claimed or held under it)
  ARGV[1]  node
  ARGV[2]  the url (its field in data:held:<node>)

  Returns: the number of holders left.
]]
-- @include dataFolders
local p = KEYS[1]
local info, loc = p .. 'data:info:' .. ARGV[2], p .. 'data:loc:' .. ARGV[2]
local held, heldBytes, dirs = p .. 'data:held:' .. ARGV[1], KEYS[2], KEYS[3]
redis.call('SREM', loc, ARGV[1])
local size = redis.call('HGET', held, ARGV[2])
if size then
  redis.call('HDEL', held, ARGV[2])
  redis.call('HINCRBY', heldBytes, ARGV[1], -tonumber(size))
end
local left = redis.call('SCARD', loc)
if left == 0 and redis.call('HGET', info, 'state') == 'ready' then
  redis.call('DEL', info, loc)
  countInFolders(dirs, ARGV[2], -1)
end
return left
