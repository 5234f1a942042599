// One client, many users (server mode): an Amplitude user over the per-user budget waits alone
// while the other users' events flow. The collector's budget is small (--eps-v2 5 over 2 s: 10
// events a window) and the client paces to the same budget.
import test from "node:test";
import assert from "node:assert/strict";
import { AMP_KEY, app, collector, stored, waitStored } from "./helpers.mjs";

test("HTTP V2 in server mode: a hot user over its budget waits alone while other users flow", { timeout: 60_000 }, async (t) => {
  const c = await collector(t, ["--eps-v2", "5", "--eps-window-secs", "2"]);
  const { createClient } = await app(t).load();
  const client = await createClient({
    writeKey: AMP_KEY, apiHost: c.url, protocol: "amplitude-http-v2",
    identityEventsPerSecond: 5, rateWindowMs: 2000, flushIntervalMs: 0, backoffBaseMs: 100,
  });
  const failed = [];
  client.on("failed", (f) => failed.push(f));
  const hot = Array.from({ length: 30 }, (_, i) => client.track("Hot", { i }, { userId: "hot-user" }));
  // The hot user's first window goes at once; the rest of its backlog waits.
  await waitStored(c, hot.slice(0, 10), 10_000);
  const others = [];
  for (const u of ["user-a", "user-b", "user-c"]) {
    for (let i = 0; i < 3; i++) others.push(client.track("Other", { i }, { userId: u }));
  }
  await waitStored(c, others, 10_000);
  const hotStored = (await stored(c, hot)).length;
  assert.ok(hotStored < hot.length, `the others were not held behind the hot user (${hotStored} of its ${hot.length} stored by then)`);
  // And the hot user is not dropped: its backlog drains at its budget.
  await client.closeAndFlush({ timeoutMs: 30_000 });
  assert.deepEqual(failed, []);
  assert.equal((await waitStored(c, hot, 5000)).length, hot.length);
});
