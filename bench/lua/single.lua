-- wrk script: one JSON event per request to POST /events, timestamp the current second.
-- Ids: a random UUIDv4 per event (IDS=uuid, the default), or "<run>-<thread>-<n>" (IDS=clustered); see ids.lua.
-- Usage: wrk -t1 -c64 -d15s --latency -s bench/lua/single.lua http://127.0.0.1:5080
-- Env: IDS, BENCH_RUN_ID overrides <run> (clustered ids; default: unix time when wrk starts).

local ids = dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "") .. "ids.lua")

local types = { "trip_started", "song_played", "ad_clicked", "location_update" }
-- Globals, not locals: setup() overwrites them in each thread so every thread sees the main state's values.
run_id = os.getenv("BENCH_RUN_ID") or tostring(os.time())
local next_thread = 0

-- setup runs once per thread in the main Lua state; thread:set copies values into that thread's own state.
function setup(thread)
   next_thread = next_thread + 1
   thread:set("thread_id", next_thread)
   thread:set("run_id", run_id)
end

local headers, prefix, n

function init(args)
   -- Built once per thread, so request() only formats the parts that change.
   headers = { ["Content-Type"] = "application/json" }
   prefix = '{"id":"' .. run_id .. "-" .. thread_id .. "-"
   n = 0
   ids.seed(thread_id)
end

function request()
   n = n + 1
   local body = (ids.mode == "uuid" and ('{"id":"' .. ids.uuid()) or (prefix .. n))
      .. '","user_id":"user-' .. (n % 1000)
      .. '","type":"' .. types[n % 4 + 1]
      .. '","timestamp":' .. os.time()
      .. ',"payload":{"k":1}}'
   return wrk.format("POST", "/events", headers, body)
end

-- One machine-readable line for bench/run.sh; latency values are microseconds.
function done(summary, latency, requests)
   local e = summary.errors
   io.write(string.format(
      "BENCH_RESULT requests=%d duration_us=%d bytes=%d non2xx3xx=%d connect_err=%d read_err=%d write_err=%d timeout_err=%d p50_us=%d p90_us=%d p99_us=%d max_us=%d\n",
      summary.requests, summary.duration, summary.bytes, e.status, e.connect, e.read, e.write, e.timeout,
      latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
end
