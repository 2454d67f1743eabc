--[[
  Claims a data url for a new save (write-once, DESIGN §6).

  KEYS[1]  data:info:<url>
  KEYS[2]  data:loc:<url>
  ARGV[1]  claim token (unique per write)
  ARGV[2]  writing node
  ARGV[3]  now (ms)
  ARGV[4]  claim TTL (ms): a writer that dies mid-write does not block the url for longer

  The info hash becomes { state = starting, token, node, started } with the TTL; the writer
  renews it while it streams (renewDataClaim) and turns it into the permanent record when the
  file is in place (commitData).
  Returns: { "ok" } when claimed; { "ready", node } when the url already holds data;
  { "starting", node } when another write holds the claim.
]]
local state = redis.call('HGET', KEYS[1], 'state')
if state then
  local node = redis.call('HGET', KEYS[1], 'node') or ''
  return { state, node }
end
redis.call('DEL', KEYS[2])
redis.call('HSET', KEYS[1], 'state', 'starting', 'token', ARGV[1], 'node', ARGV[2], 'started', ARGV[3])
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[4]))
return { 'ok' }
