// Pacing to the servers' budgets (docs/PROTOCOLS.md G), against the real collector: an Amplitude
// HTTP V2 backlog drains at one device's budget, in order, without meeting the limit; a hot device
// waits alone while the others flow. Everything is measured on the collector's side (its request
// log and the arrival time of each stored event), not on the page's clock.
//
// Amplitude's budget is kept as it is, 30 events a second per device, and its window is scaled on
// both sides to 10 s (the collector's --eps-window-secs, the client's rateWindowMs, as a customer
// with other limits would set it): 300 events per window. A backlog of 600 is then two windows'
// worth, which takes just over 10 s, and a client that sent one event more than its budget would
// meet a 429 at once.
import test from "node:test";
import assert from "node:assert/strict";
import { setup } from "./harness.mjs";
import { ampOptions, assertStoredOnce, pacingPage, waitForInsertIds } from "./amplitude.mjs";

const EPS = 30;
const WINDOW_MS = 10_000;
const BUDGET = (EPS * WINDOW_MS) / 1000;

/** The `i` property of the stored events of `device`, in the collector's order. */
const orderOf = (events, device) => events.filter((e) => e.device_id === device).map((e) => e.event_properties.i);
const ascending = (n, from = 0) => Array.from({ length: n }, (_, i) => from + i);

test("HTTP V2: 600 events of one device drain at its budget, in order, each once, with at most two 429s", { timeout: 90_000 }, async (t) => {
  const env = await setup(t, { collectorArgs: ["--eps-v2", String(EPS), "--eps-window-secs", String(WINDOW_MS / 1000)] });
  const page = await pacingPage(env, ampOptions(env, { identityEventsPerSecond: EPS, rateWindowMs: WINDOW_MS, backoffBaseMs: 200 }));
  const device = "device-backlog-1";
  const ids = await page.evaluate((d) => trackAs(600, "Backlog", { anonymousId: d }), device);
  await page.evaluate(() => flushSoon());

  const events = await waitForInsertIds(env, ids, { timeout: 70_000 });
  assertStoredOnce(events, ids);
  assert.deepEqual(orderOf(events, device), ascending(600), "stored order of the device's events");
  const reqs = (await env.collector.requests()).filter((r) => r.path === "/2/httpapi");
  const refused = reqs.filter((r) => r.status === 429);
  assert.ok(refused.length <= 2, `${refused.length} requests answered 429: ${JSON.stringify(reqs.map((r) => [r.status, r.events]))}`);
  // What the collector accepted in any 30 s: never more than the budget (or it would have said
  // 429), and the first window is used to the full, not left half empty.
  const accepted = reqs.filter((r) => r.status === 200);
  const start = accepted[0].atMs;
  const firstWindow = accepted.filter((r) => r.atMs < start + WINDOW_MS).reduce((n, r) => n + r.events, 0);
  assert.equal(firstWindow, BUDGET, "events accepted in the first window");
  // The events of the second window came when the first window's had aged out.
  const later = accepted.filter((r) => r.atMs >= start + WINDOW_MS);
  assert.ok(later.length > 0 && later[0].atMs - start < WINDOW_MS + 5000,
    `the second window's events came ${later[0]?.atMs - start} ms after the first`);
  t.diagnostic(`requests (status, events, ms after the first): ${JSON.stringify(reqs.map((r) => [r.status, r.events, r.atMs - start]))}`);
});

test("HTTP V2: a hot device over its budget waits alone while other devices' events flow", { timeout: 90_000 }, async (t) => {
  const env = await setup(t, { collectorArgs: ["--eps-v2", String(EPS), "--eps-window-secs", String(WINDOW_MS / 1000)] });
  const page = await pacingPage(env, ampOptions(env, { identityEventsPerSecond: EPS, rateWindowMs: WINDOW_MS, backoffBaseMs: 200 }));
  const hot = "device-hot-1";
  const HOT = BUDGET + 150;
  const hotIds = await page.evaluate(([d, n]) => trackAs(n, "Hot", { anonymousId: d }), [hot, HOT]);
  await page.evaluate(() => flushSoon());
  // The hot device's first window is spent: its budget's worth is at the collector.
  await waitForInsertIds(env, hotIds.slice(0, BUDGET), { timeout: 15_000 });

  // Now other devices, queued behind the rest of the hot device's backlog.
  const others = ["device-cool-1", "device-cool-2", "device-cool-3", "device-cool-4", "device-cool-5"];
  const otherIds = [];
  for (let round = 0; round < 4; round++) {
    for (const d of others) otherIds.push(...await page.evaluate(([d, r]) => trackAs(5, "Cool", { anonymousId: d }, {}, r * 5), [d, round]));
  }
  await page.evaluate(() => flushSoon());
  const events = await waitForInsertIds(env, [...hotIds, ...otherIds], { timeout: 60_000 });
  assertStoredOnce(events, [...hotIds, ...otherIds]);

  // Counted by the collector: when the hot device's events and the others' arrived.
  const hotEvents = events.filter((e) => e.device_id === hot);
  const firstBatch = hotEvents.filter((e) => e.event_properties.i < BUDGET);
  const rest = hotEvents.filter((e) => e.event_properties.i >= BUDGET);
  const restArrived = Math.min(...rest.map((e) => e._received_ms));
  const otherEvents = events.filter((e) => others.includes(e.device_id));
  const lateOthers = otherEvents.filter((e) => e._received_ms >= restArrived);
  assert.deepEqual(lateOthers.map((e) => `${e.device_id}#${e.event_properties.i}`), [],
    "other devices' events that arrived only with the hot device's paced rest");
  // The rest of the hot device waited for its window: it was paced, not refused.
  const firstArrived = Math.max(...firstBatch.map((e) => e._received_ms));
  assert.ok(restArrived - firstArrived >= WINDOW_MS - 1000,
    `the hot device's rest came ${restArrived - firstArrived} ms after its first ${BUDGET}`);
  const reqs = (await env.collector.requests()).filter((r) => r.path === "/2/httpapi");
  const refused = reqs.filter((r) => r.status === 429);
  assert.ok(refused.length <= 2, `${refused.length} requests answered 429`);
  // Order per device, as HTTP V2 promises, for the hot device and each of the others.
  assert.deepEqual(orderOf(events, hot), ascending(HOT), "stored order of the hot device");
  for (const d of others) assert.deepEqual(orderOf(events, d), ascending(20), `stored order of ${d}`);
  const start = reqs[0].atMs;
  t.diagnostic(`others arrived ${Math.max(...otherEvents.map((e) => e._received_ms)) - firstArrived} ms after the hot device's first ${BUDGET}, its rest ${restArrived - firstArrived} ms after; requests (status, events, ms): ${JSON.stringify(reqs.map((r) => [r.status, r.events, r.atMs - start]))}`);
});
