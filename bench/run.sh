#!/usr/bin/env bash
# Load runner: measures Hermes.Ingest next to BareBaseline (Kestrel that only drains the body) in the same run,
# on the same machine, with the same load generator, and prints one markdown table.
#
#   bench/run.sh                      # full run, 15 s per scenario
#   DURATION=5s WARMUP=2s bench/run.sh
#   SKIP_HERMES=1 bench/run.sh        # baseline only (e.g. while Hermes does not build)
#   QUEUE_SIZE=100000 BATCH_SIZE=500 bench/run.sh   # Hermes config is passed through
#
# Load only ever targets 127.0.0.1, and every load command stops by itself (wrk -d, hey -z, plus `timeout`).
# Raw outputs land in bench/results/<UTC timestamp>/ (git-ignored); bench/results/latest points at the newest.
set -euo pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_DIR=$(dirname "$BENCH_DIR")

DURATION=${DURATION:-15s}
WARMUP=${WARMUP:-3s}                 # unmeasured run before each measured one, so tiered JIT/PGO has settled; 0 skips
THREADS=${THREADS:-1}                # wrk threads: 1, because wrk shares the 2 cores with the server
CONNS=${CONNS:-64}
BATCH_CONNS=${BATCH_CONNS:-8}        # 8 × ~120 KB bodies in flight already saturate the server
BATCH_EVENTS=${BATCH_EVENTS:-1000}
# 16, not 64: hey (a Go process on the same 2 cores) queues requests itself at -c64 and puts 3 ms into the bare
# baseline's p99 too; at -c16 the figure is the server's.
LATENCY_CONNS=${LATENCY_CONNS:-16}
LATENCY_FRACTION=${LATENCY_FRACTION:-50}   # (e) runs at this percent of (b)'s max rate
BASELINE_PORT=${BASELINE_PORT:-5199}
HERMES_PORT=${HERMES_PORT:-5080}
STARTUP_TIMEOUT=${STARTUP_TIMEOUT:-60}
SKIP_HERMES=${SKIP_HERMES:-0}
SERVER_CPUS=${SERVER_CPUS:-}         # e.g. 0: pin both servers with taskset -c; default unpinned, like production
LOAD_CPUS=${LOAD_CPUS:-}             # e.g. 1: pin wrk/hey, so the load generator cannot steal the server's core
SKIP_BUILD=${SKIP_BUILD:-0}
HERMES_PROJECT=${HERMES_PROJECT:-$REPO_DIR/Hermes.Ingest/Hermes.Ingest.csproj}
BASELINE_PROJECT=$BENCH_DIR/BareBaseline/BareBaseline.csproj

BASELINE_URL=http://127.0.0.1:$BASELINE_PORT
HERMES_URL=http://127.0.0.1:$HERMES_PORT
OUT_DIR=$BENCH_DIR/out
STAMP=$(date -u +%Y%m%dT%H%M%SZ)
RESULTS=$BENCH_DIR/results/$STAMP
PHASE_FILE=$RESULTS/.phase
COMMANDS_FILE=$RESULTS/commands.txt
# One id prefix for the whole run, so events from different runs never share ids (Hermes may deduplicate).
export BENCH_RUN_ID=${BENCH_RUN_ID:-$(date +%s)}
export BATCH_EVENTS

mkdir -p "$RESULTS"
ln -sfn "$STAMP" "$BENCH_DIR/results/latest"
: > "$COMMANDS_FILE"
echo idle > "$PHASE_FILE"

SERVER_PIN=()
LOAD_PIN=()
if [[ -n $SERVER_CPUS ]]; then SERVER_PIN=(taskset -c "$SERVER_CPUS"); fi
if [[ -n $LOAD_CPUS ]]; then LOAD_PIN=(taskset -c "$LOAD_CPUS"); fi

declare -A PIDS=()        # name -> pid of every process this script started
declare -A R=()           # "<scenario>.<field>" -> value
declare -a SCENARIOS=()   # table rows, in run order

log() { printf '[%(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# Logs a command exactly as run (shell-quoted) so the summary can list it.
record() {
    local quoted
    printf -v quoted '%q ' "$@"
    echo "${quoted% }" >> "$COMMANDS_FILE"
}

cleanup() {
    local name pid
    for name in "${!PIDS[@]}"; do
        pid=${PIDS[$name]}
        kill -TERM "$pid" 2>/dev/null || true
    done
    for name in "${!PIDS[@]}"; do
        pid=${PIDS[$name]}
        for _ in {1..50}; do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    rm -f "$PHASE_FILE"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# wrk/hey durations ("15s", "2m", "1h", "30") to whole seconds.
to_seconds() {
    local d=$1
    case $d in
        *h) echo $(( ${d%h} * 3600 )) ;;
        *m) echo $(( ${d%m} * 60 )) ;;
        *s) echo $(( ${d%s} )) ;;
        *) echo $(( d )) ;;
    esac
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# --- build -------------------------------------------------------------------------------------------------------

publish() {
    local name=$1 project=$2 attempt
    local cmd=(dotnet publish "$project" -c Release -o "$OUT_DIR/$name" --nologo)
    record "${cmd[@]}"
    # Two tries: a build running at the same time in the same obj/ folder (an IDE, the other half of the team)
    # can make publish exit 0 without copying the app.
    for attempt in 1 2; do
        log "publishing $name (attempt $attempt)"
        rm -f "$OUT_DIR/$name/$name.dll"
        if "${cmd[@]}" > "$RESULTS/build-$name.log" 2>&1 && [[ -f $OUT_DIR/$name/$name.dll ]]; then
            return 0
        fi
        sleep 2
    done
    tail -n 30 "$RESULTS/build-$name.log" >&2
    return 1
}

build_all() {
    if [[ $SKIP_BUILD == 1 ]]; then
        log "SKIP_BUILD=1: using existing $OUT_DIR"
        return
    fi
    publish BareBaseline "$BASELINE_PROJECT" || die "BareBaseline did not build"
    if [[ $SKIP_HERMES != 1 ]]; then
        publish Hermes.Ingest "$HERMES_PROJECT" \
            || die "Hermes.Ingest did not build (see $RESULTS/build-Hermes.Ingest.log); SKIP_HERMES=1 runs the baseline only"
    fi
}

# --- servers -----------------------------------------------------------------------------------------------------

# start_server <name> <dll> [VAR=value ...] -- [args ...]
start_server() {
    local name=$1 dll=$2
    shift 2
    local envs=() args=()
    while [[ $# -gt 0 && $1 != -- ]]; do envs+=("$1"); shift; done
    [[ ${1:-} == -- ]] && shift
    args=("$@")
    [[ -f $dll ]] || die "$dll not found (build skipped or failed?)"
    # -u: a URL inherited from the caller's shell would override --urls / HTTP_ADDR and move the server.
    # OTLP is unset so a leftover Aspire session does not make the benchmark export telemetry.
    local cmd=("${SERVER_PIN[@]}" env -u ASPNETCORE_URLS -u DOTNET_URLS -u ASPNETCORE_HTTP_PORTS -u OTEL_EXPORTER_OTLP_ENDPOINT
        "${envs[@]}" dotnet "$dll" "${args[@]}")
    record "${cmd[@]}"
    "${cmd[@]}" > "$RESULTS/server-$name.log" 2>&1 &
    PIDS[$name]=$!
    log "started $name (pid ${PIDS[$name]})"
}

# wait_ready <name> <port> [url]: the port for the baseline, an HTTP 200 for Hermes.
wait_ready() {
    local name=$1 port=$2 url=${3:-} deadline=$((SECONDS + STARTUP_TIMEOUT))
    while (( SECONDS < deadline )); do
        if ! kill -0 "${PIDS[$name]}" 2>/dev/null; then
            tail -n 30 "$RESULTS/server-$name.log" >&2
            die "$name exited during startup"
        fi
        if [[ -n $url ]]; then
            curl -fsS -o /dev/null --max-time 2 "$url" 2>/dev/null && { log "$name is up ($url)"; return; }
        else
            port_open "$port" && { log "$name is up (port $port)"; return; }
        fi
        sleep 0.2
    done
    tail -n 30 "$RESULTS/server-$name.log" >&2
    die "$name did not become ready within ${STARTUP_TIMEOUT}s"
}

# Samples VmRSS every 200 ms, tagged with the current phase, until the process exits.
# Uses only builtins apart from sleep, so it costs nothing measurable on 2 cores.
start_rss_sampler() {
    local name=$1 pid=${PIDS[$1]} out=$RESULTS/rss-$1.txt
    (
        while [[ -r /proc/$pid/status ]]; do
            read -r phase 2>/dev/null < "$PHASE_FILE" || phase=unknown
            while read -r key value _; do
                [[ $key == VmRSS: ]] && { echo "$phase $value"; break; }
            done < "/proc/$pid/status" 2>/dev/null || true
            sleep 0.2
        done
    ) > "$out" &
    PIDS[rss-$name]=$!
}

set_phase() { echo "$1" > "$PHASE_FILE"; }

# max_rss_mib <server> [phase]: max sampled RSS, over one phase or the whole run.
max_rss_mib() {
    local file=$RESULTS/rss-$1.txt phase=${2:-}
    [[ -s $file ]] || { echo "n/a"; return; }
    awk -v p="$phase" '(p == "" || $1 == p) && $2 > m { m = $2 } END { if (m) printf "%.0f", m / 1024; else print "n/a" }' "$file"
}

# --- load --------------------------------------------------------------------------------------------------------

# warm_up <scenario> <lua script> <base url> <conns>: an unmeasured run, so tiered JIT and PGO have settled.
warm_up() {
    local scenario=$1 script=$2 url=$3 conns=$4 secs
    [[ $WARMUP == 0 ]] && return 0
    secs=$(to_seconds "$WARMUP")
    log "$scenario: warm-up $WARMUP"
    set_phase "$scenario.warmup"
    timeout -k 5 $((secs + 30)) "${LOAD_PIN[@]}" wrk -t"$THREADS" -c"$conns" -d"$WARMUP" -s "$script" "$url" \
        > "$RESULTS/$scenario.warmup.txt" 2>&1 || log "$scenario: warm-up failed (see $RESULTS/$scenario.warmup.txt)"
    set_phase idle
    sleep 1
}

# run_wrk <scenario> <label> <lua script> <base url> <conns> <events per request>
run_wrk() {
    local scenario=$1 label=$2 script=$3 url=$4 conns=$5 events=$6
    local secs limit
    local cmd=("${LOAD_PIN[@]}" wrk -t"$THREADS" -c"$conns" -d"$DURATION" --latency -s "$script" "$url")
    record "${cmd[@]}"
    secs=$(to_seconds "$DURATION")
    limit=$((secs + 30))
    log "$scenario: ${cmd[*]}"
    set_phase "$scenario"
    timeout -k 5 "$limit" "${cmd[@]}" > "$RESULTS/$scenario.txt" 2>&1 || log "$scenario: wrk exited non-zero"
    set_phase idle
    parse_wrk "$scenario" "$label" "$events"
}

parse_wrk() {
    local scenario=$1 label=$2 events=$3 line kv
    line=$(sed -n 's/^BENCH_RESULT //p' "$RESULTS/$scenario.txt")
    if [[ -z $line ]]; then
        log "$scenario: no BENCH_RESULT line; raw output:"
        cat "$RESULTS/$scenario.txt" >&2
        R[$scenario.failed]=1
    else
        for kv in $line; do R[$scenario.${kv%%=*}]=${kv#*=}; done
        local ok=$(( R[$scenario.requests] - R[$scenario.non2xx3xx] ))
        local errors=$(( R[$scenario.connect_err] + R[$scenario.read_err] + R[$scenario.write_err] + R[$scenario.timeout_err] ))
        R[$scenario.ok]=$ok
        R[$scenario.errors]="${R[$scenario.non2xx3xx]} / $errors"
        R[$scenario.rps]=$(awk -v n="${R[$scenario.requests]}" -v us="${R[$scenario.duration_us]}" 'BEGIN { printf "%.0f", n / (us / 1e6) }')
        R[$scenario.eps]=$(awk -v n="$ok" -v e="$events" -v us="${R[$scenario.duration_us]}" 'BEGIN { printf "%.0f", n * e / (us / 1e6) }')
        R[$scenario.p50]=$(awk -v us="${R[$scenario.p50_us]}" 'BEGIN { printf "%.2f ms", us / 1000 }')
        R[$scenario.p99]=$(awk -v us="${R[$scenario.p99_us]}" 'BEGIN { printf "%.2f ms", us / 1000 }')
        log "$scenario: ${R[$scenario.rps]} req/s, ${R[$scenario.eps]} events/s, p50 ${R[$scenario.p50]}, p99 ${R[$scenario.p99]}, non-2xx/socket errors ${R[$scenario.errors]}"
    fi
    R[$scenario.label]=$label
    SCENARIOS+=("$scenario")
}

# run_fixed_rate <scenario> <label> <base url> <rate>: latency at a fixed request rate, not at saturation.
# wrk cannot rate-limit; wrk2 can (and corrects for coordinated omission), hey is the fallback.
run_fixed_rate() {
    local scenario=$1 label=$2 url=$3 rate=$4
    local secs limit cmd
    secs=$(to_seconds "$DURATION")
    limit=$((secs + 30))
    set_phase "$scenario"
    if command -v wrk2 > /dev/null; then
        cmd=("${LOAD_PIN[@]}" wrk2 -R"$rate" -t"$THREADS" -c"$LATENCY_CONNS" -d"$DURATION" --latency -s "$BENCH_DIR/lua/single.lua" "$url")
        record "${cmd[@]}"
        log "$scenario: ${cmd[*]}"
        timeout -k 5 "$limit" "${cmd[@]}" > "$RESULTS/$scenario.txt" 2>&1 || log "$scenario: wrk2 exited non-zero"
        set_phase idle
        parse_wrk "$scenario" "$label (wrk2)" 1
        return
    fi

    # hey sends the same body every time, so every request here carries the same id (see README).
    local body=$RESULTS/hey-event.json qps
    printf '{"id":"%s-hey","user_id":"user-1","type":"song_played","timestamp":%s,"payload":{"k":1}}' \
        "$BENCH_RUN_ID" "$(date +%s)" > "$body"
    qps=$(awk -v r="$rate" -v c="$LATENCY_CONNS" 'BEGIN { printf "%.2f", r / c }')
    cmd=("${LOAD_PIN[@]}" hey -m POST -T application/json -D "$body" -q "$qps" -c "$LATENCY_CONNS" -z "$DURATION" "$url/events")
    record "${cmd[@]}"
    log "$scenario: ${cmd[*]}"
    timeout -k 5 "$limit" "${cmd[@]}" > "$RESULTS/$scenario.txt" 2>&1 || log "$scenario: hey exited non-zero"
    set_phase idle
    parse_hey "$scenario" "$label (hey)" "$rate"
}

parse_hey() {
    local scenario=$1 label=$2 target=$3
    local file=$RESULTS/$scenario.txt
    local total ok secs
    R[$scenario.rps]=$(awk '/Requests\/sec:/ { printf "%.0f", $2 }' "$file")
    secs=$(awk '/Total:/ { print $2; exit }' "$file")
    local errs
    total=$(awk '/Status code distribution:/ { on = 1; next } /Error distribution:/ { on = 0 }
                 on && /^ *\[[0-9]+\]/ { n += $2 } END { print n + 0 }' "$file")
    ok=$(awk '/Status code distribution:/ { on = 1; next } /Error distribution:/ { on = 0 }
              on && /^ *\[2[0-9][0-9]\]/ { n += $2 } END { print n + 0 }' "$file")
    errs=$(awk '/Error distribution:/ { on = 1; next } on && /^ *\[[0-9]+\]/ { gsub(/[][]/, "", $1); n += $1 } END { print n + 0 }' "$file")
    R[$scenario.requests]=$total
    R[$scenario.ok]=$ok
    R[$scenario.errors]="$((total - ok)) / $errs"
    R[$scenario.eps]=$(awk -v n="$ok" -v s="${secs:-0}" 'BEGIN { if (s > 0) printf "%.0f", n / s; else print "n/a" }')
    # hey prints seconds with 4 decimals, so these are only good to 0.1 ms.
    R[$scenario.p50]=$(awk '/50% in/ { printf "%.1f ms", $3 * 1000 }' "$file")
    R[$scenario.p99]=$(awk '/99% in/ { printf "%.1f ms", $3 * 1000 }' "$file")
    if [[ -z ${R[$scenario.rps]} ]]; then
        log "$scenario: could not parse hey output"
        cat "$file" >&2
        R[$scenario.failed]=1
    elif (( R[$scenario.rps] * 10 < target * 9 )); then
        # hey runs on the same 2 cores; below 90 % of the target the latency reflects hey's limit, not the server's.
        label="$label ⚠ reached ${R[$scenario.rps]} of $target req/s"
    fi
    log "$scenario: ${R[$scenario.rps]:-?} req/s, p50 ${R[$scenario.p50]:-?}, p99 ${R[$scenario.p99]:-?}, non-2xx/errors ${R[$scenario.errors]}"
    R[$scenario.label]=$label
    SCENARIOS+=("$scenario")
}

# --- Hermes-specific checks ----------------------------------------------------------------------------------------

# Sum of hermes_events_accepted_total over all label sets, or "missing".
accepted_total() {
    local file=$RESULTS/metrics-$1.txt
    record curl -fsS "$HERMES_URL/metrics"
    curl -fsS --max-time 5 "$HERMES_URL/metrics" > "$file" 2>&1 || { echo missing; return; }
    awk '/^hermes_events_accepted_total[ {]/ { sub(/\{[^}]*\}/, ""); s += $2; found = 1 }
         END { if (found) printf "%.0f", s; else print "missing" }' "$file"
}

# Every 2xx batch response means BATCH_EVENTS accepted events (the bodies hold only valid events), so the counter's
# growth over the measured run must be at least 2xx × BATCH_EVENTS. It may exceed that by up to one batch per
# connection: requests the server finished after wrk stopped counting.
check_accepted_counter() {
    local before=$1 after=$2 scenario=$3
    local sent=$(( ${R[$scenario.ok]:-0} * BATCH_EVENTS )) slack=$(( BATCH_CONNS * BATCH_EVENTS ))
    R[counter.sent]=$sent
    if [[ $before == missing || $after == missing ]]; then
        R[counter.verdict]="hermes_events_accepted_total not found in /metrics (see $RESULTS/metrics-after-batch.txt)"
        return
    fi
    local delta=$(( after - before ))
    R[counter.delta]=$delta
    if (( delta == sent )); then
        R[counter.verdict]="OK: exact match"
    elif (( delta > sent && delta <= sent + slack )); then
        R[counter.verdict]="OK: $((delta - sent)) more than wrk counted, within the $slack events that can be in flight when wrk stops"
    elif (( delta < sent )); then
        R[counter.verdict]="MISMATCH: counter grew by $((sent - delta)) fewer events than 2xx responses promised"
    else
        R[counter.verdict]="MISMATCH: counter grew by $((delta - sent)) more than wrk sent (more than $slack in flight)"
    fi
}

# (f) Overload. This run uses the in-memory sink, which drains faster than intake can fill the queue, so there is
# nothing to overload here: the overload scenario (QUEUE_SIZE=100000, 32 connections against PostgreSQL, 202/503
# counts, Retry-After, RSS, accepted = committed) is bench/postgres.sh with OVERLOAD_DURATION. This row only
# reports the max RSS Hermes reached while absorbing the batch run.
run_overload_scenario() {
    R[overload.rss]=$(max_rss_mib Hermes.Ingest hermes-batch)
    R[overload.note]="in-memory sink, not overloadable (see bench/postgres.sh OVERLOAD_DURATION); max RSS during hermes-batch = ${R[overload.rss]} MiB (QUEUE_SIZE=${QUEUE_SIZE:-default})"
}

# --- report ------------------------------------------------------------------------------------------------------

print_summary() {
    local cpu s ratio base
    cpu=$(lscpu | sed -n 's/^Model name:[[:space:]]*//p' | head -n 1)
    {
        echo "# Hermes load run $STAMP"
        echo
        echo "- date: $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
        echo "- nproc: $(nproc); CPU: ${cpu:-unknown}; kernel: $(uname -r)"
        echo "- 1-minute load average before the run: ${LOADAVG_BEFORE:-?};" \
            "CPU pinning: servers ${SERVER_CPUS:-none}, load generator ${LOAD_CPUS:-none}"
        echo "- .NET SDK $(dotnet --version); $(wrk -v 2>&1 | head -n 1 | cut -d' ' -f1-2)$([[ -n $SERVER_CPUS || -n $LOAD_CPUS ]] || echo "; load generator and servers share all cores")"
        echo "- duration $DURATION per scenario after a $WARMUP warm-up; wrk -t$THREADS; single -c$CONNS, batch -c$BATCH_CONNS × $BATCH_EVENTS events"
        echo
        echo "| scenario | requests/s | events/s | p50 | p99 | ratio vs baseline | non-2xx / socket errors |"
        echo "|---|---:|---:|---:|---:|---:|---|"
        for s in "${SCENARIOS[@]}"; do
            ratio="—"
            base=${R[$s.baseline]:-}
            if [[ -n $base && -z ${R[$s.failed]:-} && -z ${R[$base.failed]:-} ]]; then
                if [[ ${R[$s.ratio_kind]:-} == latency ]]; then
                    ratio=$(awk -v a="${R[$s.p99]%% *}" -v b="${R[$base.p99]%% *}" 'BEGIN { if (b > 0) printf "p99 %.2f×", a / b; else print "—" }')
                else
                    ratio=$(awk -v a="${R[$s.rps]}" -v b="${R[$base.rps]}" 'BEGIN { if (b > 0) printf "%.2f×", a / b; else print "—" }')
                fi
            fi
            if [[ -n ${R[$s.failed]:-} ]]; then
                echo "| ${R[$s.label]} | failed | | | | | see $s.txt |"
            else
                echo "| ${R[$s.label]} | ${R[$s.rps]} | ${R[$s.eps]} | ${R[$s.p50]} | ${R[$s.p99]} | $ratio | ${R[$s.errors]} |"
            fi
        done
        echo
        if [[ $SKIP_HERMES != 1 ]]; then
            echo "- Hermes max RSS: $(max_rss_mib Hermes.Ingest) MiB over the run; per scenario:" \
                "single $(max_rss_mib Hermes.Ingest hermes-single) MiB, batch $(max_rss_mib Hermes.Ingest hermes-batch) MiB," \
                "fixed-rate $(max_rss_mib Hermes.Ingest hermes-single-rate) MiB (baseline max $(max_rss_mib BareBaseline) MiB)"
            echo "- hermes_events_accepted_total over the measured batch run: grew by ${R[counter.delta]:-n/a};" \
                "wrk saw ${R[hermes-batch.ok]:-0} 2xx × $BATCH_EVENTS = ${R[counter.sent]:-n/a} events. ${R[counter.verdict]:-}"
            echo "- overload (f): ${R[overload.note]:-}"
        else
            echo "- Hermes skipped (SKIP_HERMES=1). Baseline max RSS $(max_rss_mib BareBaseline) MiB."
        fi
        echo
        echo "Commands:"
        echo
        echo '```'
        cat "$COMMANDS_FILE"
        echo '```'
        echo
        echo "Raw output: $RESULTS"
    } | tee "$RESULTS/summary.md"
}

# --- main --------------------------------------------------------------------------------------------------------

main() {
    command -v wrk > /dev/null || die "wrk not found (apt-get install -y wrk)"
    command -v wrk2 > /dev/null || command -v hey > /dev/null || die "need wrk2 or hey for the fixed-rate scenario"
    port_open "$BASELINE_PORT" && die "port $BASELINE_PORT is already in use"
    if [[ $SKIP_HERMES != 1 ]]; then
        port_open "$HERMES_PORT" && die "port $HERMES_PORT is already in use"
    fi

    # Read before our own build: anything else on the box (a build, tests) shares the 2 cores and skews every row.
    LOADAVG_BEFORE=$(cut -d' ' -f1 /proc/loadavg)
    if awk -v l="$LOADAVG_BEFORE" 'BEGIN { exit !(l > 0.5) }'; then
        log "WARNING: 1-minute load average is $LOADAVG_BEFORE before the run; results will be noisy"
    fi

    build_all


    # Hermes as shipped: its log levels come from the published appsettings.json, not from an override here.
    local prod=(ASPNETCORE_ENVIRONMENT=Production)
    start_server BareBaseline "$OUT_DIR/BareBaseline/BareBaseline.dll" "${prod[@]}" -- --urls "$BASELINE_URL"
    if [[ $SKIP_HERMES != 1 ]]; then
        local hermes_env=(HTTP_ADDR="127.0.0.1:$HERMES_PORT" "${prod[@]}") var
        for var in QUEUE_SIZE WORKER_COUNT BATCH_SIZE FLUSH_INTERVAL BACKPRESSURE_MODE; do
            if [[ -n ${!var:-} ]]; then hermes_env+=("$var=${!var}"); fi
        done
        start_server Hermes.Ingest "$OUT_DIR/Hermes.Ingest/Hermes.Ingest.dll" "${hermes_env[@]}" --
    fi
    wait_ready BareBaseline "$BASELINE_PORT"
    start_rss_sampler BareBaseline
    if [[ $SKIP_HERMES != 1 ]]; then
        wait_ready Hermes.Ingest "$HERMES_PORT" "$HERMES_URL/alive"
        start_rss_sampler Hermes.Ingest
    fi

    local single=$BENCH_DIR/lua/single.lua batch=$BENCH_DIR/lua/batch.lua

    # (a) and (b): saturation throughput, one event per request.
    warm_up baseline-single "$single" "$BASELINE_URL" "$CONNS"
    run_wrk baseline-single "(a) baseline single" "$single" "$BASELINE_URL" "$CONNS" 1
    if [[ $SKIP_HERMES != 1 ]]; then
        warm_up hermes-single "$single" "$HERMES_URL" "$CONNS"
        run_wrk hermes-single "(b) Hermes single" "$single" "$HERMES_URL" "$CONNS" 1
        R[hermes-single.baseline]=baseline-single
    fi

    # (c) and (d): saturation throughput, BATCH_EVENTS NDJSON events per request.
    warm_up baseline-batch "$batch" "$BASELINE_URL" "$BATCH_CONNS"
    run_wrk baseline-batch "(c) baseline batch" "$batch" "$BASELINE_URL" "$BATCH_CONNS" "$BATCH_EVENTS"
    if [[ $SKIP_HERMES != 1 ]]; then
        local before after
        R[hermes-batch.baseline]=baseline-batch
        warm_up hermes-batch "$batch" "$HERMES_URL" "$BATCH_CONNS"
        # Read after the warm-up, so only the measured run's events count.
        before=$(accepted_total before-batch)
        run_wrk hermes-batch "(d) Hermes batch" "$batch" "$HERMES_URL" "$BATCH_CONNS" "$BATCH_EVENTS"
        sleep 1   # let in-flight batches finish and the exporter's scrape cache expire
        after=$(accepted_total after-batch)
        check_accepted_counter "$before" "$after" hermes-batch
        log "accepted counter: before $before, after $after; ${R[counter.verdict]}"
    fi

    # (e): latency at a fixed fraction of (b)'s max rate, with the baseline at the same rate for reference.
    local rate_source=hermes-single
    [[ $SKIP_HERMES == 1 ]] && rate_source=baseline-single
    if [[ -n ${R[$rate_source.rps]:-} && -z ${R[$rate_source.failed]:-} ]]; then
        local rate=$(( R[$rate_source.rps] * LATENCY_FRACTION / 100 ))
        run_fixed_rate baseline-single-rate "(e0) baseline single @ $rate req/s" "$BASELINE_URL" "$rate"
        if [[ $SKIP_HERMES != 1 ]]; then
            run_fixed_rate hermes-single-rate "(e) Hermes single @ $rate req/s" "$HERMES_URL" "$rate"
            R[hermes-single-rate.baseline]=baseline-single-rate
            R[hermes-single-rate.ratio_kind]=latency
        fi
    else
        log "skipping fixed-rate scenario: no max rate from $rate_source"
    fi

    # (f)
    if [[ $SKIP_HERMES != 1 ]]; then run_overload_scenario; fi

    print_summary
}

main "$@"
