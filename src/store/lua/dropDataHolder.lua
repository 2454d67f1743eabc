--[[
  Removes a node from a url's holders. When no holder is left the url is forgotten (info and
  holders deleted), so that it can be saved again.

  KEYS[1]  data:info:<url>
  KEYS[2]  data:loc:<url>
  ARGV[1]  node

  Returns: the number of holders left.
]]
redis.call('SREM', KEYS[2], ARGV[1])
local left = redis.call('SCARD', KEYS[2])
if left == 0 and redis.call('HGET', KEYS[1], 'state') == 'ready' then
  redis.call('DEL', KEYS[1], KEYS[2])
end
return left
