// k6 load test for Hermes.Ingest: a steady single-event rate and a steady NDJSON batch rate, run together,
// with p99 thresholds that fail the run (non-zero exit) when latency regresses.
//
//   k6 run bench/k6/loadtest.js
//   k6 run -e BASE_URL=http://127.0.0.1:5080 -e SINGLE_RATE=2000 -e DURATION=1m bench/k6/loadtest.js
//
// Env: BASE_URL (default http://localhost:8080), DURATION (30s), SINGLE_RATE (req/s, 500), BATCH_RATE (req/s, 5),
// BATCH_EVENTS (events per batch, 1000), SINGLE_P99_MS (50), BATCH_P99_MS (500), RUN_ID (default: start time).
// Unlike bench/run.sh this uses open-model arrival rates, so a slow server shows up as latency, not as fewer requests.

import http from 'k6/http';
import { check } from 'k6';
import exec from 'k6/execution';

const BASE_URL = __ENV.BASE_URL || 'http://localhost:8080';
const DURATION = __ENV.DURATION || '30s';
const SINGLE_RATE = Number(__ENV.SINGLE_RATE || 500);
const BATCH_RATE = Number(__ENV.BATCH_RATE || 5);
const BATCH_EVENTS = Number(__ENV.BATCH_EVENTS || 1000);
const SINGLE_P99_MS = Number(__ENV.SINGLE_P99_MS || 50);
const BATCH_P99_MS = Number(__ENV.BATCH_P99_MS || 500);

const TYPES = ['trip_started', 'song_played', 'ad_clicked', 'location_update'];

export const options = {
    scenarios: {
        single: {
            executor: 'constant-arrival-rate',
            exec: 'single',
            rate: SINGLE_RATE,
            timeUnit: '1s',
            duration: DURATION,
            preAllocatedVUs: 50,
            maxVUs: 500,
        },
        batch: {
            executor: 'constant-arrival-rate',
            exec: 'batch',
            rate: BATCH_RATE,
            timeUnit: '1s',
            duration: DURATION,
            preAllocatedVUs: 5,
            maxVUs: 50,
        },
    },
    thresholds: {
        'http_req_duration{scenario:single}': [`p(99)<${SINGLE_P99_MS}`],
        'http_req_duration{scenario:batch}': [`p(99)<${BATCH_P99_MS}`],
        'http_req_failed': ['rate<0.01'],
        'checks': ['rate>0.99'],
        // More iterations dropped than 1 % means k6 could not keep the arrival rate, so the latencies understate.
        'dropped_iterations': [`count<${Math.ceil((SINGLE_RATE + BATCH_RATE) * durationSeconds(DURATION) * 0.01)}`],
    },
    summaryTrendStats: ['avg', 'p(50)', 'p(90)', 'p(99)', 'max'],
};

// Runs once; every VU receives the same run id, so ids stay unique across VUs, iterations and runs.
export function setup() {
    return { runId: __ENV.RUN_ID || String(Date.now()) };
}

function event(id, n) {
    return `{"id":"${id}","user_id":"user-${n % 1000}","type":"${TYPES[n % 4]}",`
        + `"timestamp":${Math.floor(Date.now() / 1000)},"payload":{"k":1}}`;
}

// "<run>-<vu>-<iteration of this VU>" is unique across the whole test.
function requestId(data) {
    return `${data.runId}-${exec.vu.idInTest}-${exec.vu.iterationInInstance}`;
}

export function single(data) {
    const res = http.post(`${BASE_URL}/events`, event(requestId(data), exec.scenario.iterationInTest), {
        headers: { 'Content-Type': 'application/json' },
        tags: { name: 'POST /events' },
    });
    check(res, {
        'single: 202': (r) => r.status === 202,
        'single: accepted 1': (r) => r.status === 202 && r.json('accepted') === 1,
    });
}

export function batch(data) {
    const prefix = requestId(data);
    const lines = new Array(BATCH_EVENTS);
    for (let i = 0; i < BATCH_EVENTS; i++) {
        lines[i] = event(`${prefix}-${i}`, i);
    }
    const res = http.post(`${BASE_URL}/events/batch`, lines.join('\n') + '\n', {
        headers: { 'Content-Type': 'application/x-ndjson' },
        tags: { name: 'POST /events/batch' },
    });
    check(res, {
        'batch: 202': (r) => r.status === 202,
        'batch: all accepted': (r) => r.status === 202 && r.json('accepted') === BATCH_EVENTS,
        'batch: none rejected': (r) => r.status === 202 && (r.json('rejected') || []).length === 0,
    });
}

function durationSeconds(d) {
    const m = /^(\d+)(ms|s|m|h)$/.exec(d);
    if (!m) {
        return 30;
    }
    const scale = { ms: 0.001, s: 1, m: 60, h: 3600 }[m[2]];
    return Number(m[1]) * scale;
}
