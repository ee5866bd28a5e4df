-- Event ids for the wrk scripts, loaded by single.lua and batch.lua with dofile().
-- IDS=uuid (default): a random UUIDv4 per event, as Segment, RudderStack and PostHog SDKs send. Random ids spread
--   every write across the whole key space, so they measure a table and its indexes as real producers load them.
-- IDS=clustered: "<run>-<thread>-<request>-<i>", ids that sort together, which a B-tree on the id loves. Kept to
--   compare with earlier figures; say so beside any number measured with them.
local ids = {}
ids.mode = os.getenv("IDS") or "uuid"
assert(ids.mode == "uuid" or ids.mode == "clustered", "IDS must be uuid or clustered, not " .. ids.mode)

local random, format = math.random, string.format

-- Each wrk thread has its own Lua state: seed it from the clock and the thread so no two share a sequence.
function ids.seed(thread_id)
   math.randomseed(os.time() * 1000 + thread_id * 7919 + math.floor(os.clock() * 1e6))
end

-- 122 random bits in the UUIDv4 layout, 16 bits per call (LuaJIT's math.random is exact at that width).
function ids.uuid()
   return format("%04x%04x-%04x-4%03x-%04x-%04x%04x%04x",
      random(0, 0xffff), random(0, 0xffff), random(0, 0xffff), random(0, 0xfff),
      random(0, 0x3fff) + 0x8000, random(0, 0xffff), random(0, 0xffff), random(0, 0xffff))
end

return ids
