// A burst in one task costs IndexedDB the same per event however large it is: each event's
// value is written once, in a record of at most a request's worth (flushAt) that its ack
// deletes whole, never rewritten (nor read: the store knows what it wrote there). Counted in the page (IDBObjectStore.prototype.put, get and delete
// wrapped before the client loads), at two burst sizes; counts, not timings.
import test from "node:test";
import assert from "node:assert/strict";
import { IDB_IO_HOOK, idbIo, requestLog, setup, waitFor } from "./harness.mjs";


async function burst(env, n) {
  const page = await env.open();
  await page.evaluate((o) => make(o), env.options({ storage: "indexeddb", flushAt: 100, requestsPerWindow: 0 }));
  await idbIo(page, true);
  await page.evaluate((k) => trackMany(k, "Burst", { sku: "SKU-1", price: 49.99 }), n);
  const name = "batchwire:" + env.options().writeKey + "/events";
  await waitFor(async () => {
    const s = await page.evaluate(() => stats());
    return s.delivered === n && s.queued === 0 && (await page.evaluate(() => idbCensus()))[name] === 0;
  }, { timeout: 60_000, what: `a burst of ${n} delivered and the store emptied` });
  const io = await idbIo(page);
  await page.close();
  return io;
}

test("IndexedDB bytes written per delivered event stay the same as a burst grows", { timeout: 120_000 }, async (t) => {
  const env = await setup(t, { collectorArgs: ["--rate-per-ip", "1000000", "--rate-per-org", "1000000"] });
  await env.context.addInitScript(IDB_IO_HOOK);
  const small = await burst(env, 300);
  const large = await burst(env, 3000);
  const per = (io, n) => io.bytes / n;
  assert.ok(small.bytes > 0, "the burst was stored");
  // Event i's value grows by a digit or so with i: a few bytes, not a rewrite of the rest.
  assert.ok(per(large, 3000) <= per(small, 300) * 1.05,
    `bytes per event ${per(small, 300).toFixed(0)} (300) -> ${per(large, 3000).toFixed(0)} (3,000)`);
  // A record per 100 events, each put once (a rewrite is a second put) and deleted once.
  for (const [io, n] of [[small, 300], [large, 3000]]) {
    assert.equal(io.puts, n / 100, `records written for ${n} events: ${JSON.stringify(io)}`);
    assert.equal(io.deletes, io.puts, `records deleted for ${n} events: ${JSON.stringify(io)}`);
    // The store wrote each record itself: its ack deletes it without reading it back.
    assert.equal(io.gets, 0, `records read back for ${n} events: ${JSON.stringify(io)}`);
  }
});

// A record whose events leave in several requests: each ack but the last takes its events out of
// the record (read once and written back without them), so a page closed in between reloads only
// what was not delivered; the last ack deletes it.
test("a record acked in parts is rewritten without what each part delivered", { timeout: 60_000 }, async (t) => {
  const env = await setup(t, { collectorArgs: ["--rate-per-ip", "1000000", "--rate-per-org", "1000000"] });
  await env.context.addInitScript(IDB_IO_HOOK);
  const page = await env.open();
  // One record of 10 events (flushAt), requests of fewer bytes than 10 events, one at a time.
  await page.evaluate((o) => make(o), env.options({ storage: "indexeddb", flushAt: 10, maxBatchBytes: 2048, maxInFlight: 1,
    requestsPerWindow: 0 }));
  await idbIo(page, true);
  await page.evaluate(() => trackMany(10, "Burst", { sku: "SKU-1", price: 49.99 }));
  const name = "batchwire:" + env.options().writeKey + "/events";
  await waitFor(async () => {
    const s = await page.evaluate(() => stats());
    return s.delivered === 10 && (await page.evaluate(() => idbCensus()))[name] === 0;
  }, { what: "10 events delivered and the store emptied" });
  const io = await idbIo(page);
  const sent = requestLog(await env.collector.stats()).filter((r) => r.status === 200);
  assert.ok(sent.length > 1 && sent.every((r) => r.events < 10), `requests: ${JSON.stringify(sent)}`);
  assert.equal(io.gets, sent.length - 1, `one read per partial ack: ${JSON.stringify(io)}`);
  assert.equal(io.puts, sent.length, `the record written, then rewritten at each partial ack: ${JSON.stringify(io)}`);
  assert.equal(io.deletes, 1, JSON.stringify(io));
});
