// A per-minute 429 with Retry-After is honoured to the second, then everything is delivered.
import test from "node:test";
import assert from "node:assert/strict";
import { assertExactlyOnce, setup, waitForIds } from "./harness.mjs";

test("a 429 with Retry-After: 3 holds every request for 3 s, then all arrive", { timeout: 60_000 }, async (t) => {
  const env = await setup(t);
  await env.collector.faults({ script: [{ status: 429, retry_after: "3" }] });
  const page = await env.open();
  await page.evaluate((o) => make(o), env.options({ storage: "memory", flushAt: 20, backoffBaseMs: 100 }));
  const ids = await page.evaluate(() => trackMany(60, "Rate Limited"));
  await page.evaluate(() => flushSoon());

  const events = await waitForIds(env, ids, { timeout: 30_000 });
  assertExactlyOnce(assert, events, ids);

  const reqs = (await env.collector.requests()).filter((r) => r.path === "/v1-batch");
  const first429 = reqs.findIndex((r) => r.status === 429);
  assert.ok(first429 >= 0, `the scripted 429 was never served: ${JSON.stringify(reqs.map((r) => r.status))}`);
  const answeredAt = reqs[first429].atMs;
  const after = reqs.slice(first429 + 1);
  assert.ok(after.length > 0);
  const early = after.filter((r) => r.atMs < answeredAt + 3000);
  assert.deepEqual(early.map((r) => r.atMs - answeredAt), [],
    "requests that reached the collector less than 3000 ms after the 429 (ms after it)");
  const notes = await page.evaluate(() => notes.rateLimited);
  assert.ok(notes.count >= 1, "the application was not told about the rate limit");
  t.diagnostic(`first request after the 429 came ${after[0].atMs - answeredAt} ms later`);
});

test("the collector's own per-IP window (5 requests / 2 s): every 429's Retry-After is honoured", { timeout: 60_000 }, async (t) => {
  const env = await setup(t, { collectorArgs: ["--rate-per-ip", "5", "--window-secs", "2"] });
  const page = await env.open();
  // About 15 events per request: 300 events need some 20 requests, four windows' worth.
  await page.evaluate((o) => make(o), env.options({ storage: "memory", maxBatchBytes: 4096, backoffBaseMs: 50 }));
  const ids = await page.evaluate(() => trackMany(300, "Windowed"));
  await page.evaluate(() => flushSoon());

  const events = await waitForIds(env, ids, { timeout: 40_000 });
  assertExactlyOnce(assert, events, ids);
  const reqs = (await env.collector.requests()).filter((r) => r.path === "/v1-batch");
  const limited = reqs.filter((r) => r.status === 429);
  assert.ok(limited.length > 0, "the window was never hit: the test proved nothing");
  // After a 429 that says "retry after N s", nothing arrives before N s have passed. Requests that
  // were already in flight when the 429 was answered (arrived within a few ms of it) are exempt.
  const violations = [];
  for (const r of limited) {
    const wait = Number(r.retryAfter) * 1000;
    const early = reqs.filter((x) => x.atMs > r.atMs + 50 && x.atMs < r.atMs + wait);
    if (early.length) violations.push(`429 at ${r.atMs} (Retry-After ${wait} ms): ${early.length} early`);
  }
  assert.deepEqual(violations, []);
  t.diagnostic(`${reqs.length} requests, ${limited.length} answered 429`);
});
