--[[
  Fails queued jobs that no live node can run any more (their only queues lost their nodes).

  KEYS: none
  ARGV[1]  key prefix
  ARGV[2]  now (ms)
  ARGV[3]  TTL (ms) of a failed job's record
  ARGV[4]  error to record (CBOR of { name, message })
  ARGV[5]  comma-separated queues that no live node serves
  ARGV[6..] job ids

  A job is failed only while it is still queued and every one of its queues is in ARGV[5];
  otherwise only its copies in those queues are dropped.
  Returns: two per failed job: id, head node.
]]
local p = ARGV[1]
local gone = {}
for q in string.gmatch(ARGV[5], '[^,]+') do gone[q] = true end
local out = {}
for i = 6, #ARGV do
  local id = ARGV[i]
  local key = p .. 'job:' .. id
  local f = redis.call('HMGET', key, 'st', 'queues', 'head')
  if f[1] == 'queued' and f[2] then
    local alive = false
    for q in string.gmatch(f[2], '[^,]+') do
      if not gone[q] then alive = true end
    end
    if not alive then
      redis.call('HSET', key, 'st', 'failed', 'err', ARGV[4], 'finished', ARGV[2])
      redis.call('PEXPIRE', key, tonumber(ARGV[3]))
      out[#out + 1] = id
      out[#out + 1] = f[3] or ''
    end
  end
  for q in pairs(gone) do redis.call('ZREM', p .. 'q:' .. q, id) end
end
return out
