// 5xx answers and connections dropped after the events were stored: the client retries with the
// same messageIds, so every event is stored exactly once (the collector counts the duplicates).
import test from "node:test";
import assert from "node:assert/strict";
import { assertExactlyOnce, duplicatesOf, setup, waitForIds } from "./harness.mjs";

test("5xx and dropped responses recover: every event stored exactly once", { timeout: 90_000 }, async (t) => {
  const env = await setup(t);
  await env.collector.faults({ fail_rate: 0.3, statuses: [500, 502, 503, 504], drop_rate: 0.2, seed: 7 });
  const page = await env.open();
  await page.evaluate((o) => make(o), env.options({
    // Small requests (about 15 events each): many requests for the fault dice to land on.
    storage: "indexeddb", maxBatchBytes: 4096, backoffBaseMs: 50, backoffMaxMs: 500,
  }));
  // 20 bursts of 20, each followed by a flush that is not awaited: many small requests, retries
  // overlapping with new sends, so the faults hit every state the client can be in.
  const ids = [];
  for (let burst = 0; burst < 20; burst++) {
    ids.push(...await page.evaluate((b) => trackMany(20, "Flaky", { burst: b }), burst));
    await page.evaluate(() => flushSoon());
  }

  const events = await waitForIds(env, ids, { timeout: 60_000 });
  assertExactlyOnce(assert, events, ids);
  assert.equal(events.length, 400);

  const stats = await env.collector.stats();
  const reqs = (await env.collector.requests()).filter((r) => r.path === "/v1-batch");
  const statuses = reqs.map((r) => r.status);
  assert.ok(statuses.some((s) => s >= 500), "no 5xx was injected: the test proved nothing");
  assert.ok(reqs.some((r) => r.dropped), "no response was dropped: the test proved nothing");
  const s = await page.evaluate(() => stats());
  assert.equal(s.failed, 0, "a transient failure was reported as permanent");
  assert.ok(s.retried > 0, "stats().retried");
  t.diagnostic(`${reqs.length} requests, statuses ${JSON.stringify(countBy(statuses))}, duplicates ${duplicatesOf(stats)}`);
});

function countBy(xs) {
  const m = {};
  for (const x of xs) m[x] = (m[x] ?? 0) + 1;
  return m;
}
