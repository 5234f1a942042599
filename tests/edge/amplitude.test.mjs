// Amplitude HTTP V2 behind the edge, against the collector's /2/httpapi with its per-device budget
// scaled (10 events a second averaged over 4 s: 40 per window). One shard holds every device, so
// the hot device and the 50 others share one Durable Object and one pipeline. First, the hot
// device posted at twice its budget is held back alone by pacing while the 50 others, at 40 % of
// theirs, keep their rate. Then a hot device whose budget another sender spends is refused (429
// naming it) and paused alone for Amplitude's 30 s while the others keep their rate. Every
// device's events arrive in the order posted, each once.
import test from "node:test";
import assert from "node:assert/strict";
import { AMP_KEY } from "../e2e/amplitude.mjs";
import { assertOnce, edgeEnv, post, track, waitAll } from "./harness.mjs";

const EPS = 10;
const WINDOW_S = 4;
const BUDGET = EPS * WINDOW_S;
const TICK_MS = 250;
const TICKS = 48; // 12 s of traffic
const COOL = 50;
const HOT_PER_TICK = 5; // 20 events a second: twice the budget
const HOT = "hot-device-0001";
const cool = (d) => `cool-device-${String(d).padStart(3, "0")}`;

const config = (url) => ({
  version: 1,
  shards: 1,
  cors: ["*"],
  perIp: { requests: 100_000, windowSecs: 60 },
  sources: { uk_live_demo: { destination: "amp" } },
  destinations: {
    amp: {
      protocol: "amplitude-http-v2", url, keySecret: "AMP_KEY",
      options: { identityEventsPerSecond: EPS, rateWindowMs: WINDOW_S * 1000, flushIntervalMs: 100, backoffBaseMs: 200 },
    },
  },
});

/** Posts TICKS requests, one every TICK_MS: one event of each other device, `hotPerTick` of the
 * hot one. */
async function traffic(env, hotPerTick, onTick = () => {}) {
  const postedAt = new Map();
  const hotIds = [];
  const coolIds = [];
  const start = Date.now();
  for (let tick = 0; tick < TICKS; tick++) {
    const batch = [];
    for (let d = 0; d < COOL; d++) {
      const id = `c-${d}-${tick}`;
      coolIds.push(id);
      batch.push(track(id, { anonymousId: cool(d), event: "Cool", properties: { i: tick } }));
    }
    for (let k = 0; k < hotPerTick; k++) {
      const i = tick * hotPerTick + k;
      const id = `h-${i}`;
      hotIds.push(id);
      batch.push(track(id, { anonymousId: HOT, event: "Hot", properties: { i } }));
    }
    const now = Date.now();
    for (const e of batch) postedAt.set(e.messageId, now);
    const r = await post(env.url(), "/v1-batch", { batch });
    assert.equal(r.status, 200, r.text);
    await onTick(tick);
    const wait = start + (tick + 1) * TICK_MS - Date.now();
    if (wait > 0) await new Promise((res) => setTimeout(res, wait));
  }
  return { postedAt, hotIds, coolIds, start };
}

/**
 * The lowest, over the other devices, of the rate each kept: the events the collector received
 * from it in the steady part of the traffic (from 2 s after its start to its end) ÷ the events
 * posted for it over the same time. A steady delay does not lower it; being held back does.
 */
function worstOther(events, traffic, end) {
  const from = traffic.start + 2000;
  let worst = Infinity;
  for (let d = 0; d < COOL; d++) {
    const received = events.filter((e) => e.device_id === cool(d) && e._received_ms >= from && e._received_ms < end).length;
    const posted = traffic.coolIds.filter((id) => id.startsWith(`c-${d}-`) && traffic.postedAt.get(id) >= from && traffic.postedAt.get(id) < end).length;
    worst = Math.min(worst, received / posted);
  }
  return worst;
}

const order = (events, device, type) => events.filter((e) => e.device_id === device && e.event_type === type).map((e) => e.event_properties.i);

test("HTTP V2: a hot device is held to its budget alone while 50 others keep their rate, each in order", { timeout: 90_000 }, async (t) => {
  const env = await edgeEnv(t, {
    collectorArgs: ["--eps-v2", String(EPS), "--eps-window-secs", String(WINDOW_S)],
    config, edge: { secrets: { AMP_KEY } },
  });
  const sent = await traffic(env, HOT_PER_TICK);
  const { postedAt, hotIds, coolIds, start } = sent;
  const end = Date.now();
  await new Promise((res) => setTimeout(res, 1000));
  const atEnd = await env.collector.events();
  const got = new Set(atEnd.map((e) => e.insert_id));
  const worst = worstOther(atEnd, sent, end);
  const hotByEnd = hotIds.filter((id) => got.has(id)).length;
  t.diagnostic(`traffic ${end - start} ms; slowest other device kept ${(worst * 100).toFixed(1)} % of its rate; hot device ${hotByEnd} of ${hotIds.length}`);
  assert.ok(worst >= 0.95, `an other device kept only ${(worst * 100).toFixed(1)} % of its rate`);
  // The hot device was held back: at most its budget's worth per window reached the collector.
  const windows = Math.ceil((end + 1000 - start) / (WINDOW_S * 1000)) + 1;
  assert.ok(hotByEnd <= windows * BUDGET && hotByEnd < hotIds.length * 0.8,
    `the hot device was not held back: ${hotByEnd} of ${hotIds.length} delivered during the traffic`);

  const all = [...coolIds, ...hotIds];
  const events = await waitAll(env.collector, all, { key: "insert_id", timeout: 45_000 });
  assertOnce(assert, events, all, "insert_id");
  // Order per device, as HTTP V2 promises.
  assert.deepEqual(order(events, HOT, "Hot"), hotIds.map((_, i) => i), "stored order of the hot device");
  for (let d = 0; d < COOL; d++) assert.deepEqual(order(events, cool(d), "Cool"), Array.from({ length: TICKS }, (_, i) => i), `stored order of ${cool(d)}`);
  // Held by pacing, not by refusals: the collector said 429 rarely, and never for the others.
  const reqs = (await env.collector.stats()).log.filter((r) => r.path === "/2/httpapi");
  const refused = reqs.filter((r) => r.status === 429).length;
  assert.ok(refused <= 2, `${refused} requests answered 429`);
  const latency = coolIds.map((id) => events.find((e) => e.insert_id === id)?._received_ms - postedAt.get(id));
  latency.sort((a, b) => a - b);
  t.diagnostic(`upstream requests ${reqs.length} (429: ${refused}); others' latency p50 ${latency[latency.length >> 1]} ms, p99 ${latency[Math.floor(latency.length * 0.99)]} ms`);
});

test("HTTP V2: a hot device refused with 429 is paused alone for 30 s while 50 others keep their rate, each in order", { timeout: 120_000 }, async (t) => {
  const env = await edgeEnv(t, {
    collectorArgs: ["--eps-v2", String(EPS), "--eps-window-secs", String(WINDOW_S)],
    config, edge: { secrets: { AMP_KEY } },
  });
  // Another sender spends the hot device's budget at the collector for the first 6 s (3 events
  // every 250 ms: more than its 40 per 4 s alone), so the edge's next request carrying the hot
  // device, though paced to its budget, is refused with 429 naming it.
  let direct = 0;
  const other = async (tick) => {
    if (tick >= 24) return;
    const events = Array.from({ length: 3 }, () => ({ device_id: HOT, event_type: "Direct", time: Date.now(), insert_id: `direct-${direct++}` }));
    await fetch(`${env.collector.url}/2/httpapi`, {
      method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ api_key: AMP_KEY, events }),
    });
  };
  const sent = await traffic(env, 1, other);
  const { hotIds, coolIds, start } = sent;
  const end = Date.now();
  await new Promise((res) => setTimeout(res, 1000));
  const worst = worstOther(await env.collector.events(), sent, end);
  const log = (await env.collector.stats()).log.filter((r) => r.path === "/2/httpapi");
  // The edge's requests carry the others too (more than the other sender's 3 events).
  const refused = log.filter((r) => r.status === 429 && r.events > 3);
  assert.ok(refused.length >= 1, "the edge was never refused: the hot device was not throttled");
  t.diagnostic(`traffic ${end - start} ms; edge requests refused with 429: ${refused.length}; slowest other device kept ${(worst * 100).toFixed(1)} % of its rate`);
  assert.ok(worst >= 0.95, `an other device kept only ${(worst * 100).toFixed(1)} % of its rate`);

  const all = [...coolIds, ...hotIds];
  const events = (await waitAll(env.collector, all, { key: "insert_id", timeout: 70_000 })).filter((e) => e.event_type !== "Direct");
  assertOnce(assert, events, all, "insert_id");
  // Paused alone: after the first refusal, none of the hot device's events came for ~30 s.
  const firstRefusal = refused[0].ms;
  const hotAfter = events.filter((e) => e.device_id === HOT && e._received_ms > firstRefusal).map((e) => e._received_ms);
  const pause = Math.min(...hotAfter) - firstRefusal;
  t.diagnostic(`the hot device's events resumed ${pause} ms after the first 429`);
  assert.ok(pause >= 25_000, `the hot device resumed ${pause} ms after the 429: not paused`);
  assert.deepEqual(order(events, HOT, "Hot"), hotIds.map((_, i) => i), "stored order of the hot device");
  for (let d = 0; d < COOL; d++) assert.deepEqual(order(events, cool(d), "Cool"), Array.from({ length: TICKS }, (_, i) => i), `stored order of ${cool(d)}`);
});
