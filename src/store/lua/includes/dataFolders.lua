--[[
  The folder index of the data catalog: data:dirs (hash: folder -> how many urls claimed or
  held lie under it) and data:claims (sorted set: url of a write in progress -> when its claim
  expires, ms by the Redis clock), from which claims whose writer died are swept.
]]

-- The folders a url lies in, outermost first: 'a/b/c' -> { 'a', 'a/b' }.
local function foldersOf(url)
  local folders = {}
  local from = 1
  while true do
    local slash = string.find(url, '/', from, true)
    if not slash then return folders end
    folders[#folders + 1] = string.sub(url, 1, slash - 1)
    from = slash + 1
  end
end

-- Adds `delta` to the count of every folder of `url`; a folder counted down to 0 is removed.
local function countInFolders(dirsKey, url, delta)
  for _, folder in ipairs(foldersOf(url)) do
    if redis.call('HINCRBY', dirsKey, folder, delta) <= 0 then redis.call('HDEL', dirsKey, folder) end
  end
end

local function redisNowMs()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
