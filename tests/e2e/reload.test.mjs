// Reloading the page while a flush is in flight loses nothing and stores nothing twice: the events
// stay in IndexedDB until acked, and the next page load sends them again with the same messageIds.
import test from "node:test";
import assert from "node:assert/strict";
import { assertExactlyOnce, duplicatesOf, setup, waitFor, waitForIds } from "./harness.mjs";

test("a reload in the middle of a flush loses and duplicates nothing", { timeout: 90_000 }, async (t) => {
  const env = await setup(t);
  const options = env.options({ storage: "indexeddb", flushAt: 50 });
  // Every request waits 1.5 s at the collector, so the flush is certainly in flight at the reload.
  await env.collector.faults({ latency_ms: 1500, latency_rate: 1 });

  const page = await env.open();
  await page.evaluate((o) => make(o), options);
  const ids = await page.evaluate(() => trackMany(300, "Reload Test"));
  await page.evaluate(() => flushSoon());
  await page.waitForFunction(() => client.stats().inFlight > 0, null, { timeout: 10_000 });
  const before = await page.evaluate(() => stats());

  await page.reload();
  await page.waitForFunction("window.bwReady === true");
  await env.collector.clearFaults();
  await page.evaluate((o) => make(o), options);
  await page.evaluate(() => client.flush());

  const events = await waitForIds(env, ids, { timeout: 45_000 });
  assertExactlyOnce(assert, events, ids);
  assert.equal(events.length, 300, "the collector stored events nobody tracked");
  // The stored copy is emptied as acks come in: once the new page has delivered everything the
  // client reports nothing left, so a third page load would resend nothing.
  await waitFor(() => page.evaluate(() => client.stats().queued === 0 && client.stats().inFlight === 0),
    { timeout: 10_000, what: "the reloaded client to empty its queue" });
  const stats = await env.collector.stats();
  t.diagnostic(`in flight at reload: ${before.inFlight}; duplicates recognised by the collector: ${duplicatesOf(stats)}`);
});
