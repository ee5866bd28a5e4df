#!/usr/bin/env bash
# How exact is RATE_LIMIT_PER_KEY? For each rate, starts Hermes.Ingest (Release, published) with that limit and has one
# producer (wrk, one connection) post single events back to back for DURATION: the observed rate is
# (accepted − burst) / duration, the burst being RATE_LIMIT_BURST's default, one second's worth. With BEFORE=<git rev>
# the same is measured for that revision in the same run.
#
#   flock /tmp/hermes-bench.lock bench/rate-limit.sh
#   RATES="0.5 4 15 25 1000" DURATION=10s BEFORE=05eecd9 flock /tmp/hermes-bench.lock bench/rate-limit.sh
set -euo pipefail

source "$(dirname "${BASH_SOURCE[0]}")/published.sh"
RATES=${RATES:-0.5 4 15 25 1000}
DURATION=${DURATION:-10s}
PORT=${PORT:-5082}

# measure <build> <rate>: prints "accepted observed-rate"
measure() {
    local build=$1 rate=$2 line requests non2xx us burst
    (cd "$OUT/$build" && exec env -u ASPNETCORE_URLS -u OTEL_EXPORTER_OTLP_ENDPOINT ASPNETCORE_ENVIRONMENT=Production \
        HTTP_ADDR="127.0.0.1:$PORT" RATE_LIMIT_PER_KEY="$rate" dotnet Hermes.Ingest.dll) > "$OUT/server.log" 2>&1 &
    PID=$!
    wait_http "$PORT"
    line=$(wrk -t1 -c1 -d"$DURATION" -s "$BENCH_DIR/lua/single.lua" "http://127.0.0.1:$PORT" | sed -n 's/^BENCH_RESULT //p')
    stop
    requests=$(result requests "$line")
    non2xx=$(result non2xx3xx "$line")
    us=$(result duration_us "$line")
    burst=$(awk -v r="$rate" 'BEGIN { b = int(r); if (b < r) b++; if (b < 1) b = 1; print b }')
    awk -v n="$requests" -v f="$non2xx" -v b="$burst" -v us="$us" 'BEGIN { a = n - f; printf "%d %.2f", a, (a - b) / (us / 1e6) }'
}

log "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
publish "$REPO_DIR/Hermes.Ingest" "$OUT/current"
builds=(current)
if [[ -n $BEFORE ]]; then
    publish_before "$OUT/before"
    builds+=(before)
fi

header="| RATE_LIMIT_PER_KEY (burst) | accepted in $DURATION, this tree | observed /s, this tree |"
rule="|---:|---:|---:|"
if [[ -n $BEFORE ]]; then header+=" accepted, $BEFORE | observed /s, $BEFORE |"; rule+="---:|---:|"; fi
rows=()
for rate in $RATES; do
    row="| $rate ($(awk -v r="$rate" 'BEGIN { b = int(r); if (b < r) b++; if (b < 1) b = 1; print b }')) |"
    for build in "${builds[@]}"; do
        read -r accepted observed <<<"$(measure "$build" "$rate")"
        log "$build at $rate/s: $accepted accepted, $observed/s after the burst"
        row+=" $accepted | $observed |"
    done
    rows+=("$row")
done
log "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "$header"
echo "$rule"
printf '%s\n' "${rows[@]}"
