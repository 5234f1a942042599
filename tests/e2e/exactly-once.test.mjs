// 1,000 events tracked in a page arrive at the collector exactly once, intact.
import test from "node:test";
import assert from "node:assert/strict";
import { assertExactlyOnce, duplicatesOf, setup, waitForIds } from "./harness.mjs";

test("1,000 tracked events are stored exactly once", { timeout: 60_000 }, async (t) => {
  const env = await setup(t);
  const page = await env.open();
  await page.evaluate((o) => make(o), env.options({ storage: "indexeddb" }));
  const ids = await page.evaluate(() => trackMany(1000, "Order Completed", { total: 49.99 }));
  assert.equal(ids.length, 1000);
  await page.evaluate(() => client.flush());

  const events = await waitForIds(env, ids);
  assertExactlyOnce(assert, events, ids);
  assert.equal(events.length, 1000, "the collector stored events nobody tracked");
  const stats = await env.collector.stats();
  assert.equal(duplicatesOf(stats), 0, "an event was sent again although every request succeeded");

  // What arrived is what was tracked: type, name, properties, the identity fields the API requires.
  const seen = new Set();
  for (const e of events) {
    assert.equal(e.type, "track");
    assert.equal(e.event, "Order Completed");
    assert.equal(e.properties.total, 49.99);
    seen.add(e.properties.i);
    assert.ok(typeof e.anonymousId === "string" && e.anonymousId.length > 0, "anonymousId");
    assert.ok(!Number.isNaN(Date.parse(e.timestamp)), `timestamp ${e.timestamp}`);
  }
  assert.equal(seen.size, 1000, "properties.i 0..999 each once");

  const reqs = (await env.collector.requests()).filter((r) => r.path === "/v1-batch");
  assert.ok(reqs.every((r) => r.status === 200), `statuses: ${reqs.map((r) => r.status)}`);
  assert.ok(reqs.every((r) => r.events <= 100), `events per request: ${reqs.map((r) => r.events)}`);

  // The flush promise resolved after the acks: the client agrees nothing is left.
  const s = await page.evaluate(() => stats());
  assert.equal(s.delivered, 1000);
  assert.equal(s.queued, 0);
  assert.equal(s.inFlight, 0);
  assert.equal(s.failed, 0);
});
