// closeAndFlush() and shutdown() in server mode: against a collector that fails every request,
// what is still queued or in flight at the timeout is reported `failed` with E_SHUTDOWN, once
// each, and nothing is left queued; against a healthy one everything is delivered first.
import test from "node:test";
import assert from "node:assert/strict";
import { app, collector, stored, waitStored, WRITE_KEY } from "./helpers.mjs";

test("closeAndFlush against a failing collector reports what is left as E_SHUTDOWN at the timeout", { timeout: 60_000 }, async (t) => {
  const c = await collector(t);
  await c.faults({ fail_rate: 1, statuses: [503], seed: 1 });
  const { createClient } = await app(t).load();
  const client = await createClient({ writeKey: WRITE_KEY, apiHost: c.url, flushAt: 5, backoffBaseMs: 100, backoffMaxMs: 200 });
  const failed = [];
  client.on("failed", (f) => failed.push(f));
  const ids = Array.from({ length: 12 }, (_, i) => client.track("Retried", { i }, { userId: `user-${i % 3}` }));
  const start = Date.now();
  await client.closeAndFlush({ timeoutMs: 1500 });
  const took = Date.now() - start;
  assert.ok(took >= 1400, `resolved after ${took} ms, before its timeout, with retries still failing`);
  assert.ok(took < 15_000, `resolved after ${took} ms`);
  await new Promise((r) => setTimeout(r, 50)); // listeners run in a microtask or a timer
  assert.deepEqual(failed.map((f) => f.messageId).sort(), [...ids].sort(), "every event reported once");
  assert.ok(failed.every((f) => f.code === "E_SHUTDOWN" && f.reason), JSON.stringify(failed[0]));
  const s = client.stats();
  assert.deepEqual([s.queued, s.inFlight, s.failed, s.delivered], [0, 0, 12, 0]);
  assert.ok((await c.requests()).some((r) => r.status === 503), "the collector was asked and refused");
  assert.throws(() => client.track("Late", {}, { userId: "u" }), { code: "E_SHUTDOWN" });
});

test("closeAndFlush waits through retries and delivers everything when the collector recovers", { timeout: 60_000 }, async (t) => {
  const c = await collector(t);
  await c.faults({ fail_rate: 1, statuses: [503], seed: 2 });
  const { createClient } = await app(t).load();
  const client = await createClient({ writeKey: WRITE_KEY, apiHost: c.url, backoffBaseMs: 100, backoffMaxMs: 300 });
  const failed = [];
  client.on("failed", (f) => failed.push(f));
  const ids = Array.from({ length: 5 }, (_, i) => client.track("Eventually", { i }, { userId: "u1" }));
  setTimeout(() => c.clearFaults(), 700);
  await client.closeAndFlush({ timeoutMs: 20_000 });
  assert.deepEqual(failed, []);
  assert.equal(client.stats().delivered, 5);
  assert.equal((await waitStored(c, ids)).length, 5);
});

test("shutdown() in server mode does not resolve with events queued and unreported", { timeout: 60_000 }, async (t) => {
  const c = await collector(t);
  await c.faults({ fail_rate: 1, statuses: [500], seed: 3 });
  const { createClient } = await app(t).load();
  // The default closeAndFlush timeout is 10 s; the failing collector keeps the events until then.
  const client = await createClient({ writeKey: WRITE_KEY, apiHost: c.url, backoffBaseMs: 100, backoffMaxMs: 200 });
  const failed = [];
  client.on("failed", (f) => failed.push(f));
  const ids = [client.track("A", {}, { userId: "u" }), client.track("B", {}, { anonymousId: "d" })];
  await client.shutdown();
  await new Promise((r) => setTimeout(r, 50));
  const s = client.stats();
  assert.equal(s.queued + s.inFlight, 0, "nothing left queued");
  assert.deepEqual(failed.map((f) => [f.messageId, f.code]).sort(), ids.map((id) => [id, "E_SHUTDOWN"]).sort());
  assert.deepEqual(await stored(c, ids), []);
});
