// The package in a dedicated web worker (no document, no localStorage): the same entry a page
// imports creates a client there, keeps events in the worker's IndexedDB and delivers them.
import test from "node:test";
import assert from "node:assert/strict";
import { assertExactlyOnce, setup, waitForIds } from "./harness.mjs";

test("a module worker tracks and delivers through the package", { timeout: 60_000 }, async (t) => {
  const env = await setup(t);
  const page = await env.open();
  const answer = await page.evaluate((options) => new Promise((ok) => {
    const worker = new Worker("/e2e/track-worker.js", { type: "module" });
    worker.onmessage = (e) => ok(e.data);
    worker.onerror = (e) => ok({ error: `worker error: ${e.message}` });
    worker.postMessage({ options, n: 20 });
  }), env.options({ storage: "indexeddb" }));
  assert.equal(answer.error, undefined, `${answer.error}\n${env.diagnostics()}`);
  assert.equal(answer.ids.length, 20);
  assert.equal(answer.stats.delivered, 20);
  assert.equal(answer.stats.stored, true, "the worker's client fell back to memory");
  assertExactlyOnce(assert, await waitForIds(env, answer.ids), answer.ids);
});
