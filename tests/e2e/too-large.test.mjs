// A 413 carrying limit_bytes below the batch size makes the client re-plan its batches to fit.
import test from "node:test";
import assert from "node:assert/strict";
import { assertExactlyOnce, setup, waitForIds } from "./harness.mjs";

const LIMIT = 40_000;

test("a 413 with limit_bytes resizes the batches and everything arrives", { timeout: 60_000 }, async (t) => {
  const env = await setup(t);
  await env.collector.faults({ script: [{
    status: 413,
    body: {
      success: false, error: `Request body too large: maximum ${LIMIT} bytes`, limit_bytes: LIMIT,
      hint: "Split the batch into smaller requests (max 100 events / 1 MiB per call).",
    },
  }] });
  const page = await env.open();
  await page.evaluate((o) => make(o), env.options({ storage: "memory", backoffBaseMs: 50 }));
  // 100 events of ~2 KiB: one request of ~200 KB, five times the limit the 413 announces.
  const ids = await page.evaluate(() => trackMany(100, "Resize", { pad: "p".repeat(2000) }));
  await page.evaluate(() => client.flush());

  const events = await waitForIds(env, ids, { timeout: 30_000 });
  assertExactlyOnce(assert, events, ids);
  const reqs = (await env.collector.requests()).filter((r) => r.path === "/v1-batch");
  const shape = reqs.map((r) => `${r.status}:${r.events}/${r.bytes}B`).join(" ");
  assert.equal(reqs[0].status, 413, shape);
  assert.ok(reqs[0].bytes > LIMIT, `the first request already fit: ${shape}`);
  const rest = reqs.slice(1);
  assert.ok(rest.every((r) => r.status === 200), shape);
  assert.ok(rest.every((r) => r.bytes <= LIMIT), `a request over the announced limit: ${shape}`);
  const s = await page.evaluate(() => stats());
  assert.equal(s.failed, 0, "events were failed instead of re-planned");
  t.diagnostic(shape);
});
