#!/usr/bin/env bash
# The README's run command, as a user types it: `dotnet run --project Hermes.AppHost` must bring ingest up healthy
# with PostgreSQL behind it, serve the Aspire dashboard, store the sample producer's events, and leave nothing
# running after SIGTERM.
# Prints the cold-start time to healthy. Bounded: 180 s to healthy, 60 s to stop.
set -uo pipefail
cd "$(dirname "$0")/.."

ingest=http://localhost:8080
aspire_dashboard=http://localhost:15888
hermes_dashboard=http://localhost:8081
data_root="${HERMES_SMOKE_PG_ROOT:-$(mktemp -d /tmp/hermes-smoke-pg.XXXXXX)}"
log=/tmp/hermes-apphost-smoke.log
fail() { echo "AppHost smoke FAILED: $*"; echo "--- last lines of $log"; tail -n 40 "$log"; stop; exit 1; }

# Build first so the timing below is the start-up a developer sees on the second run, not the compiler.
dotnet build Hermes.AppHost -v q -nologo >/dev/null 2>&1 || { echo "AppHost smoke FAILED: build"; exit 1; }

# A fresh data directory so initdb is part of the measured cold start.
start=$(date +%s%N)
Hermes__Postgres__DataDirectory="$data_root" Hermes__SpillDirectory="$data_root-spill" dotnet run --project Hermes.AppHost >"$log" 2>&1 &
pid=$!

stop() {
  kill -TERM "$pid" 2>/dev/null || return 0
  for _ in $(seq 1 120); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
  if kill -0 "$pid" 2>/dev/null; then echo "AppHost did not stop within 60 s of SIGTERM"; kill -KILL "$pid"; return 1; fi
}

healthy=""
for _ in $(seq 1 720); do
  kill -0 "$pid" 2>/dev/null || fail "the AppHost exited early"
  if [ "$(curl -s -o /dev/null -w '%{http_code}' "$ingest/health")" = 200 ]; then healthy=$(date +%s%N); break; fi
  sleep 0.25
done
[ -n "$healthy" ] || fail "ingest was not healthy within 180 s"
cold_ms=$(( (healthy - start) / 1000000 ))
echo "ingest healthy ${cold_ms} ms after \`dotnet run --project Hermes.AppHost\` (fresh PostgreSQL cluster)"

grep -q "PostgreSQL source:" "$log" || fail "the AppHost did not log which PostgreSQL source it chose"
grep "PostgreSQL source:" "$log" | sed 's/^ *//'
grep -q "Local PostgreSQL data directory: $data_root" "$log" || fail "the AppHost did not log where the local database lives"
# Aspire warns (and its dashboard shows a red banner) when a resource would need an HTTPS development certificate.
if grep -q "development certificate" "$log"; then fail "the AppHost warned about a development certificate"; fi

code=$(curl -s -o /dev/null -w '%{http_code}' "$aspire_dashboard/")
case "$code" in 200|302|401) ;; *) fail "Aspire dashboard at $aspire_dashboard answered $code" ;; esac

page=""
for _ in $(seq 1 120); do
  [ "$(curl -s -o /dev/null -w '%{http_code}' "$hermes_dashboard/")" = 200 ] && { page=1; break; }
  sleep 0.25
done
[ -n "$page" ] || fail "the Hermes dashboard at $hermes_dashboard did not serve its page within 30 s"

id="smoke-$(date +%s%N)"
curl -sf -X POST "$ingest/events?ack=durable" -H 'Content-Type: application/json' \
  -d "{\"id\":\"$id\",\"user_id\":\"smoke\",\"type\":\"ad_clicked\",\"timestamp\":1700000000}" >/dev/null \
  || fail "POST /events was refused"
# stored TYPE PATTERN TRIES: GET /aggregates?source=db&type=TYPE matches PATTERN within TRIES x 0.25 s.
stored() {
  for _ in $(seq 1 "$3"); do
    curl -sf "$ingest/aggregates?source=db&type=$1" | grep -q "$2" && return 0
    sleep 0.25
  done
  return 1
}
stored ad_clicked '"ad_clicked:1699999980":[1-9]' 40 || fail "the event did not reach PostgreSQL (GET /aggregates?source=db)"
# Alive on first run: the sample producer (on by default) fills the rollups without anyone posting.
stored location_update '"location_update:[0-9]*":[1-9]' 240 \
  || fail "no events from the sample producer reached PostgreSQL within 60 s"

stop || fail "shutdown"
# DCP stops the resources once it sees the AppHost gone, and ingest drains before exiting: allow 30 s.
for _ in $(seq 1 60); do
  leftovers=$(pgrep -f -- "-D $data_root/data" || true; pgrep -f "^$(pwd)/Hermes.(Ingest|SampleProducer)/bin/" || true)
  [ -z "$leftovers" ] && break
  sleep 0.5
done
if [ -n "$leftovers" ]; then
  echo "AppHost smoke FAILED: still running 30 s after stop: $(ps -o pid=,args= -p "$(tr '\n' ',' <<<"$leftovers")" | tr '\n' ';')"
  # Only the postgres on this run's own data directory is certainly ours to end; anything else is reported.
  pgrep -f -- "-D $data_root/data" | xargs -r kill -KILL 2>/dev/null
  exit 1
fi
rm -rf "$data_root" "$data_root-spill"
echo "AppHost smoke passed: healthy in ${cold_ms} ms, event persisted, sample producer's events stored, both dashboards served, nothing left running"
