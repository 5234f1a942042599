// The wasm memory a queue's events took is what its drain works in: delivering a queue grows it
// no further (WebAssembly memory never shrinks, so growth while draining would be kept for good).
// Counted in the page: the package's memory, caught as it is instantiated; bytes, not timings.
import test from "node:test";
import assert from "node:assert/strict";
import { setup, waitFor, WASM_MEMORY_HOOK } from "./harness.mjs";

test("draining a queue of 5,000 events grows the wasm memory by at most two pages", { timeout: 120_000 }, async (t) => {
  const env = await setup(t, { collectorArgs: ["--rate-per-ip", "1000000", "--rate-per-org", "1000000"] });
  await env.context.addInitScript(WASM_MEMORY_HOOK);
  const page = await env.open();
  await page.evaluate((o) => make(o), env.options({ storage: "memory", flushAt: 100, requestsPerWindow: 0, maxQueueEvents: 20_000 }));
  const n = 5000;
  // Tracked in one task; read once the engine has queued them all (and sent the first request).
  const queued = await page.evaluate((k) => new Promise((ok) => {
    trackMany(k, "Drain", { sku: "SKU-1", price: 49.99 });
    setTimeout(() => ok(wasmMemory.buffer.byteLength));
  }), n);
  await waitFor(async () => (await page.evaluate(() => stats())).delivered === n,
    { timeout: 60_000, what: `${n} events delivered` });
  const drained = await page.evaluate(() => wasmMemory.buffer.byteLength);
  assert.ok(queued > 0, "the package's memory was found");
  assert.ok(drained - queued <= 2 * 65536, `wasm memory ${queued} -> ${drained} B while ${n} queued events were delivered`);
});
