-- wrk script: 1,000 NDJSON events per request to POST /events/batch.
-- Ids are "<run>-<thread>-<req>-<i>": unique per event across requests, threads and runs.
-- Usage: wrk -t1 -c8 -d15s --latency -s bench/lua/batch.lua http://127.0.0.1:5080
-- Env: BENCH_RUN_ID overrides <run>; BATCH_EVENTS overrides 1000.

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

local headers, template, fill, req

function init(args)
   headers = { ["Content-Type"] = "application/x-ndjson" }
   -- A ~120 KB body built in Lua per request would cost wrk more CPU than the server spends on it, and wrk shares
   -- the same 2 cores. So the body is built once per thread, with "$R" (request number) and "$T" (timestamp)
   -- placeholders that one C-side gsub fills per request.
   local lines = {}
   local id_prefix = run_id .. "-" .. thread_id .. "-$R-"
   for i = 1, batch_events do
      lines[i] = '{"id":"' .. id_prefix .. i
         .. '","user_id":"user-' .. (i % 1000)
         .. '","type":"' .. types[i % 4 + 1]
         .. '","timestamp":$T,"payload":{"k":1}}'
   end
   template = table.concat(lines, "\n") .. "\n"
   fill = {}
   req = 0
end

function request()
   req = req + 1
   fill.R = req
   fill.T = os.time()
   local body = template:gsub("%$(%u)", fill)
   return wrk.format("POST", "/events/batch", headers, body)
end

-- COUNT_STATUSES=1: count responses by status (202, 503, other), for the overload run. Off by default: a response
-- hook makes wrk parse every response, which costs the load generator CPU.
if os.getenv("COUNT_STATUSES") == "1" then
   s202, s503, sother = 0, 0, 0
   function response(status, headers, body)
      if status == 202 then s202 = s202 + 1 elseif status == 503 then s503 = s503 + 1 else sother = sother + 1 end
   end
end

function done(summary, latency, requests)
   if os.getenv("COUNT_STATUSES") == "1" then
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
