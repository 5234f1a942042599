// The whole client of the built package in a real page, with a stand-in `fetch` playing the server:
// delivery and flush, IndexedDB across a "reload", two clients of one key as two tabs (one sends,
// the other hands over; the lock moves on shutdown), memory fallback, unload, shutdown and hostile
// input. The scenarios are pages/client-scenarios.js; each runs in its own page of a fresh browser
// context (setup), so their fetch stand-ins, IndexedDB databases and Web Locks do not meet. They do
// not talk to the collector setup starts.
import test from "node:test";
import assert from "node:assert/strict";
import { setup } from "./harness.mjs";

const TIMEOUT = 60_000;

/**
 * Runs the scenario `name` in a fresh page with window.bw.createClient (and, with `withError`,
 * window.bw.BatchwireError); returns the JSON string it returned.
 */
async function scenario(t, name, { withError = false } = {}) {
  const env = await setup(t);
  const page = await env.open();
  let seen;
  try {
    seen = await page.evaluate(async ({ name, withError }) => {
      // The wasm module is fetched with the page's real fetch, before a scenario replaces it.
      await window.bw.init();
      const scenarios = await import("/e2e/client-scenarios.js");
      const args = withError ? [window.bw.createClient, window.bw.BatchwireError] : [window.bw.createClient];
      return scenarios[name](...args);
    }, { name, withError });
  } catch (e) {
    throw new Error(`scenario ${name} failed: ${e.message}\npage diagnostics:\n${env.diagnostics()}`);
  }
  assert.equal(typeof seen, "string", `scenario ${name} returned ${seen}`);
  return seen;
}

test("delivers, flushes and empties the store", { timeout: TIMEOUT }, async (t) => {
  assert.equal(
    await scenario(t, "delivers"),
    `{"requests":1,"sameIds":true,"heard":true,"storedBefore":1,"storedAfter":0,"queued":0,"delivered":3,"stored":true}`,
  );
});

test("stored events outlive the client and are resent with their messageIds", { timeout: TIMEOUT }, async (t) => {
  assert.equal(await scenario(t, "reloadKeepsEvents"), `{"tried":5,"resent":true,"left":0}`);
});

test("two clients of one key share one sender and the lock moves on shutdown", { timeout: TIMEOUT }, async (t) => {
  assert.equal(
    await scenario(t, "twoTabs"),
    `{"once":10,"heardB":12,"bDelivered":10,"bQueued":0,"after":2,"total":12}`,
  );
});

test("without IndexedDB the client warns once and works in memory", { timeout: TIMEOUT }, async (t) => {
  const seen = await scenario(t, "memoryFallback");
  const expected = `{"warnings":["W_STORAGE IndexedDB failed (SecurityError: no storage here); events are kept in memory only"],"stored":false,"delivered":true}`;
  assert.ok(seen.startsWith(expected), seen);
});

test("pagehide sends what is queued with keepalive", { timeout: TIMEOUT }, async (t) => {
  assert.equal(await scenario(t, "unloadSendsWithKeepalive"), `{"requests":[[true,5]],"all":true,"delivered":5}`);
});

test("pagehide lets the Web Lock go and pageshow takes it again", { timeout: TIMEOUT }, async (t) => {
  // Held before, released on leaving (else Chrome keeps the page out of the back/forward cache),
  // held again once back, and events flow again.
  assert.equal(
    await scenario(t, "pagehideLetsTheLockGo"),
    `{"before":1,"afterLeaving":0,"back":1,"flushed":"b","sent":true}`,
  );
});

test("after shutdown, calls fail with E_SHUTDOWN", { timeout: TIMEOUT }, async (t) => {
  assert.equal(
    await scenario(t, "shutdownRefuses", { withError: true }),
    `{"track":[true,"E_SHUTDOWN"],"flush":[true,"E_SHUTDOWN"]}`,
  );
});

test("hostile input gets coded errors naming the field and the client keeps working", { timeout: TIMEOUT }, async (t) => {
  const seen = await scenario(t, "hostileInput", { withError: true });
  for (const expected of [
    `[true,"E_INVALID_EVENT","properties.self refers back to an object containing it (a cycle) (field: properties.self)"]`,
    `[true,"E_INVALID_EVENT","properties.cart.n is a BigInt (convert it to a string or number) (field: properties.cart.n)"]`,
    `["failed","E_INVALID_EVENT","track event name is 201 characters; the limit is 200 (field: event)"]`,
    `[true,"E_INVALID_EVENT","event must be a string, not number (field: event)"]`,
    `[true,"E_TOO_LARGE",`,
    `[true,"E_INVALID_EVENT","properties must be an object, not an array (field: properties)"]`,
    `[true,"E_INVALID_ARGUMENT",`,
    `"okDelivered":true,"requests":1`,
  ]) {
    assert.ok(seen.includes(expected), `${expected}\nnot in\n${seen}`);
  }
});
