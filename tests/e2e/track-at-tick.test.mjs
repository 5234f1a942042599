// In a page, track() checks its input in JavaScript and returns; the engine takes the events of the
// task in a microtask. These prove that nothing observable depends on when: every call that reaches
// the engine after track() (stats, flush, the page being hidden or left) sees the events tracked
// before it, in order; an event the engine's rules refuse is reported through `failed` with the
// messageId track() returned and the message a throw would have carried; a call after
// shutdown() still throws at once; and a long run of calls hands its events over as it goes (by
// 256), not all at the task's end, in order.
import test from "node:test";
import assert from "node:assert/strict";
import { assertExactlyOnce, setup, waitForIds, WASM_MEMORY_HOOK } from "./harness.mjs";

test("events tracked in a task are seen by stats, flush and a refusal report, in order", { timeout: 60_000 }, async (t) => {
  const env = await setup(t);
  const page = await env.open();
  await page.evaluate((o) => make(o), env.options({ storage: "memory", flushIntervalMs: 600_000 }));
  const out = await page.evaluate(async () => {
    const failed = [];
    client.on("failed", (f) => failed.push(f));
    const ids = trackMany(5, "In Order");
    const queued = client.stats().queued; // same task: the engine has not run a microtask yet
    const tooLong = client.track("n".repeat(201));
    const more = trackMany(3, "In Order", {}, 5);
    await client.flush();
    await new Promise((ok) => setTimeout(ok)); // the listeners' microtasks
    await client.shutdown();
    let late;
    try {
      client.track("Late");
    } catch (e) {
      late = e.code;
    }
    return { ids: [...ids, ...more], queued, tooLong, failed, late, stats: client.stats() };
  });
  assert.equal(out.queued, 5, "stats() in the task that tracked did not count its events");
  assert.equal(typeof out.tooLong, "string", "a refused event's call returns its messageId");
  assert.deepEqual(out.failed, [{ messageId: out.tooLong, code: "E_INVALID_EVENT", reason: "track event name is 201 characters; the limit is 200 (field: event)" }]);
  assert.equal(out.late, "E_SHUTDOWN", "a call after shutdown() must throw at once");
  assert.equal(out.stats.delivered, 8);
  const events = await waitForIds(env, out.ids);
  assertExactlyOnce(assert, events, out.ids);
  const stored = (await env.collector.events()).map((e) => e.messageId);
  assert.deepEqual(stored, out.ids, "events arrived out of the order they were tracked in");
  assert.ok(!stored.includes(out.tooLong));
});

test("events tracked in the task that hides and leaves the page go with the unload send", { timeout: 60_000 }, async (t) => {
  const env = await setup(t);
  const page = await env.open();
  // Nothing is due before the page is left: only the unload send can carry them.
  await page.evaluate((o) => make(o), env.options({ storage: "indexeddb", flushIntervalMs: 600_000 }));
  const ids = await page.evaluate(() => {
    const ids = trackMany(7, "Tracked Then Left");
    document.dispatchEvent(new Event("visibilitychange")); // visible still: nothing to do
    dispatchEvent(new PageTransitionEvent("pagehide", { persisted: false }));
    return ids;
  });
  const events = await waitForIds(env, ids, { timeout: 20_000 });
  assertExactlyOnce(assert, events, ids);
  const requests = await env.collector.requests();
  assert.equal(requests.length, 1, `one request, the unload send: ${JSON.stringify(requests)}`);
  assert.equal(requests[0].events, 7);
});

test("a long run of track() calls hands its events to the engine as it goes, in order", { timeout: 60_000 }, async (t) => {
  const env = await setup(t);
  await env.context.addInitScript(WASM_MEMORY_HOOK);
  const page = await env.open();
  await page.evaluate((o) => make(o), env.options({ storage: "memory", flushIntervalMs: 600_000, requestsPerWindow: 0 }));
  const out = await page.evaluate(async () => {
    const bytes = () => window.wasmMemory.buffer.byteLength;
    const before = bytes();
    // About 2 MB of events in one task: were they all held in JavaScript until the task ended,
    // the engine's memory could not grow before then.
    const ids = trackMany(5000, "Handed Over", { text: "x".repeat(200) });
    const during = bytes();
    await client.flush();
    return { ids, before, during, stats: client.stats() };
  });
  assert.ok(out.during > out.before, `the engine's memory did not grow during the task (${out.before} -> ${out.during} B): the events waited for its end`);
  assert.equal(out.stats.delivered, 5000);
  const events = await waitForIds(env, out.ids, { timeout: 60_000 });
  assertExactlyOnce(assert, events, out.ids);
  const stored = (await env.collector.events()).map((e) => e.messageId);
  assert.deepEqual(stored, out.ids, "events arrived out of the order they were tracked in");
});
