// Three tabs of one origin share one IndexedDB queue; only one of them sends at a time, and every
// event of every tab is stored exactly once.
import test from "node:test";
import assert from "node:assert/strict";
import { assertExactlyOnce, duplicatesOf, setup, waitForIds } from "./harness.mjs";

test("three tabs tracking together deliver every event once", { timeout: 90_000 }, async (t) => {
  const env = await setup(t);
  const options = env.options({ storage: "indexeddb" });
  const tabs = [await env.open(), await env.open(), await env.open()];
  await Promise.all(tabs.map((p) => p.evaluate((o) => make(o), options)));

  // Interleaved: each tab tracks in four rounds while the others do too.
  const ids = [];
  for (let round = 0; round < 4; round++) {
    const got = await Promise.all(tabs.map((p, k) =>
      p.evaluate(([tab, r]) => trackMany(50, `Tab ${tab}`, { tab, round: r }), [k, round])));
    ids.push(...got.flat());
  }
  assert.equal(ids.length, 600);
  await Promise.all(tabs.map((p) => p.evaluate(() => client.flush())));

  const events = await waitForIds(env, ids, { timeout: 45_000 });
  assertExactlyOnce(assert, events, ids);
  assert.equal(events.length, 600, "the collector stored events nobody tracked");
  // No fault was injected: an event sent twice means two tabs sent it concurrently.
  assert.equal(duplicatesOf(await env.collector.stats()), 0, "an event was sent by two tabs");
});
