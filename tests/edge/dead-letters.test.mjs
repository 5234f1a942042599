// A revoked upstream key: the collector refuses the edge's key (401), so every event fails for good
// and lands in its shard's dead-letter queue with the reason, without blocking anything. The Worker
// is restarted with the right secret on the same state; the dead letters are still there, and a
// replay (first of some named ones, then of all) delivers each exactly once, with its messageId.
import test from "node:test";
import assert from "node:assert/strict";
import { ADMIN_KEY, UNLIMITED, adminGet, adminPost, assertOnce, edgeEnv, postMany, waitAll, waitFor } from "./harness.mjs";

const RIGHT_KEY = "uk_live_rotated";

test("a revoked key fills the dead-letter queue; after the fix, a replay delivers each event once", { timeout: 120_000 }, async (t) => {
  // The collector knows only the new key: the edge's old one is refused.
  const env = await edgeEnv(t, { collectorArgs: [...UNLIMITED, "--no-default-keys", "--write-key", RIGHT_KEY] });
  const ids = await postMany(env, { requests: 5, perRequest: 60, prefix: "revoked" });

  let dead;
  await waitFor(async () => {
    dead = (await adminGet(env, "/admin/dead-letters")).json;
    return dead?.deadLetters?.length === ids.length;
  }, { timeout: 30_000, what: () => `${ids.length} dead letters (have ${dead?.deadLetters?.length})` });
  assert.deepEqual(dead.deadLetters.map((d) => d.messageId).sort(), [...ids].sort());
  for (const d of dead.deadLetters) {
    assert.equal(typeof d.code, "string", JSON.stringify(d));
    assert.match(d.reason, /401/, `the reason names the refusal: ${JSON.stringify(d)}`);
    assert.ok(Number.isFinite(d.failedAt), JSON.stringify(d));
    assert.match(d.shard, /^collector#\d+$/, JSON.stringify(d));
  }
  assert.ok(new Set(dead.deadLetters.map((d) => d.shard)).size > 1, "dead letters of several shards");
  const firstTen = (await adminGet(env, "/admin/dead-letters?limit=10")).json;
  assert.deepEqual([firstTen.count, firstTen.deadLetters.length], [ids.length, 10]);
  assert.equal((await env.collector.events()).length, 0);
  const stats = await adminGet(env, "/admin/stats");
  assert.equal(stats.status, 200);
  assert.equal(stats.json.totals.queued ?? 0, 0, JSON.stringify(stats.json.totals));

  // The admin endpoints want the admin key.
  assert.equal((await adminGet(env, "/admin/dead-letters", null)).status, 401);
  assert.equal((await adminGet(env, "/admin/dead-letters", `${ADMIN_KEY}x`)).status, 401);
  assert.equal((await adminPost(env, "/admin/dead-letters/replay", {}, "wrong")).status, 401);

  // The secret is fixed: a new Worker on the same state, with the right key.
  await env.edge.stop();
  await env.restart({ upstreamWriteKey: RIGHT_KEY });
  const still = (await adminGet(env, "/admin/dead-letters")).json;
  assert.equal(still.deadLetters.length, ids.length, "dead letters kept across the restart");

  const some = ids.slice(0, 25);
  const r1 = await adminPost(env, "/admin/dead-letters/replay", { messageIds: some });
  assert.deepEqual([r1.status, r1.json.replayed], [200, some.length]);
  let events = await waitAll(env.collector, some, { timeout: 30_000 });
  assertOnce(assert, events, some);
  const left = (await adminGet(env, "/admin/dead-letters")).json;
  assert.equal(left.deadLetters.length, ids.length - some.length, "only the named ones were replayed");

  const r2 = await adminPost(env, "/admin/dead-letters/replay");
  assert.deepEqual([r2.status, r2.json.replayed], [200, ids.length - some.length]);
  events = await waitAll(env.collector, ids, { timeout: 30_000 });
  assertOnce(assert, events, ids);
  assert.equal((await adminGet(env, "/admin/dead-letters")).json.deadLetters.length, 0);
  // A replay of nothing replays nothing (and sends nothing twice).
  const r3 = await adminPost(env, "/admin/dead-letters/replay");
  assert.equal(r3.json.replayed, 0);
});
