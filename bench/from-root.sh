#!/usr/bin/env bash
# Does Hermes behave the same wherever it is started? Publishes BareBaseline and Hermes.Ingest (Release), then in one
# run, one server at a time, drives each with the same wrk single-event load: the baseline, Hermes started from its
# own folder, and Hermes started from / (as a systemd unit without WorkingDirectory starts it). With BEFORE=<git rev>
# it also builds that revision and runs it both ways, to show what the content-root fix changes.
#
#   flock /tmp/hermes-bench.lock bench/from-root.sh
#   BEFORE=05eecd9 DURATION=15s WARMUP=5s flock /tmp/hermes-bench.lock bench/from-root.sh
#
# Load only targets 127.0.0.1 and every wrk run stops by itself. Prints a markdown table: requests/s, the ratio to the
# baseline, and how many lines the server logged.
set -euo pipefail

source "$(dirname "${BASH_SOURCE[0]}")/published.sh"
DURATION=${DURATION:-15s}
WARMUP=${WARMUP:-5s}
CONNS=${CONNS:-64}
PORT=${PORT:-5081}

# run <label> <dll> <working directory> [VAR=value ...]: one server, warm-up, one measured wrk run, one table row.
run() {
    local label=$1 dll=$2 dir=$3 line requests non2xx seconds lines
    shift 3
    (cd "$dir" && exec env -u ASPNETCORE_URLS -u OTEL_EXPORTER_OTLP_ENDPOINT ASPNETCORE_ENVIRONMENT=Production "$@" dotnet "$dll") > "$OUT/server.log" 2>&1 &
    PID=$!
    wait_http "$PORT"
    wrk -t1 -c"$CONNS" -d"$WARMUP" -s "$BENCH_DIR/lua/single.lua" "http://127.0.0.1:$PORT" > /dev/null 2>&1 || true
    line=$(wrk -t1 -c"$CONNS" -d"$DURATION" -s "$BENCH_DIR/lua/single.lua" "http://127.0.0.1:$PORT" | sed -n 's/^BENCH_RESULT //p')
    stop
    requests=$(result requests "$line")
    non2xx=$(result non2xx3xx "$line")
    seconds=$(result duration_us "$line")
    lines=$(wc -l < "$OUT/server.log")
    RPS=$(awk -v n="$requests" -v us="$seconds" 'BEGIN { printf "%.0f", n / (us / 1e6) }')
    log "$label: $RPS req/s, $non2xx non-2xx, $lines log lines"
    if [[ -z ${BASE:-} ]]; then BASE=$RPS; fi
    printf '| %s | %s | %s | %s | %s |\n' "$label" "$RPS" "$(awk -v a="$RPS" -v b="$BASE" 'BEGIN { printf "%.2f×", a / b }')" "$non2xx" "$lines" >> "$OUT/table.md"
}

log "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
publish "$BENCH_DIR/BareBaseline" "$OUT/BareBaseline"
publish "$REPO_DIR/Hermes.Ingest" "$OUT/hermes"
if [[ -n $BEFORE ]]; then publish_before "$OUT/before"; fi

echo "| server (wrk -t1 -c$CONNS -d$DURATION, single.lua) | requests/s | vs baseline | non-2xx | log lines |" > "$OUT/table.md"
echo "|---|---:|---:|---:|---:|" >> "$OUT/table.md"
BASE=
run "BareBaseline" "$OUT/BareBaseline/BareBaseline.dll" "$OUT/BareBaseline" ASPNETCORE_URLS="http://127.0.0.1:$PORT"
run "Hermes, started from its folder" "$OUT/hermes/Hermes.Ingest.dll" "$OUT/hermes" HTTP_ADDR="127.0.0.1:$PORT"
run "Hermes, started from /" "$OUT/hermes/Hermes.Ingest.dll" / HTTP_ADDR="127.0.0.1:$PORT"
if [[ -n $BEFORE ]]; then
    run "Hermes at $BEFORE, started from its folder" "$OUT/before/Hermes.Ingest.dll" "$OUT/before" HTTP_ADDR="127.0.0.1:$PORT"
    run "Hermes at $BEFORE, started from /" "$OUT/before/Hermes.Ingest.dll" / HTTP_ADDR="127.0.0.1:$PORT"
fi
log "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
cat "$OUT/table.md"
