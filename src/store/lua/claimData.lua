--[[
  Claims a data url for a new save (write-once, architecture §6), atomically refusing a url that lies
  under another data url (a file there) or that is a folder of other data urls.

  KEYS[1]  base: the cluster's key prefix, e.g. "{ks}:" (per-url keys are built from it)
  KEYS[2]  data:dirs    (folder -> urls claimed or held under it)
  KEYS[3]  data:claims  (url -> claim expiry, ms)
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
local p = KEYS[1]
local info, loc = p .. 'data:info:' .. ARGV[5], p .. 'data:loc:' .. ARGV[5]
local dirs, claims = KEYS[2], KEYS[3]
local now = redisNowMs()
-- Claims whose writer died expired without a release: they leave the folder counts. (A second
-- of margin: the key's expiry is judged by the time the script started.)
for _, stale in ipairs(redis.call('ZRANGEBYSCORE', claims, '-inf', string.format('(%d', now - 1000))) do
  redis.call('ZREM', claims, stale)
  countInFolders(dirs, stale, -1)
end

local state = redis.call('HGET', info, 'state')
if state then
  local node = redis.call('HGET', info, 'node') or ''
  return { state, node }
end
local folders = foldersOf(ARGV[5])
for _, folder in ipairs(folders) do
  if redis.call('EXISTS', p .. 'data:info:' .. folder) == 1 then return { 'under', folder } end
end
if tonumber(redis.call('HGET', dirs, ARGV[5]) or '0') > 0 then return { 'folder' } end
-- The url's own dead claim, not swept yet: its count goes before the new one is added.
if redis.call('ZREM', claims, ARGV[5]) == 1 then countInFolders(dirs, ARGV[5], -1) end

local expires = now + tonumber(ARGV[4])
redis.call('DEL', loc)
redis.call('HSET', info, 'state', 'starting', 'token', ARGV[1], 'node', ARGV[2], 'started', ARGV[3])
redis.call('PEXPIREAT', info, expires)
redis.call('ZADD', claims, expires, ARGV[5])
countInFolders(dirs, ARGV[5], 1)
return { 'ok' }
