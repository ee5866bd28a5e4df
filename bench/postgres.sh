#!/usr/bin/env bash
# PostgreSQL load comparison, both figures from one run on one throwaway server:
#   (a) raw COPY: psql \copy of ROWS generated rows into a table shaped like Hermes's `events` (text primary key);
#   (b) Hermes end to end: wrk posting NDJSON batches (bench/lua/batch.lua, unique ids) for DURATION, then waiting
#       until every accepted event is a committed row; committed rows / (first request → last commit).
#
#   bench/postgres.sh                       # 1M raw rows, 15 s of Hermes load
#   ROWS=200000 DURATION=5s bench/postgres.sh
#   WORKER_COUNT=8 BATCH_SIZE=2000 bench/postgres.sh   # Hermes settings pass through
#
# Needs postgresql-15 (apt-get install -y postgresql-15), wrk, python3, the .NET SDK. Runs as root; the server runs
# as the postgres user (setpriv) in a temp directory that is deleted at the end. Durability settings are
# PostgreSQL's defaults (fsync and synchronous_commit on) for both measurements.
set -euo pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_DIR=$(dirname "$BENCH_DIR")
PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}
ROWS=${ROWS:-1000000}
DURATION=${DURATION:-15s}
BATCH_CONNS=${BATCH_CONNS:-8}
PG_PORT=${PG_PORT:-55432}
HERMES_PORT=${HERMES_PORT:-5081}
SKIP_BUILD=${SKIP_BUILD:-0}
OUT_DIR=$BENCH_DIR/out/hermes-postgres
WORK=$(mktemp -d /tmp/hermes-bench-pg.XXXXXX)
export BENCH_RUN_ID=${BENCH_RUN_ID:-pg$(date +%s)}
export BATCH_EVENTS=${BATCH_EVENTS:-1000}
export BACKPRESSURE_MODE=${BACKPRESSURE_MODE:-block}
export BLOCK_TIMEOUT=${BLOCK_TIMEOUT:-5s}

log() { printf '[postgres.sh] %s\n' "$*" >&2; }
as_pg() { setpriv --reuid=postgres --regid=postgres --init-groups "$@"; }
psql_() { "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PG_PORT" -U postgres "$@"; }
now() { date +%s.%N; }
ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat" 2>/dev/null || echo 0; }
# Live postgres processes, plus the postmaster's reaped children (the raw COPY's backend exits with psql).
pg_ticks() {
  local t=0 p master; master=$(head -1 "$WORK/data/postmaster.pid")
  for p in $(pgrep -u postgres); do t=$(( t + $(ticks "$p") )); done
  echo $(( t + $(awk '{ print $16 + $17 }' "/proc/$master/stat") ))
}
HZ=$(getconf CLK_TCK)

HERMES_PID=
cleanup() {
  [[ -n $HERMES_PID ]] && kill "$HERMES_PID" 2>/dev/null && wait "$HERMES_PID" 2>/dev/null || true
  as_pg "$PG_BIN/pg_ctl" -D "$WORK/data" -m fast stop >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT

[[ -x $PG_BIN/postgres ]] || { log "PostgreSQL 15 missing: apt-get install -y postgresql-15"; exit 1; }
command -v wrk >/dev/null || { log "wrk missing: apt-get install -y wrk"; exit 1; }

if [[ $SKIP_BUILD != 1 ]]; then
  log "building Hermes.Ingest (Release)"
  dotnet publish "$REPO_DIR/Hermes.Ingest/Hermes.Ingest.csproj" -c Release -o "$OUT_DIR" --nologo -v q >/dev/null
fi

log "starting PostgreSQL 15 on 127.0.0.1:$PG_PORT in $WORK"
chown postgres:postgres "$WORK"
as_pg "$PG_BIN/initdb" -D "$WORK/data" -U postgres --auth=trust --encoding=UTF8 >/dev/null
as_pg "$PG_BIN/pg_ctl" -D "$WORK/data" -l "$WORK/postgres.log" -w \
  -o "-p $PG_PORT -k $WORK -c listen_addresses=127.0.0.1 -c max_connections=200 -c shared_buffers=256MB -c max_wal_size=4GB" start >/dev/null
psql_ -c "CREATE DATABASE raw" -c "CREATE DATABASE hermes"

# (a) raw COPY of generated rows into the same table shape.
log "generating $ROWS rows"
python3 - "$ROWS" > "$WORK/rows.csv" <<'PY'
import sys
n = int(sys.argv[1]); types = ("trip_started", "song_played", "ad_clicked", "location_update")
w = sys.stdout.write
for i in range(n):
    w(f'raw-{i},user-{i % 1000},{types[i % 4]},2023-11-14 22:13:{i % 60:02d}+00,"{{""k"":1}}",2026-01-01 00:00:00.{i % 1000:03d}+00\n')
PY
chmod 644 "$WORK/rows.csv"
# Same definition as Hermes's migration 1 (Sinks/Postgres/PostgresSchema.cs).
psql_ -d raw -c "CREATE TABLE events (id text COLLATE \"C\" PRIMARY KEY, user_id text NOT NULL, type text NOT NULL, ts timestamptz NOT NULL, payload jsonb, received_at timestamptz NOT NULL)"
log "raw \\copy of $ROWS rows"
start=$(now); pg_before=$(pg_ticks)
psql_ -d raw -c "\\copy events FROM '$WORK/rows.csv' WITH (FORMAT csv)"
raw_seconds=$(echo "$(now) - $start" | bc -l); raw_pg_cpu=$(echo "($(pg_ticks) - $pg_before) / $HZ" | bc -l)
raw_rows=$(psql_ -d raw -Atc "SELECT count(*) FROM events")

# (b) Hermes end to end.
log "starting Hermes on :$HERMES_PORT"
HTTP_ADDR=127.0.0.1:$HERMES_PORT DB_DSN="postgres://postgres@127.0.0.1:$PG_PORT/hermes?sslmode=disable" SPILL_DIR=$WORK/spill \
  ASPNETCORE_ENVIRONMENT=Production Logging__LogLevel__Default=Warning OTEL_EXPORTER_OTLP_ENDPOINT= \
  dotnet "$OUT_DIR/Hermes.Ingest.dll" > "$BENCH_DIR/out/hermes-postgres.log" 2>&1 &
HERMES_PID=$!
for _ in $(seq 1 300); do curl -fs "http://127.0.0.1:$HERMES_PORT/alive" >/dev/null 2>&1 && break; sleep 0.1; done
# Warm up (JIT, pool, schema) with a short burst, then start from an empty table.
BENCH_RUN_ID=warm$BENCH_RUN_ID wrk -t1 -c2 -d2s -s "$BENCH_DIR/lua/batch.lua" "http://127.0.0.1:$HERMES_PORT" >/dev/null
metric() { curl -fs "http://127.0.0.1:$HERMES_PORT/metrics" | awk -v m="$1" '$1 ~ "^"m"[{ ]" || $1 == m {print $2}'; }
for _ in $(seq 1 200); do (( $(metric hermes_events_flushed_total) >= $(metric hermes_events_accepted_total) )) && break; sleep 0.05; done
psql_ -d hermes -c "TRUNCATE events, event_rollup_shards"
accepted_before=$(metric hermes_events_accepted_total)

log "wrk: $BATCH_CONNS connections × $BATCH_EVENTS-event batches for $DURATION"
start=$(now); pg_before=$(pg_ticks); hermes_before=$(ticks "$HERMES_PID")
wrk -t1 -c"$BATCH_CONNS" -d"$DURATION" --timeout 10s -s "$BENCH_DIR/lua/batch.lua" "http://127.0.0.1:$HERMES_PORT" > "$WORK/wrk.txt"
sent_seconds=$(echo "$(now) - $start" | bc -l)
accepted=$(( $(metric hermes_events_accepted_total) - accepted_before ))
log "accepted $accepted events in ${sent_seconds}s; waiting for them to be committed"
# Rollups commit with their rows, so their (small) total tracks committed rows without scanning events.
for _ in $(seq 1 1200); do
  (( $(psql_ -d hermes -Atc "SELECT coalesce(sum(count), 0) FROM event_rollup_shards") >= accepted )) && break
  sleep 0.05
done
hermes_seconds=$(echo "$(now) - $start" | bc -l)
hermes_pg_cpu=$(echo "($(pg_ticks) - $pg_before) / $HZ" | bc -l); hermes_cpu=$(echo "($(ticks "$HERMES_PID") - $hermes_before) / $HZ" | bc -l)
committed=$(psql_ -d hermes -Atc "SELECT count(*) FROM events WHERE id LIKE '$BENCH_RUN_ID-%'")
total_rows=$(psql_ -d hermes -Atc "SELECT count(*) FROM events")
rollups=$(psql_ -d hermes -Atc "SELECT coalesce(sum(count), 0) FROM event_rollups")

raw_rate=$(echo "$raw_rows / $raw_seconds" | bc -l)
hermes_rate=$(echo "$committed / $hermes_seconds" | bc -l)
printf '\n| measurement | rows | seconds | rows/s |\n|---|---:|---:|---:|\n'
printf '| (a) raw psql \\copy, text primary key | %d | %.2f | %.0f |\n' "$raw_rows" "$raw_seconds" "$raw_rate"
printf '| (b) Hermes HTTP → committed rows (%s, %s conns) | %d | %.2f | %.0f |\n' "$DURATION" "$BATCH_CONNS" "$committed" "$hermes_seconds" "$hermes_rate"
printf '\nCPU seconds per 1M rows: (a) postgres %.2f; (b) postgres %.2f, Hermes %.2f (wrk and the OS take the rest of the 2 cores)\n' \
  "$(echo "$raw_pg_cpu * 1000000 / $raw_rows" | bc -l)" "$(echo "$hermes_pg_cpu * 1000000 / $committed" | bc -l)" "$(echo "$hermes_cpu * 1000000 / $committed" | bc -l)"
printf 'ratio (b)/(a): %.2f; accepted %d, committed %d (rows in table %d, rollup total %d); nproc %s, load %s\n' \
  "$(echo "$hermes_rate / $raw_rate" | bc -l)" "$accepted" "$committed" "$total_rows" "$rollups" "$(nproc)" "$(cut -d' ' -f1 /proc/loadavg)"

# (c) Overload, only with OVERLOAD_DURATION set (e.g. 30s): Hermes in strict mode with QUEUE_SIZE=100000, driven by
# more connections than the database can absorb, so the queue stays full and excess load gets 503. Records every
# status (only 202 and 503 are allowed), RSS every 0.5 s (it must stay flat), and afterwards checks that accepted ==
# aggregated (GET /aggregates) == committed rows == rollup total.
if [[ -n ${OVERLOAD_DURATION:-} ]]; then
  kill "$HERMES_PID"; wait "$HERMES_PID" 2>/dev/null || true
  psql_ -d postgres -c "DROP DATABASE hermes" -c "CREATE DATABASE hermes"
  log "overload: strict mode, QUEUE_SIZE=100000, ${OVERLOAD_CONNS:-32} connections for $OVERLOAD_DURATION"
  BACKPRESSURE_MODE=strict QUEUE_SIZE=100000 HTTP_ADDR=127.0.0.1:$HERMES_PORT \
    DB_DSN="postgres://postgres@127.0.0.1:$PG_PORT/hermes?sslmode=disable" SPILL_DIR=$WORK/spill-overload \
    ASPNETCORE_ENVIRONMENT=Production Logging__LogLevel__Default=Warning OTEL_EXPORTER_OTLP_ENDPOINT= \
    dotnet "$OUT_DIR/Hermes.Ingest.dll" > "$BENCH_DIR/out/hermes-overload.log" 2>&1 &
  HERMES_PID=$!
  for _ in $(seq 1 300); do curl -fs "http://127.0.0.1:$HERMES_PORT/alive" >/dev/null 2>&1 && break; sleep 0.1; done
  rss_log=$WORK/rss.txt
  ( while kill -0 "$HERMES_PID" 2>/dev/null; do awk '/VmRSS/ {print $2}' "/proc/$HERMES_PID/status" >> "$rss_log"; sleep 0.5; done ) &
  sampler=$!
  BENCH_RUN_ID=over$BENCH_RUN_ID COUNT_STATUSES=1 wrk -t1 -c"${OVERLOAD_CONNS:-32}" -d"$OVERLOAD_DURATION" --timeout 10s \
    -s "$BENCH_DIR/lua/batch.lua" "http://127.0.0.1:$HERMES_PORT" > "$WORK/wrk-overload.txt"
  statuses=$(grep BENCH_STATUSES "$WORK/wrk-overload.txt")
  accepted=$(metric hermes_events_accepted_total)
  for _ in $(seq 1 1200); do
    (( $(psql_ -d hermes -Atc "SELECT coalesce(sum(count), 0) FROM event_rollup_shards") >= accepted )) && break
    sleep 0.05
  done
  kill "$sampler" 2>/dev/null || true
  aggregated=$(curl -fs "http://127.0.0.1:$HERMES_PORT/aggregates" | python3 -c 'import json,sys; print(sum(json.load(sys.stdin).values()))')
  committed=$(psql_ -d hermes -Atc "SELECT count(*) FROM events")
  rollups=$(psql_ -d hermes -Atc "SELECT coalesce(sum(count), 0) FROM event_rollups")
  n=$(wc -l < "$rss_log")
  printf '\nOverload (%s, %s connections, QUEUE_SIZE=100000, strict): %s\n' "$OVERLOAD_DURATION" "${OVERLOAD_CONNS:-32}" "$statuses"
  printf 'RSS MiB: first quarter max %d, last quarter max %d, overall max %d (%d samples)\n' \
    "$(head -n $(( n / 4 + 1 )) "$rss_log" | sort -n | tail -1 | awk '{print int($1/1024)}')" \
    "$(tail -n $(( n / 4 + 1 )) "$rss_log" | sort -n | tail -1 | awk '{print int($1/1024)}')" \
    "$(sort -n "$rss_log" | tail -1 | awk '{print int($1/1024)}')" "$n"
  printf 'accepted %d, aggregated %d, committed %d, rollup total %d\n' "$accepted" "$aggregated" "$committed" "$rollups"
fi
