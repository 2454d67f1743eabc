--[[
  Removes a node from a url's holders. When no holder is left the url is forgotten (info and
  holders deleted, and it leaves its folders' counts), so that it can be saved again.

  KEYS[1]  data:info:<url>
  KEYS[2]  data:loc:<url>
  KEYS[3]  data:held:<node>  (url -> size: what the node holds)
  KEYS[4]  data:held-bytes   (node -> bytes it holds)
  KEYS[5]  data:dirs         (folder -> urls claimed or held under it)
  ARGV[1]  node
  ARGV[2]  the url (its field in data:held:<node>)

  Returns: the number of holders left.
]]
-- @include dataFolders
redis.call('SREM', KEYS[2], ARGV[1])
local size = redis.call('HGET', KEYS[3], ARGV[2])
if size then
  redis.call('HDEL', KEYS[3], ARGV[2])
  redis.call('HINCRBY', KEYS[4], ARGV[1], -tonumber(size))
end
local left = redis.call('SCARD', KEYS[2])
if left == 0 and redis.call('HGET', KEYS[1], 'state') == 'ready' then
  redis.call('DEL', KEYS[1], KEYS[2])
  countInFolders(KEYS[5], ARGV[2], -1)
end
return left
