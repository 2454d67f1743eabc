--[[
  Claims a data url for a new save (write-once, architecture §6), atomically refusing a url that lies
  under another data url (a file there) or that is a folder of other data urls.

  KEYS[1]  data:info:<url>
  KEYS[2]  data:loc:<url>
  KEYS[3]  data:dirs    (folder -> urls claimed or held under it)
  KEYS[4]  data:claims  (url -> claim expiry, ms)
  KEYS[5..] data:info:<folder> of each folder of the url, outermost first
  ARGV[1]  claim token (unique per write)
  ARGV[2]  writing node
  ARGV[3]  now (ms)
  ARGV[4]  claim TTL (ms): a writer that dies mid-write does not block the url for longer
  ARGV[5]  the url

  The info hash becomes { state = starting, token, node, started } with the TTL; the writer
  renews it while it streams (renewDataClaim) and turns it into the permanent record when the
  file is in place (commitData). The url counts in its folders from now until it is released
  or forgotten.
  Returns: { "ok" } when claimed; { "ready", node } when the url already holds data;
  { "starting", node } when another write holds the claim; { "under", folder } when that folder
  of the url is a data url; { "folder" } when other data urls lie under the url.
]]
-- @include dataFolders
local now = redisNowMs()
-- Claims whose writer died expired without a release: they leave the folder counts. (A second
-- of margin: the key's expiry is judged by the time the script started.)
for _, stale in ipairs(redis.call('ZRANGEBYSCORE', KEYS[4], '-inf', string.format('(%d', now - 1000))) do
  redis.call('ZREM', KEYS[4], stale)
  countInFolders(KEYS[3], stale, -1)
end

local state = redis.call('HGET', KEYS[1], 'state')
if state then
  local node = redis.call('HGET', KEYS[1], 'node') or ''
  return { state, node }
end
local folders = foldersOf(ARGV[5])
for i = 5, #KEYS do
  if redis.call('EXISTS', KEYS[i]) == 1 then return { 'under', folders[i - 4] } end
end
if tonumber(redis.call('HGET', KEYS[3], ARGV[5]) or '0') > 0 then return { 'folder' } end
-- The url's own dead claim, not swept yet: its count goes before the new one is added.
if redis.call('ZREM', KEYS[4], ARGV[5]) == 1 then countInFolders(KEYS[3], ARGV[5], -1) end

local expires = now + tonumber(ARGV[4])
redis.call('DEL', KEYS[2])
redis.call('HSET', KEYS[1], 'state', 'starting', 'token', ARGV[1], 'node', ARGV[2], 'started', ARGV[3])
redis.call('PEXPIREAT', KEYS[1], expires)
redis.call('ZADD', KEYS[4], expires, ARGV[5])
countInFolders(KEYS[3], ARGV[5], 1)
return { 'ok' }
