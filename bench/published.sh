# Sourced by from-root.sh and rate-limit.sh: a scratch folder, one server at a time (PID), Release publishes of this
# tree or of an earlier revision, and reading wrk's BENCH_RESULT line (lua/*.lua).
BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_DIR=$(dirname "$BENCH_DIR")
BEFORE=${BEFORE:-}
OUT=$(mktemp -d /tmp/hermes-bench.XXXXXX)
export BENCH_RUN_ID=${BENCH_RUN_ID:-$(date +%s)}
PID=

log() { printf '[%(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
stop() { if [[ -n $PID ]]; then kill -TERM "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; PID=; fi; }
trap 'stop; rm -rf "$OUT"' EXIT

# publish <project dir> <output>
publish() {
    dotnet publish "$1" -c Release -o "$2" --nologo > "$OUT/publish.log" 2>&1 || { tail -n 30 "$OUT/publish.log" >&2; exit 1; }
}

# publish_before <output>: Hermes.Ingest as it was at $BEFORE (git archive, so this working tree is untouched).
publish_before() {
    mkdir -p "$OUT/before-src"
    git -C "$REPO_DIR" archive "$BEFORE" | tar -x -C "$OUT/before-src"
    publish "$OUT/before-src/Hermes.Ingest" "$1"
}

# wait_http <port>: until the port answers HTTP at all (BareBaseline has no /alive; any status will do), 30 s at most.
wait_http() {
    for _ in {1..300}; do curl -sS -o /dev/null "http://127.0.0.1:$1/alive" 2>/dev/null && return; sleep 0.1; done
}

# result <field> <BENCH_RESULT line>
result() { sed -n "s/.*\b$1=\([0-9]*\).*/\1/p" <<<"$2"; }
