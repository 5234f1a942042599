// A 429 whose Retry-After is an HTTP-date is honoured to that second. The package's wasm reads
// only delay-seconds; its web layer converts the date (Date.parse), so this checks that path.
import test from "node:test";
import assert from "node:assert/strict";
import { assertExactlyOnce, setup, waitForIds } from "./harness.mjs";

test("a 429 with Retry-After as an HTTP-date holds every request until that time", { timeout: 60_000 }, async (t) => {
  const env = await setup(t);
  const page = await env.open();
  await page.evaluate((o) => make(o), env.options({ storage: "memory", flushAt: 20, backoffBaseMs: 100 }));
  // Whole seconds, as the format has them: at least 3 s from now.
  const until = Math.ceil((Date.now() + 3000) / 1000) * 1000;
  await env.collector.faults({ script: [{ status: 429, retry_after: new Date(until).toUTCString() }] });
  const ids = await page.evaluate(() => trackMany(60, "Rate Limited Until A Date"));
  await page.evaluate(() => flushSoon());

  const events = await waitForIds(env, ids, { timeout: 30_000 });
  assertExactlyOnce(assert, events, ids);
  const reqs = (await env.collector.requests()).filter((r) => r.path === "/v1-batch");
  const first429 = reqs.findIndex((r) => r.status === 429);
  assert.ok(first429 >= 0, `the scripted 429 was never served: ${JSON.stringify(reqs.map((r) => r.status))}`);
  const after = reqs.slice(first429 + 1);
  assert.ok(after.length > 0);
  const early = after.filter((r) => r.atMs < until);
  assert.deepEqual(early.map((r) => r.atMs - until), [], "requests that reached the collector before the Retry-After date (ms)");
  t.diagnostic(`first request after the 429 came ${after[0].atMs - until} ms after the date`);
});
