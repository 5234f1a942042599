// A per-minute 429 with Retry-After (seconds or an HTTP-date) is honoured to the second, then
// everything is delivered.
import test from "node:test";
import assert from "node:assert/strict";
import { assertExactlyOnce, setup, waitForIds } from "./harness.mjs";

// Tracks 60 events and flushes them against a collector whose first answer is a 429 with
// `retryAfter`; once all arrived exactly once, returns the requests after that 429 and when it
// was answered.
async function throughA429(env, name, retryAfter) {
  await env.collector.faults({ script: [{ status: 429, retry_after: retryAfter }] });
  const page = await env.open();
  await page.evaluate((o) => make(o), env.options({ storage: "memory", flushAt: 20, backoffBaseMs: 100 }));
  const ids = await page.evaluate((n) => trackMany(60, n), name);
  await page.evaluate(() => flushSoon());

  const events = await waitForIds(env, ids, { timeout: 30_000 });
  assertExactlyOnce(assert, events, ids);
  const reqs = (await env.collector.requests()).filter((r) => r.path === "/v1-batch");
  const first429 = reqs.findIndex((r) => r.status === 429);
  assert.ok(first429 >= 0, `the scripted 429 was never served: ${JSON.stringify(reqs.map((r) => r.status))}`);
  const after = reqs.slice(first429 + 1);
  assert.ok(after.length > 0);
  const notes = await page.evaluate(() => notes.rateLimited);
  assert.ok(notes.count >= 1, "the application was not told about the rate limit");
  return { answeredAt: reqs[first429].atMs, after };
}

test("a 429 with Retry-After: 3 holds every request for 3 s, then all arrive", { timeout: 60_000 }, async (t) => {
  const env = await setup(t);
  const { answeredAt, after } = await throughA429(env, "Rate Limited", "3");
  const early = after.filter((r) => r.atMs < answeredAt + 3000);
  assert.deepEqual(early.map((r) => r.atMs - answeredAt), [],
    "requests that reached the collector less than 3000 ms after the 429 (ms after it)");
  t.diagnostic(`first request after the 429 came ${after[0].atMs - answeredAt} ms later`);
});

// The package's wasm reads Retry-After only as seconds; its web layer converts an HTTP-date with
// Date.parse (rounded up to whole seconds), so this checks that path.
test("a 429 with Retry-After as an HTTP-date holds every request until that time", { timeout: 60_000 }, async (t) => {
  const env = await setup(t);
  // Whole seconds, as the format has them: at least 3 s from now.
  const until = Math.ceil((Date.now() + 3000) / 1000) * 1000;
  const { after } = await throughA429(env, "Rate Limited Until A Date", new Date(until).toUTCString());
  const early = after.filter((r) => r.atMs < until);
  assert.deepEqual(early.map((r) => r.atMs - until), [], "requests that reached the collector before the Retry-After date (ms)");
  t.diagnostic(`first request after the 429 came ${after[0].atMs - until} ms after the date`);
});

test("the collector's own per-IP window (5 requests / 2 s): the 429's Retry-After is honoured, and the budget it teaches kept", { timeout: 60_000 }, async (t) => {
  const env = await setup(t, { collectorArgs: ["--rate-per-ip", "5", "--window-secs", "2"] });
  const page = await env.open();
  // About 15 events per request: 300 events need some 20 requests, four windows' worth. The 429
  // teaches the client (pacing, docs/PROTOCOLS.md G) that a window admits 5 of its requests and,
  // from when it reopens, that it is about 2 s long (not the documented minute); it then sends 5
  // per window and never hears a second 429.
  await page.evaluate((o) => make(o), env.options({ storage: "memory", maxBatchBytes: 4096, backoffBaseMs: 50 }));
  const ids = await page.evaluate(() => trackMany(300, "Windowed"));
  await page.evaluate(() => flushSoon());

  const events = await waitForIds(env, ids, { timeout: 40_000 });
  assertExactlyOnce(assert, events, ids);
  const reqs = (await env.collector.requests()).filter((r) => r.path === "/v1-batch");
  const limited = reqs.filter((r) => r.status === 429);
  assert.ok(limited.length > 0, "the window was never hit: the test proved nothing");
  assert.equal(limited.length, 1, "a second 429: the client did not keep the budget the first taught");
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
