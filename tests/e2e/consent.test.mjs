// Consent: optOut() / optIn() are kept per browser and write key; while opted out nothing is
// stored or sent (not a request, not an IndexedDB record, not an identifier in localStorage); a
// `consent: "pending"` start keeps events in memory only until optIn() queues them, with the time
// they were tracked at, or optOut() drops them.
import test from "node:test";
import assert from "node:assert/strict";
import { assertExactlyOnce, setup, waitForIds } from "./harness.mjs";

// IndexedDB records of this origin (every store of every database), and batchwire's localStorage.
const census = (page) =>
  page.evaluate(async () => {
    const counts = await idbCensus();
    const kept = Object.keys(localStorage).filter((k) => k.startsWith("batchwire:")).sort();
    return { records: Object.values(counts).reduce((a, n) => a + (typeof n === "number" ? n : 0), 0), kept };
  });

const reopen = async (page, options) => {
  await page.reload();
  await page.waitForFunction("window.bwReady === true");
  await page.evaluate((o) => make(o), options);
};

test("opted out: no request, no IndexedDB record, no identifier kept, across a reload", { timeout: 90_000 }, async (t) => {
  const env = await setup(t);
  const options = env.options({ flushAt: 1, flushIntervalMs: 50 });
  const page = await env.open();
  await page.evaluate((o) => make(o), options);
  const before = await page.evaluate(() => {
    client.identify("user-1", { plan: "pro" });
    client.optOut();
    return { consent: client.consent(), ids: window.trackMany(20, "Opted Out") };
  });
  assert.equal(before.consent, "denied");
  assert.equal(before.ids.length, 20, "calls while opted out still return messageIds");
  await page.evaluate(() => client.flush());
  // The identify() before optOut() had consent: it is delivered; nothing after it is.
  await page.waitForTimeout(500);
  await reopen(page, options); // the option says nothing: what optOut() kept decides
  const after = await page.evaluate(() => ({ consent: client.consent(), ids: window.trackMany(20, "Still Out"), page: client.page("Home") }));
  assert.equal(after.consent, "denied", "optOut() was not kept for the next page");
  await page.evaluate(() => client.flush());
  await page.waitForTimeout(1000); // anything sent would have arrived by now (flush interval 50 ms)
  const sent = (await env.collector.events()).filter((e) => e.type !== "identify");
  assert.deepEqual(sent.map((e) => e.event ?? e.name), [], "events tracked while opted out reached the collector");
  const c = await census(page);
  assert.equal(c.records, 0, "IndexedDB holds records while opted out");
  assert.deepEqual(c.kept, ["batchwire:consent:uk_live_demo"], "identifiers kept in localStorage while opted out");
  assert.equal((await page.evaluate(() => window.notes.failed.count)), 0);
});

test("pending: memory only until optIn() queues each event once, with its own time; kept for the next page", { timeout: 90_000 }, async (t) => {
  const env = await setup(t);
  const options = env.options({ flushAt: 1, flushIntervalMs: 50, consent: "pending" });
  const page = await env.open();
  await page.evaluate((o) => make(o), options);
  const tracked = await page.evaluate(() => ({ at: Date.now(), consent: client.consent(), ids: window.trackMany(5, "Before Consent") }));
  assert.equal(tracked.consent, "pending");
  await page.waitForTimeout(1200);
  assert.equal((await env.collector.requests()).length, 0, "an event was sent before consent");
  const waiting = await census(page);
  assert.equal(waiting.records, 0, "an event was stored before consent");
  assert.deepEqual(waiting.kept, [], "an identifier was kept before consent");
  const later = await page.evaluate(() => {
    client.optIn();
    return { consent: client.consent(), ids: window.trackMany(3, "After Consent") };
  });
  assert.equal(later.consent, "granted");
  await page.evaluate(() => client.flush());
  const ids = [...tracked.ids, ...later.ids];
  const events = await waitForIds(env, ids);
  assertExactlyOnce(assert, events, ids);
  for (const e of events.filter((e) => e.event === "Before Consent")) {
    const at = Date.parse(e.timestamp);
    assert.ok(at >= tracked.at && at < tracked.at + 1000, `timestamp ${e.timestamp} is the tracking time, not optIn()'s`);
  }
  const kept = await census(page);
  assert.ok(kept.kept.includes("batchwire:anonymousId:uk_live_demo"), "optIn() did not keep the anonymousId");
  // The next page starts with consent: "pending" again, but optIn() was kept.
  await reopen(page, options);
  const next = await page.evaluate(() => ({ consent: client.consent(), id: client.track("Next Page") }));
  assert.equal(next.consent, "granted");
  await page.evaluate(() => client.flush());
  await waitForIds(env, [next.id]);
});

test("pending, then optOut(): what waited is dropped, never sent", { timeout: 90_000 }, async (t) => {
  const env = await setup(t);
  const options = env.options({ flushAt: 1, flushIntervalMs: 50, consent: "pending", maxQueueEvents: 3 });
  const page = await env.open();
  await page.evaluate((o) => make(o), options);
  // Over maxQueueEvents while pending: the oldest is dropped and reported.
  const ids = await page.evaluate(() => window.trackMany(4, "Waiting"));
  await page.waitForFunction(() => window.notes.failed.count === 1);
  const failed = JSON.parse(await page.evaluate(() => window.notes.failed.samples[0]));
  assert.deepEqual([failed.messageId, failed.code], [ids[0], "E_EVICTED"]);
  await page.evaluate(() => {
    client.optOut();
    client.optIn(); // nothing is left to queue
    return client.flush();
  });
  await page.waitForTimeout(1000);
  assert.equal((await env.collector.requests()).length, 0, "events dropped by optOut() were sent after optIn()");
  // After optIn() events flow again.
  const id = await page.evaluate(() => client.track("Granted"));
  await page.evaluate(() => client.flush());
  await waitForIds(env, [id]);
});

test("optOut() in one tab applies at once in the others; optIn() too", { timeout: 90_000 }, async (t) => {
  const env = await setup(t);
  const options = env.options({ flushAt: 1, flushIntervalMs: 50 });
  const a = await env.open();
  const b = await env.open();
  for (const p of [a, b]) await p.evaluate((o) => make(o), options);
  await a.evaluate(() => client.optOut());
  await b.waitForFunction(() => client.consent() === "denied");
  await b.evaluate(() => (window.trackMany(5, "Other Tab Out"), client.flush()));
  await a.evaluate(() => client.optIn());
  await b.waitForFunction(() => client.consent() === "granted");
  const id = await b.evaluate(() => client.track("Other Tab In"));
  await b.evaluate(() => client.flush());
  await waitForIds(env, [id]);
  await b.waitForTimeout(500);
  const names = (await env.collector.events()).map((e) => e.event);
  assert.deepEqual(names, ["Other Tab In"], "events tracked after another tab's optOut() were sent");
});
