// The Worker killed mid-delivery (SIGKILL to workerd, as a crash: requests to the collector in
// flight, events queued in Durable Objects) and started again on the same persisted state: every
// event that was acknowledged arrives upstream, none is stored twice.
import test from "node:test";
import assert from "node:assert/strict";
import { assertOnce, edgeEnv, postMany, waitAll, waitFor } from "./harness.mjs";

test("workerd killed mid-delivery and restarted on the same state: nothing lost, nothing stored twice", { timeout: 120_000 }, async (t) => {
  const env = await edgeEnv(t);
  // Every upstream request takes 1.5 s: when the kill comes, requests are in flight and most
  // events still queued.
  await env.collector.faults({ latency_ms: 1500, latency_rate: 1 });
  const ids = await postMany(env, { requests: 30, perRequest: 100, prefix: "crash" });
  await waitFor(async () => (await env.collector.stats()).log.length > 0, { timeout: 15_000, what: "a delivery in flight" });
  await env.edge.kill();
  const atKill = (await env.collector.events()).length;
  assert.ok(atKill < ids.length, `everything was delivered before the kill (${atKill}): nothing was tested`);

  await env.collector.clearFaults();
  await env.restart();
  // The restarted Worker takes new events too.
  const more = await postMany(env, { requests: 5, perRequest: 100, prefix: "after" });
  const all = [...ids, ...more];
  const events = await waitAll(env.collector, all, { timeout: 60_000 });
  assertOnce(assert, events, all);
  const stats = await env.collector.stats();
  t.diagnostic(`stored before the kill: ${atKill}; resends the collector recognised: ${stats.events.duplicates}`);
});
