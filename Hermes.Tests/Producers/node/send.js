// Sends COUNT track calls, about 10,000 a second, (plus an identify every 100 and a page every 250) to Hermes through one real SDK with its
// default settings, waits for every call's callback, closes the client, and prints one JSON line:
//   {"sdk":…,"tracks":N,"identifies":N,"pages":N,"delivered":N,"failed":N,"errors":[…],"ms":N}
// Exit code 0 only when every call was delivered. Settings come from the environment:
//   SDK=segment|rudderstack  HERMES_URL=http://127.0.0.1:PORT  WRITE_KEY=…  COUNT=3000  RUN_ID=…
'use strict';

const sdk = process.env.SDK;
const host = process.env.HERMES_URL;
const writeKey = process.env.WRITE_KEY || 'no-key-configured';
const count = Number(process.env.COUNT || 3000);
const run = process.env.RUN_ID || 'run';
const names = ['Song Played', 'Trip Started', 'Ad Clicked', 'Location Update'];

const errors = [];
let delivered = 0;
let failed = 0;
let pending = 0;
let allSent = false;
let settle;
const allSettled = new Promise((resolve) => { settle = resolve; });

function done(err) {
  if (err) {
    failed++;
    if (errors.length < 5) errors.push(String(err && err.message ? err.message : err));
  } else {
    delivered++;
  }
  // Callbacks come back while calls are still being made; only the last one after the last call settles the run.
  if (--pending === 0 && allSent) settle();
}

// RudderStack's internal flushes are not awaited; a final failure would surface here rather than crash the run.
process.on('unhandledRejection', (err) => {
  if (errors.length < 5) errors.push('unhandled: ' + String(err && err.message ? err.message : err));
});

function client() {
  if (sdk === 'segment') {
    const { Analytics } = require('@segment/analytics-node');
    const analytics = new Analytics({ writeKey, host });
    return {
      track: (m) => analytics.track(m, done),
      identify: (m) => analytics.identify(m, done),
      page: (m) => analytics.page(m, done),
      close: () => analytics.closeAndFlush({ timeout: 170000 }),
    };
  }
  if (sdk === 'rudderstack') {
    const Analytics = require('@rudderstack/rudder-sdk-node');
    const analytics = new Analytics(writeKey, { dataPlaneUrl: host, logLevel: 'none' });
    return {
      track: (m) => analytics.track(m, done),
      identify: (m) => analytics.identify(m, done),
      page: (m) => analytics.page(m, done),
      // flush() sends at most flushAt calls; repeat until the queue is empty, as a shutdown hook would.
      close: async () => {
        while (analytics.queue.length > 0) {
          await analytics.flush().catch(() => {});
        }
        await analytics.flush().catch(() => {});
      },
    };
  }
  throw new Error(`SDK must be segment or rudderstack, not '${sdk}'`);
}

async function main() {
  const started = Date.now();
  const c = client();
  let identifies = 0;
  let pages = 0;
  for (let i = 0; i < count; i++) {
    // 50 calls, then the event loop turns, as in a busy server (about 10,000 calls/s). Without it every call would be
    // queued before the SDK can send one, and RudderStack's enqueue re-measures its whole queue each call (O(n²)).
    if (i % 50 === 49) await new Promise((resolve) => setTimeout(resolve, 5));
    // Even calls name a user, odd ones only an anonymous id: Hermes stores userId, else anonymousId.
    const who = i % 2 === 0 ? { userId: `user-${i % 50}` } : { anonymousId: `anon-${i % 50}` };
    pending++;
    c.track({ ...who, event: names[i % names.length], properties: { run, i } });
    if (i % 100 === 0) {
      pending++;
      identifies++;
      c.identify({ ...who, traits: { run } });
    }
    if (i % 250 === 0) {
      pending++;
      pages++;
      c.page({ ...who, name: 'Home', properties: { run } });
    }
  }
  allSent = true;
  if (pending === 0) settle();
  await c.close();
  await Promise.race([allSettled, new Promise((resolve) => setTimeout(resolve, 170000))]);
  const result = { sdk, tracks: count, identifies, pages, delivered, failed, pending, errors, ms: Date.now() - started };
  console.log(JSON.stringify(result));
  process.exit(failed === 0 && pending === 0 && errors.length === 0 ? 0 : 1);
}

main().catch((err) => {
  console.log(JSON.stringify({ sdk, fatal: String(err && err.stack ? err.stack : err) }));
  process.exit(1);
});
