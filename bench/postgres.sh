#!/usr/bin/env bash
# PostgreSQL load comparison on one throwaway PostgreSQL 15 server at its defaults, every figure from one run:
#   (a) raw COPY: bench/RawCopy writing the same kind of rows and ids (random UUIDv4 by default) into the same
#       schema Hermes creates, with binary COPY from memory: the database's own ceiling on this machine;
#   (b) Hermes end to end: the published build at its defaults, started from / as a service would be, with wrk
#       posting 1,000-event NDJSON batches (bench/lua/batch.lua); committed rows are read from the rollups, which
#       commit with their rows.
# Both print rows/s and WAL bytes per row for every REPORT seconds, so a rate that falls as the table grows shows.
#
#   bench/postgres.sh                          # quick: 15 s each, empty table
#   SCENARIO=sustained bench/postgres.sh       # 4 min each against a growing table, with the pass/fail summary
#   SCENARIO=prefilled bench/postgres.sh       # sustained, then ~100M rows loaded (PREFILL_ROWS), then Hermes again
#   IDS=clustered bench/postgres.sh            # ids that sort together ("<run>-<thread>-<req>-<i>"): flatters a B-tree
#   OVERLOAD_DURATION=30s bench/postgres.sh    # also: strict mode, more connections than the database absorbs
#   WORKER_COUNT=4 BATCH_SIZE=5000 bench/postgres.sh   # Hermes settings pass through (then it is not "as shipped")
#
# Needs postgresql-15, wrk, bc and the .NET SDK. Runs as root; the server runs as the postgres user (setpriv) in a
# temp directory that is deleted at the end (PG_DIR moves it: the pre-filled table takes ~25 GB).
set -euo pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_DIR=$(dirname "$BENCH_DIR")
PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}
SCENARIO=${SCENARIO:-quick}
case $SCENARIO in
  quick) DEFAULT_DURATION=15 ;;
  sustained|prefilled) DEFAULT_DURATION=240 ;;
  *) echo "SCENARIO must be quick, sustained or prefilled" >&2; exit 2 ;;
esac
DURATION=${DURATION:-$DEFAULT_DURATION}   # seconds
DURATION=${DURATION%s}
REPORT=${REPORT:-10}
PREFILL_ROWS=${PREFILL_ROWS:-100000000}
BATCH_CONNS=${BATCH_CONNS:-8}
RAW_CONNS=${RAW_CONNS:-2}
PG_PORT=${PG_PORT:-55432}
HERMES_PORT=${HERMES_PORT:-5081}
SKIP_BUILD=${SKIP_BUILD:-0}
OUT_DIR=$BENCH_DIR/out/hermes-postgres
RAW_DIR=$BENCH_DIR/out/rawcopy
RESULTS=$BENCH_DIR/results/postgres-$(date +%Y%m%d-%H%M%S)
export IDS=${IDS:-uuid}
export BENCH_RUN_ID=${BENCH_RUN_ID:-pg$(date +%s)}
export BATCH_EVENTS=${BATCH_EVENTS:-1000}
mkdir -p "$RESULTS"
WORK=$(mktemp -d "${PG_DIR:-/tmp}/hermes-bench-pg.XXXXXX")

log() { printf '[postgres.sh] %s\n' "$*" >&2; }
as_pg() { setpriv --reuid=postgres --regid=postgres --init-groups "$@"; }
psql_() { "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PG_PORT" -U postgres "$@"; }
now() { date +%s.%N; }
ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat" 2>/dev/null || echo 0; }
# Live postgres processes, plus the postmaster's reaped children (a backend's CPU lands there when it exits).
pg_ticks() {
  local t=0 p master; master=$(head -1 "$WORK/data/postmaster.pid")
  for p in $(pgrep -u postgres); do t=$(( t + $(ticks "$p") )); done
  echo $(( t + $(awk '{ print $16 + $17 }' "/proc/$master/stat") ))
}
HZ=$(getconf CLK_TCK)
wal() { psql_ -d postgres -Atc "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')::bigint"; }
committed() { psql_ -d "$1" -Atc "SELECT coalesce(sum(count), 0) FROM event_rollup_shards"; }

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
  log "building Hermes.Ingest and RawCopy (Release)"
  dotnet publish "$REPO_DIR/Hermes.Ingest/Hermes.Ingest.csproj" -c Release -o "$OUT_DIR" --nologo -v q >/dev/null
  dotnet publish "$BENCH_DIR/RawCopy/RawCopy.csproj" -c Release -o "$RAW_DIR" --nologo -v q >/dev/null
fi

log "starting PostgreSQL 15 (its default settings) on 127.0.0.1:$PG_PORT in $WORK"
chown postgres:postgres "$WORK"
as_pg "$PG_BIN/initdb" -D "$WORK/data" -U postgres --auth=trust --encoding=UTF8 >/dev/null
as_pg "$PG_BIN/pg_ctl" -D "$WORK/data" -l "$WORK/postgres.log" -w -o "-p $PG_PORT -k $WORK -c listen_addresses=127.0.0.1" start >/dev/null
psql_ -c "CREATE DATABASE raw" -c "CREATE DATABASE hermes"
dsn() { echo "postgres://postgres@127.0.0.1:$PG_PORT/$1?sslmode=disable"; }

# Hermes as shipped: the published build, its defaults, started from / (no working directory of its own).
start_hermes() { # database, log file
  (cd / && HTTP_ADDR=127.0.0.1:$HERMES_PORT DB_DSN="$(dsn "$1")" SPILL_DIR=$WORK/spill-$1 OTEL_EXPORTER_OTLP_ENDPOINT= \
    exec dotnet "$OUT_DIR/Hermes.Ingest.dll") > "$2" 2>&1 &
  HERMES_PID=$!
  for _ in $(seq 1 300); do curl -fs "http://127.0.0.1:$HERMES_PORT/health" >/dev/null 2>&1 && return; sleep 0.1; done
  log "Hermes did not become healthy; see $2"; exit 1
}
stop_hermes() { kill "$HERMES_PID"; wait "$HERMES_PID" 2>/dev/null || true; HERMES_PID=; }
metric() { curl -fs "http://127.0.0.1:$HERMES_PORT/metrics" | awk -v m="$1" '$1 ~ "^"m"[{ ]" || $1 == m {s += $2} END {print s + 0}'; }

# The same schema Hermes uses: let Hermes create it (migrations and today's partitions), then stop it.
start_hermes raw "$RESULTS/hermes-schema.log"
for _ in $(seq 1 300); do
  (( $(psql_ -d raw -Atc "SELECT count(*) FROM pg_inherits WHERE inhparent = to_regclass('events')") >= 3 )) && break; sleep 0.1
done
stop_hermes

# Prints "t=<s> rows=<committed> rows_per_s=<rate> wal_bytes_per_row=<wal>" for every whole REPORT s while $1 (a pid)
# runs; a last part-interval after the load stopped is not printed (it would read as a drop in rate).
watch_rows() { # pid, database
  local rows0 wal0 t0 rows wal t start next; start=$(now); rows0=$(committed "$2"); wal0=$(wal); t0=$start
  while kill -0 "$1" 2>/dev/null; do
    next=$(echo "$t0 + $REPORT" | bc -l)
    while kill -0 "$1" 2>/dev/null && (( $(echo "$(now) < $next" | bc -l) )); do sleep 0.2; done
    kill -0 "$1" 2>/dev/null || break
    rows=$(committed "$2"); wal=$(wal); t=$(now)
    awk -v t="$t" -v s="$start" -v t0="$t0" -v r="$rows" -v r0="$rows0" -v w="$wal" -v w0="$wal0" 'BEGIN {
      d = r - r0; printf "t=%.0fs rows=%d rows_per_s=%.0f wal_bytes_per_row=%.0f\n", t - s, r, d / (t - t0), (d > 0 ? (w - w0) / d : 0) }'
    rows0=$rows; wal0=$wal; t0=$t
  done
}

# (a) raw COPY.
log "(a) raw COPY, $IDS ids, $RAW_CONNS connections, ${DURATION}s"
pg_before=$(pg_ticks)
dotnet "$RAW_DIR/RawCopy.dll" --dsn "Host=127.0.0.1;Port=$PG_PORT;Username=postgres;Database=raw" --seconds "$DURATION" \
  --connections "$RAW_CONNS" --ids "$IDS" --report "$REPORT" | tee "$RESULTS/raw.txt" >&2
raw_pg_cpu=$(echo "($(pg_ticks) - $pg_before) / $HZ" | bc -l)
# Its tens of millions of rows are of no further use, and left in place autovacuum vacuums and analyses them while (b)
# runs (seen at 5-6% of a core, and counted in (b)'s postgres CPU). Hermes's own table keeps its autovacuum: users get it too.
psql_ -c "DROP DATABASE raw WITH (FORCE)"

# (b) Hermes end to end. Returns after the load stops and every accepted event is committed.
run_hermes() { # label, database
  local label=$1 db=$2 file=$RESULTS/hermes-$1.txt accepted0 accepted start pg0 h0 wrk_pid watcher
  start_hermes "$db" "$RESULTS/hermes-$label.log"
  BENCH_RUN_ID=warm$BENCH_RUN_ID wrk -t1 -c2 -d3s -s "$BENCH_DIR/lua/batch.lua" "http://127.0.0.1:$HERMES_PORT" >/dev/null
  for _ in $(seq 1 200); do (( $(metric hermes_events_flushed_total) >= $(metric hermes_events_accepted_total) )) && break; sleep 0.05; done
  accepted0=$(metric hermes_events_accepted_total); rows0=$(committed "$db")
  log "(b:$label) Hermes, $IDS ids, wrk -c$BATCH_CONNS × $BATCH_EVENTS-event batches for ${DURATION}s ($rows0 rows in the table)"
  start=$(now); pg0=$(pg_ticks); h0=$(ticks "$HERMES_PID")
  timeout $(( DURATION + 60 )) wrk -t1 -c"$BATCH_CONNS" -d"${DURATION}s" --timeout 30s -s "$BENCH_DIR/lua/batch.lua" \
    "http://127.0.0.1:$HERMES_PORT" > "$RESULTS/wrk-$label.txt" &
  wrk_pid=$!
  watch_rows "$wrk_pid" "$db" | tee "$file" >&2
  wait "$wrk_pid" || true
  accepted=$(( $(metric hermes_events_accepted_total) - accepted0 ))
  for _ in $(seq 1 1200); do (( $(committed "$db") - rows0 >= accepted )) && break; sleep 0.05; done
  seconds=$(echo "$(now) - $start" | bc -l)
  rows=$(( $(committed "$db") - rows0 ))
  pg_cpu=$(echo "($(pg_ticks) - $pg0) / $HZ" | bc -l); h_cpu=$(echo "($(ticks "$HERMES_PID") - $h0) / $HZ" | bc -l)
  printf 'RESULT %s accepted=%d committed=%d seconds=%.1f rows_per_s=%.0f pg_cpu_s_per_1M=%.2f hermes_cpu_s_per_1M=%.2f rejected_503=%d\n' \
    "$label" "$accepted" "$rows" "$seconds" "$(echo "$rows / $seconds" | bc -l)" "$(echo "$pg_cpu * 1000000 / $rows" | bc -l)" \
    "$(echo "$h_cpu * 1000000 / $rows" | bc -l)" "$(metric 'hermes_events_rejected_total{reason="queue_full"}')" | tee -a "$RESULTS/summary.txt" >&2
  stop_hermes
}

# Pass/fail of the sustained run from its 10-s lines: 30-s windows after the first minute, the last 30 s against the
# best, WAL per row in the last minute against the first full minute.
judge() { # file
  awk -v report="$REPORT" '/^t=/ { split($3, r, "="); split($4, w, "="); rate[++n] = r[2]; walr[n] = w[2] }
    END {
      per = int(30 / report); if (per < 1) per = 1; first = int(60 / report); best = 0; worst = 1e12
      for (i = first + 1; i + per - 1 <= n; i += per) { s = 0; for (j = i; j < i + per; j++) s += rate[j]; s /= per
        if (s > best) best = s; if (s < worst) worst = s; last = s }
      m = int(60 / report); a = 0; b = 0
      for (j = first + 1; j <= first + m && j <= n; j++) a += walr[j]; for (j = n - m + 1; j <= n; j++) b += walr[j]
      printf "30-s windows after the first minute: min %.0f, best %.0f, last %.0f rows/s (last/best %.2f); ", worst, best, last, last / best
      printf "WAL bytes/row: first full minute %.0f, last minute %.0f (%.2fx)\n", a / m, b / m, (b / m) / (a / m) }' "$1"
}

run_hermes empty hermes
raw_rate=$(sed -n 's/.*rows_per_s=\([0-9]*\) .*/\1/p' "$RESULTS/raw.txt" | tail -1)
hermes_rate=$(sed -n 's/^RESULT empty .*rows_per_s=\([0-9]*\) .*/\1/p' "$RESULTS/summary.txt")
if [[ $SCENARIO == prefilled ]]; then
  have=$(committed hermes); todo=$(( PREFILL_ROWS - have ))
  log "pre-filling to $PREFILL_ROWS rows ($todo more, timestamps rising over the last 2 hours, $IDS ids)"
  dotnet "$RAW_DIR/RawCopy.dll" --dsn "Host=127.0.0.1;Port=$PG_PORT;Username=postgres;Database=hermes" --rows "$todo" \
    --ts-from -7200 --connections 2 --rows-per-copy 50000 --ids "$IDS" --report 60 >&2
  # RawCopy writes no rollups; count its rows in, so committed() stays the table's row count.
  psql_ -d hermes -c "INSERT INTO event_rollup_shards VALUES ('prefill', now(), 999, $todo)"
  psql_ -d hermes -c "CHECKPOINT"
  run_hermes prefilled hermes
fi

{
  printf '\n| %s ids, PostgreSQL 15 defaults, %s s | rows/s | vs raw COPY (same run) |\n|---|---:|---:|\n' "$IDS" "$DURATION"
  printf '| (a) raw binary COPY, %s connections | %s | — |\n' "$RAW_CONNS" "$raw_rate"
  printf '| (b) Hermes HTTP → committed rows, empty table at start | %s | %.2f× |\n' "$hermes_rate" "$(echo "$hermes_rate / $raw_rate" | bc -l)"
  if [[ $SCENARIO == prefilled ]]; then
    pre=$(sed -n 's/^RESULT prefilled .*rows_per_s=\([0-9]*\) .*/\1/p' "$RESULTS/summary.txt")
    printf '| (b) Hermes, %s rows in the table at start | %s | %.2f× (%.2f× the empty-table run) |\n' "$PREFILL_ROWS" "$pre" \
      "$(echo "$pre / $raw_rate" | bc -l)" "$(echo "$pre / $hermes_rate" | bc -l)"
  fi
  printf '\nraw COPY: postgres CPU %.2f s per 1M rows. nproc %s, load %s, %s\n' "$(echo "$raw_pg_cpu * 1000000 / $(sed -n 's/.*RAWCOPY_RESULT rows=\([0-9]*\).*/\1/p' "$RESULTS/raw.txt")" | bc -l)" \
    "$(nproc)" "$(cut -d' ' -f1 /proc/loadavg)" "$(date -Is)"
  cat "$RESULTS/summary.txt"
  if [[ $SCENARIO != quick ]]; then
    printf 'raw:       '; judge "$RESULTS/raw.txt"
    printf 'empty:     '; judge "$RESULTS/hermes-empty.txt"
    [[ $SCENARIO == prefilled ]] && { printf 'prefilled: '; judge "$RESULTS/hermes-prefilled.txt"; }
  fi
} | tee -a "$RESULTS/report.md"

# (c) Overload, only with OVERLOAD_DURATION set (e.g. 30s): Hermes in strict mode with QUEUE_SIZE=100000, driven by
# more connections than the database can absorb and no pause after a 503, so the queue stays full and excess load
# gets 503. Records every status (only 202 and 503 are allowed), RSS every 0.5 s (it must stay flat), and afterwards
# checks that accepted == aggregated (GET /aggregates) == committed rows == rollup total.
if [[ -n ${OVERLOAD_DURATION:-} ]]; then
  psql_ -d postgres -c "CREATE DATABASE overload"
  log "overload: strict mode, QUEUE_SIZE=100000, ${OVERLOAD_CONNS:-32} connections for $OVERLOAD_DURATION"
  BACKPRESSURE_MODE=strict QUEUE_SIZE=100000 start_hermes overload "$RESULTS/hermes-overload.log"
  rss_log=$WORK/rss.txt
  ( while kill -0 "$HERMES_PID" 2>/dev/null; do awk '/VmRSS/ {print $2}' "/proc/$HERMES_PID/status" >> "$rss_log"; sleep 0.5; done ) &
  sampler=$!
  BENCH_RUN_ID=over$BENCH_RUN_ID COUNT_STATUSES=1 PAUSE_ON_503_MS=0 wrk -t1 -c"${OVERLOAD_CONNS:-32}" -d"$OVERLOAD_DURATION" --timeout 10s \
    -s "$BENCH_DIR/lua/batch.lua" "http://127.0.0.1:$HERMES_PORT" > "$WORK/wrk-overload.txt"
  statuses=$(grep BENCH_STATUSES "$WORK/wrk-overload.txt")
  accepted=$(metric hermes_events_accepted_total)
  for _ in $(seq 1 1200); do (( $(committed overload) >= accepted )) && break; sleep 0.05; done
  kill "$sampler" 2>/dev/null || true
  aggregated=$(curl -fs "http://127.0.0.1:$HERMES_PORT/aggregates" | python3 -c 'import json,sys; print(sum(json.load(sys.stdin).values()))')
  rows=$(psql_ -d overload -Atc "SELECT count(*) FROM events")
  rollups=$(committed overload)
  n=$(wc -l < "$rss_log")
  {
    printf '\nOverload (%s, %s connections, QUEUE_SIZE=100000, strict): %s\n' "$OVERLOAD_DURATION" "${OVERLOAD_CONNS:-32}" "$statuses"
    printf 'RSS MiB: first quarter max %d, last quarter max %d, overall max %d (%d samples)\n' \
      "$(head -n $(( n / 4 + 1 )) "$rss_log" | sort -n | tail -1 | awk '{print int($1/1024)}')" \
      "$(tail -n $(( n / 4 + 1 )) "$rss_log" | sort -n | tail -1 | awk '{print int($1/1024)}')" \
      "$(sort -n "$rss_log" | tail -1 | awk '{print int($1/1024)}')" "$n"
    printf 'accepted %d, aggregated %d, rows %d, rollup total %d\n' "$accepted" "$aggregated" "$rows" "$rollups"
  } | tee -a "$RESULTS/report.md"
  stop_hermes
fi
log "results in $RESULTS"
