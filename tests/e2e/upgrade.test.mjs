// An app upgraded between two page loads loses nothing: events the earlier release left in
// IndexedDB as one record per event (keyed by messageId) are restored next to records of the
// current format (one per tick), sent exactly once with their messageIds, and then removed.
import test from "node:test";
import assert from "node:assert/strict";
import { assertExactlyOnce, setup, waitFor, waitForIds } from "./harness.mjs";

test("records of the one-event format survive an upgrade and are sent once", { timeout: 90_000 }, async (t) => {
  const env = await setup(t);
  // Nothing leaves on its own: the events stay stored until the next page.
  const quiet = env.options({ storage: "indexeddb", flushAt: 1000, flushIntervalMs: 600_000 });
  const page = await env.open();
  await page.evaluate((o) => make(o), quiet);
  const old = await page.evaluate(() => trackMany(30, "Before Upgrade"));
  await page.waitForTimeout(300); // committed
  // Rewrite what the store holds the way the earlier release wrote it: one record per event,
  // keyed by messageId, the value the driver made (time, sequence, event bytes).
  const converted = await page.evaluate(async (name) => {
    const db = await new Promise((ok, fail) => {
      const r = indexedDB.open(name);
      r.onsuccess = () => ok(r.result);
      r.onerror = () => fail(r.error);
    });
    const tx = db.transaction("events", "readwrite");
    const s = tx.objectStore("events");
    let n = 0;
    const keys = await new Promise((ok) => (s.getAllKeys().onsuccess = (e) => ok(e.target.result)));
    for (const key of keys) {
      const v = await new Promise((ok) => (s.get(key).onsuccess = (e) => ok(e.target.result)));
      if (!Array.isArray(v)) continue;
      for (let i = 0; i < v.length; i += 2, n++) s.put(v[i + 1], v[i]); // [messageId, value, ...]
      s.delete(key);
    }
    await new Promise((ok) => (tx.oncomplete = ok));
    db.close();
    return n;
  }, "batchwire:" + quiet.writeKey);
  assert.equal(converted, 30, "every event rewritten in the one-event format");
  // And a tick in the current format next to them.
  const fresh = await page.evaluate(() => trackMany(10, "After Upgrade", {}, 30));
  await page.waitForTimeout(300);

  // Leaving, the page sends what it holds with keepalive: refused here, so the next page is the
  // one that restores and sends them.
  await env.collector.faults({ fail_rate: 1, statuses: [503] });
  await page.reload();
  await page.waitForFunction("window.bwReady === true");
  await env.collector.clearFaults();
  await page.evaluate((o) => make(o), env.options({ storage: "indexeddb" }));
  await page.evaluate(() => client.flush());
  const ids = [...old, ...fresh];
  const events = await waitForIds(env, ids, { timeout: 30_000 });
  assertExactlyOnce(assert, events, ids);
  assert.equal(events.length, 40, "the collector stored events nobody tracked");
  // Delivered, so removed: both formats.
  const name = "batchwire:" + quiet.writeKey + "/events";
  await waitFor(async () => (await page.evaluate(() => idbCensus()))[name] === 0,
    { timeout: 10_000, what: "the store to be empty" });
});
