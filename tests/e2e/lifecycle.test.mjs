// A client that was shut down gives its memory back: an app that creates, uses and shuts down
// clients one after another (a logout, a new user) keeps a flat wasm memory, and a shut-down
// client still answers: stats() as it last was, track() and flush() with E_SHUTDOWN, shutdown() at once.
import test from "node:test";
import assert from "node:assert/strict";
import { setup, WASM_MEMORY_HOOK } from "./harness.mjs";

test("clients created and shut down one after another do not grow the wasm memory", { timeout: 60_000 }, async (t) => {
  // 120 requests: past the collector's default 100 per window, which would pause the test a minute.
  const env = await setup(t, { collectorArgs: ["--rate-per-ip", "1000"] });
  // The module's memory, caught as the package instantiates it.
  await env.context.addInitScript(WASM_MEMORY_HOOK);
  const page = await env.open();
  const seen = await page.evaluate(async (base) => {
    const sizes = [];
    let last;
    for (let k = 0; k < 12; k++) {
      const c = await window.bw.createClient({ ...base, storage: "memory" });
      for (let i = 0; i < 1000; i++) c.track("Lifecycle", { k, i, pad: "x".repeat(50) });
      await c.flush();
      await c.shutdown();
      sizes.push(window.wasmMemory.buffer.byteLength);
      last = c;
    }
    await new Promise((ok) => setTimeout(ok)); // the driver is freed after shutdown's last call
    const refused = (f) => {
      try {
        f();
        return "no error";
      } catch (e) {
        return e.code;
      }
    };
    let flush;
    try {
      await last.flush();
      flush = "no error";
    } catch (e) {
      flush = e.code;
    }
    await last.shutdown(); // resolves: nothing left to wait for
    return { sizes, stats: last.stats(), track: refused(() => last.track("After")), flush };
  }, env.options());
  // Each client queued 1,000 events (about 64 KiB of queue): kept, the last 8 clients would add
  // 512 KiB.
  const grown = seen.sizes.at(-1) - seen.sizes[3];
  assert.ok(grown <= 192 * 1024, `wasm memory grew by ${grown} bytes over 8 clients: ${seen.sizes}`);
  assert.deepEqual(seen.stats, {
    queued: 0, inFlight: 0, delivered: 1000, failed: 0, retried: 0, rateLimitedUntil: null, quotaHeldUntil: null,
    stored: false,
  });
  assert.equal(seen.track, "E_SHUTDOWN");
  assert.equal(seen.flush, "E_SHUTDOWN");
  const stats = await env.collector.stats();
  assert.equal(stats.events.stored, 12 * 1000);
  assert.equal(stats.events.duplicates, 0);
});
