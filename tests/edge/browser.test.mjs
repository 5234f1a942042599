// The browser package (pkg/) in headless Chromium pointed at the edge (`apiHost` = the edge's URL),
// cross-origin with the page's origin on the edge's CORS allow-list: every tracked event is
// delivered through the edge to the collector exactly once, and the page sees each acknowledged.
import test from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startEdge } from "../../scripts/edge.mjs";
import { assertExactlyOnce, setup, waitForIds } from "../e2e/harness.mjs";
import { v1Config } from "./harness.mjs";

const PAGE_KEY = "uk_live_page_source";

test("the browser package delivers through the edge exactly once", { timeout: 90_000 }, async (t) => {
  const env = await setup(t);
  const persistDir = mkdtempSync(join(tmpdir(), "batchwire-edge-"));
  const edge = await startEdge({
    upstreamUrl: env.collector.url, persistDir, root: process.env.EDGE_ROOT,
    // The page's key is the edge's source key only: the collector would refuse it (401).
    config: v1Config(env.collector.url, { cors: [env.web.url], sources: { [PAGE_KEY]: { destination: "collector" } } }),
  });
  t.after(async () => {
    await edge.stop();
    rmSync(persistDir, { recursive: true, force: true });
  });
  env.apiHost = edge.url;

  const page = await env.open();
  await page.evaluate((o) => make(o), env.options({ writeKey: PAGE_KEY, storage: "indexeddb", flushAt: 50 }));
  const ids = await page.evaluate(() => trackMany(500, "Checkout Started", { cart: 3 }));
  await page.evaluate(() => client.flush());

  const events = await waitForIds(env, ids, { timeout: 30_000 });
  assertExactlyOnce(assert, events, ids);
  assert.equal(events.length, ids.length, "the collector stored events nobody tracked");
  for (const e of events) assert.equal(e.event, "Checkout Started");
  const s = await page.evaluate(() => stats());
  assert.deepEqual({ delivered: s.delivered, failed: s.failed, queued: s.queued }, { delivered: 500, failed: 0, queued: 0 });
  // The collector saw only the edge's requests, each accepted (the page's key would be a 401).
  const log = await env.collector.requests();
  assert.ok(log.length > 0 && log.every((r) => r.path === "/v1-batch" && r.status === 200), JSON.stringify(log.slice(0, 5)));
});
