// Where the store writes (src/web/js/store.js, IdbStore): once the request worker runs, every
// batch of IndexedDB writes goes from it, so that IndexedDB's clone and transactions cost the page
// nothing; a burst too large to write on the page starts the worker and waits for it. When the
// page is left, it writes again itself what the worker has not confirmed: nothing is lost.
import test from "node:test";
import assert from "node:assert/strict";
import { assertExactlyOnce, IDB_IO_HOOK, idbIo, setup, waitFor, waitForIds } from "./harness.mjs";

// The page's own IndexedDB counts (IDB_IO_HOOK), without its workers'.
const own = (page) => page.evaluate(() => ({ ...idbIo }));

// Tracks `n` events in batches of 100, each flushed before the next: one request each, the third
// starting the worker.
const sendBatches = (page, n, name) =>
  page.evaluate(async ([n, name]) => {
    const ids = [];
    for (let i = 0; i < n; i += 100) {
      ids.push(...trackMany(100, name, {}, i));
      await client.flush();
      await new Promise((ok) => setTimeout(ok, 50)); // room for the worker to start
    }
    return ids;
  }, [n, name]);

// Worker text that, once `stall` is set in the worker, leaves the store's batches unanswered (a
// worker that has not got to them yet); requests still go. Goes first in a worker made from a
// Blob that opens IndexedDB, as IDB_IO_HOOK does.
const STALL_HOOK = `(() => {
  const B = globalThis.Blob;
  const stall = () => {
    let h;
    globalThis.stall = false;
    Object.defineProperty(globalThis, "onmessage", {
      set(f) { h = f; addEventListener("message", (e) => (Array.isArray(e.data) || !globalThis.stall) && h(e)); },
      get() { return h; },
    });
  };
  globalThis.Blob = class extends B {
    constructor(parts, o) {
      const t = parts?.length === 1 && typeof parts[0] === "string" && parts[0].includes("indexedDB.open");
      super(t ? ["(" + stall + ")();", ...parts] : parts, o);
    }
  };
})();`;

test("once the request worker runs, the store is written from it, not from the page", { timeout: 60_000 }, async (t) => {
  const env = await setup(t);
  await env.context.addInitScript(IDB_IO_HOOK);
  const page = await env.open();
  await page.evaluate((o) => make(o), env.options({ storage: "indexeddb", flushIntervalMs: 600_000 }));
  const first = await sendBatches(page, 400, "Before");
  await waitFor(async () => (await idbIo(page)).puts > (await own(page)).puts, { what: "a batch written from the worker" });
  await idbIo(page, true);
  const ids = [...first, ...(await sendBatches(page, 300, "After"))];
  assertExactlyOnce(assert, await waitForIds(env, ids), ids);
  await waitFor(() => page.evaluate(async () => (await idbCensus())["batchwire:uk_live_demo/events"] === 0),
    { what: "the store emptied" });
  const all = await idbIo(page), mine = await own(page);
  assert.deepEqual({ puts: mine.puts, deletes: mine.deletes }, { puts: 0, deletes: 0 }, "the page wrote the store itself");
  assert.deepEqual({ puts: all.puts, deletes: all.deletes, gets: all.gets }, { puts: 3, deletes: 3, gets: 0 },
    "a record per request, written once and deleted once");
});

test("a burst too large to write on the page starts the worker and is written from it", { timeout: 60_000 }, async (t) => {
  const env = await setup(t);
  await env.context.addInitScript(IDB_IO_HOOK);
  const page = await env.open();
  await page.evaluate((o) => make(o), env.options({ storage: "indexeddb", flushIntervalMs: 600_000 }));
  // 400 events of about 1 KB in one task: over the 256 KiB a batch may be before it waits for
  // the worker.
  const ids = await page.evaluate(() => trackMany(400, "Burst", { text: "x".repeat(1000) }));
  await page.evaluate(() => client.flush());
  assertExactlyOnce(assert, await waitForIds(env, ids), ids);
  await waitFor(() => page.evaluate(async () => (await idbCensus())["batchwire:uk_live_demo/events"] === 0),
    { what: "the store emptied" });
  const all = await idbIo(page), mine = await own(page);
  assert.equal(page.workers().length, 1, "one worker");
  assert.equal(mine.puts, 0, "the burst was written from the page");
  assert.equal(all.puts, 4, "a record per request, written from the worker");
});

test("a page left before its worker wrote a batch writes it itself; the next visit sends it once", { timeout: 60_000 }, async (t) => {
  const env = await setup(t);
  await env.context.addInitScript(STALL_HOOK);
  const options = env.options({ storage: "indexeddb", flushIntervalMs: 600_000, backoffBaseMs: 50 });
  const page = await env.open();
  await page.evaluate((o) => make(o), options);
  await sendBatches(page, 300, "Worker Started");
  await waitFor(() => page.workers().length === 1, { what: "the worker" });
  await page.workers()[0].evaluate(() => (globalThis.stall = true));
  // Whatever the closing page sends is refused: only the store can keep these.
  await env.collector.faults({ script: [{ status: 503 }, { status: 503 }, { status: 503 }] });
  const ids = await page.evaluate(() => trackMany(60, "Left Unwritten"));
  await page.evaluate(() => new Promise((ok) => setTimeout(ok, 200))); // the batch is with the worker
  const closed = new Promise((r) => page.once("close", r));
  await page.close({ runBeforeUnload: true });
  await closed;
  await new Promise((ok) => setTimeout(ok, 1000)); // the unload send meets its 503s
  await env.collector.clearFaults();

  const next = await env.open();
  await next.evaluate((o) => make(o), options);
  await next.evaluate(() => client.flush());
  assertExactlyOnce(assert, await waitForIds(env, ids, { timeout: 20_000 }), ids);
});
