// A monthly-quota 429 holds the events without hammering the server; lifting the quota at the
// collector lets them go, each exactly once.
import test from "node:test";
import assert from "node:assert/strict";
import { assertExactlyOnce, setup, waitFor, waitForIds } from "./harness.mjs";

const PROBE_MS = 500;
const HOLD_MS = 3000;

test("a monthly-quota 429 holds events and they go out once the quota is lifted", { timeout: 60_000 }, async (t) => {
  const env = await setup(t);
  await env.collector.config({ monthly_quota: 0 });
  const page = await env.open();
  await page.evaluate((o) => make(o), env.options({
    storage: "indexeddb", flushAt: 10, quotaProbeMs: PROBE_MS, backoffBaseMs: 50, backoffMaxMs: 200,
  }));
  const ids = await page.evaluate(() => trackMany(40, "Quota"));
  await page.evaluate(() => flushSoon());

  const first = await waitFor(async () => (await env.collector.requests()).find((r) => r.status === 429),
    { timeout: 10_000, what: "the quota 429" });
  await waitFor(() => page.evaluate(() => client.stats().quotaHeldUntil > 0),
    { timeout: 5000, what: "stats().quotaHeldUntil to be set" });
  // The hold is observed over a fixed window: that is the property under test (request count per
  // unit of time), not a sleep standing in for a condition.
  await new Promise((r) => setTimeout(r, HOLD_MS));
  const held = (await env.collector.requests()).filter((r) => r.path === "/v1-batch" && r.atMs > first.atMs);
  assert.ok(held.length <= Math.ceil(HOLD_MS / PROBE_MS) + 2,
    `${held.length} requests in ${HOLD_MS} ms while held with quotaProbeMs ${PROBE_MS}`);
  assert.ok(held.every((r) => r.status === 429), "a request was answered other than 429 while held");
  assert.equal((await env.collector.events()).length, 0);
  const s = await page.evaluate(() => stats());
  assert.equal(s.delivered, 0);
  assert.equal(s.failed, 0, "held events must not be reported failed");
  assert.ok((await page.evaluate(() => notes.quotaHeld.count)) >= 1, "the application was not told");

  await env.collector.config({ monthly_quota: null });
  const events = await waitForIds(env, ids, { timeout: 20_000 });
  assertExactlyOnce(assert, events, ids);
  t.diagnostic(`${held.length} probe requests during the ${HOLD_MS} ms hold`);
});
