// Closing the page right after tracking loses nothing: what the unload send does not deliver stays
// in IndexedDB and the next visit (a new page in the same browser profile) sends it.
import test from "node:test";
import assert from "node:assert/strict";
import { assertExactlyOnce, setup, waitForIds } from "./harness.mjs";

async function closeThenRevisit(t, env, options, n) {
  const page = await env.open();
  await page.evaluate((o) => make(o), options);
  const ids = await page.evaluate((k) => trackMany(k, "Unload Test"), n);
  const closed = new Promise((r) => page.once("close", r));
  await page.close({ runBeforeUnload: true });
  await closed;

  // Give the unload send (fetch keepalive) a chance to land before the next visit; whether it
  // delivered all, some or none, the next visit must complete the set exactly once.
  let fromUnload = 0;
  try {
    await waitForIds(env, ids, { timeout: 3000 });
  } catch {
    // not all of them: the next visit must send the rest
  }
  const have = new Set((await env.collector.events()).map((e) => e.messageId));
  fromUnload = ids.filter((id) => have.has(id)).length;

  const next = await env.open();
  await next.evaluate((o) => make(o), options);
  await next.evaluate(() => client.flush());
  const events = await waitForIds(env, ids, { timeout: 30_000 });
  assertExactlyOnce(assert, events, ids);
  t.diagnostic(`${fromUnload} of ${n} stored before the next visit, the rest sent by it`);
}

test("closing the page right after 200 track calls loses nothing", { timeout: 60_000 }, async (t) => {
  const env = await setup(t);
  await closeThenRevisit(t, env, env.options({ storage: "indexeddb" }), 200);
});

test("events only queued (no flush due) at close are sent on unload or on the next visit", { timeout: 60_000 }, async (t) => {
  const env = await setup(t);
  // Nothing is due before the close: only the pagehide path or the next visit can deliver them.
  await closeThenRevisit(t, env, env.options({ storage: "indexeddb", flushIntervalMs: 600_000 }), 60);
});
