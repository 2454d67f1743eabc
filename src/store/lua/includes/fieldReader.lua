--[[
  Reads a packed argument: fields, each a 4-byte big-endian length then that many bytes
  (written by src/store/packed-fields.ts). Returns a function giving the next field, or nil
  at the end. One packed argument replaces thousands: far less protocol work on both sides.
]]
local function fieldReader(blob)
  local pos = 1
  local size = #blob
  return function()
    if pos > size then return nil end
    local len
    len, pos = struct.unpack('>I4', blob, pos)
    local field = string.sub(blob, pos, pos + len - 1)
    pos = pos + len
    return field
  end
end
