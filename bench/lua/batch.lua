-- wrk script: 1,000 NDJSON events per request to POST /events/batch, timestamps the current second.
-- Ids: a random UUIDv4 per event (IDS=uuid, the default), or "<run>-<thread>-<req>-<i>" (IDS=clustered); see ids.lua.
-- Usage: wrk -t1 -c8 -d15s --latency -s bench/lua/batch.lua http://127.0.0.1:5080
-- Env: IDS, BENCH_RUN_ID overrides <run> (clustered ids); BATCH_EVENTS overrides 1000.

local ids = dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "") .. "ids.lua")

local types = { "trip_started", "song_played", "ad_clicked", "location_update" }
-- Globals, not locals: setup() overwrites them in each thread so every thread sees the main state's values.
run_id = os.getenv("BENCH_RUN_ID") or tostring(os.time())
batch_events = tonumber(os.getenv("BATCH_EVENTS") or "1000")
local next_thread = 0
local threads = {}

function setup(thread)
   next_thread = next_thread + 1
   threads[#threads + 1] = thread
   thread:set("thread_id", next_thread)
   thread:set("run_id", run_id)
   thread:set("batch_events", batch_events)
end

local headers, template, fill, parts, req

function init(args)
   headers = { ["Content-Type"] = "application/x-ndjson" }
   ids.seed(thread_id)
   -- A ~120 KB body built line by line in Lua per request would cost wrk more CPU than the server spends on it,
   -- and wrk shares the same 2 cores. So the constant parts are built once per thread. Clustered ids: one C-side
   -- gsub fills "$R" (request number) and "$T" (timestamp). UUIDs: a new one per event goes into its slot of
   -- `parts`, joined by table.concat (0.7 ms per 1,000-event body, half the cost of a gsub calling back into Lua).
   local lines = {}
   parts = {}
   for i = 1, batch_events do
      local rest = '","user_id":"user-' .. (i % 1000) .. '","type":"' .. types[i % 4 + 1] .. '","timestamp":'
      lines[i] = '{"id":"' .. run_id .. "-" .. thread_id .. "-$R-" .. i .. rest .. '$T,"payload":{"k":1}}'
      parts[#parts + 1] = '{"id":"'
      parts[#parts + 1] = ""   -- the id
      parts[#parts + 1] = rest
      parts[#parts + 1] = ""   -- the timestamp
      parts[#parts + 1] = ',"payload":{"k":1}}\n'
   end
   template = table.concat(lines, "\n") .. "\n"
   fill = {}
   req = 0
end

local uuid, concat = ids.uuid, table.concat

function request()
   req = req + 1
   local body
   if ids.mode == "uuid" then
      local now = tostring(os.time())
      for i = 2, #parts, 5 do
         parts[i] = uuid()
         parts[i + 2] = now
      end
      body = concat(parts)
   else
      fill.R = req
      fill.T = os.time()
      body = template:gsub("%$(%u)", fill)
   end
   return wrk.format("POST", "/events/batch", headers, body)
end

-- After a 503 (queue full) the thread pauses PAUSE_ON_503_MS (100) before its next request, as a producer's SDK
-- backs off before retrying, instead of building and sending bodies as fast as it can only to have them refused:
-- on 2 shared cores that would take CPU from the server being measured. PAUSE_ON_503_MS=0 turns it off.
-- COUNT_STATUSES=1 also counts responses by status (202, 503, other), for the overload run.
local pause_ms = tonumber(os.getenv("PAUSE_ON_503_MS") or "100")
local count_statuses = os.getenv("COUNT_STATUSES") == "1"
s202, s503, sother = 0, 0, 0
local pauses = 0

if pause_ms > 0 or count_statuses then
   function response(status, headers, body)
      if status == 202 then s202 = s202 + 1 elseif status == 503 then s503 = s503 + 1 else sother = sother + 1 end
      if status == 503 then
         pauses = pauses + 1
      end
   end
end

if pause_ms > 0 then
   -- One paused request per 503 received (wrk asks delay() before each request, not per connection).
   function delay()
      if pauses > 0 then
         pauses = pauses - 1
         return pause_ms
      end
      return 0
   end
end

function done(summary, latency, requests)
   if count_statuses then
      local a, b, c = 0, 0, 0
      for _, t in ipairs(threads) do
         a, b, c = a + t:get("s202"), b + t:get("s503"), c + t:get("sother")
      end
      io.write(string.format("BENCH_STATUSES s202=%d s503=%d other=%d\n", a, b, c))
   end
   local e = summary.errors
   io.write(string.format(
      "BENCH_RESULT requests=%d duration_us=%d bytes=%d non2xx3xx=%d connect_err=%d read_err=%d write_err=%d timeout_err=%d p50_us=%d p90_us=%d p99_us=%d max_us=%d\n",
      summary.requests, summary.duration, summary.bytes, e.status, e.connect, e.read, e.write, e.timeout,
      latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
end
