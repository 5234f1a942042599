// The Worker killed mid-delivery (SIGKILL to workerd, as a crash: requests to the collector in
// flight, events queued in Durable Objects) and started again on the same persisted state: every
// event that was acknowledged arrives upstream, none is stored twice.
import test from "node:test";
import assert from "node:assert/strict";
import { assertOnce, edgeEnv, post, postMany, track, waitAll, waitFor } from "./harness.mjs";

test("workerd killed mid-delivery and restarted on the same state: nothing lost, nothing stored twice", { timeout: 120_000 }, async (t) => {
  const env = await edgeEnv(t);
  // Every upstream request takes 1.5 s: when the kill comes, requests are in flight and most
  // events still queued.
  await env.collector.faults({ latency_ms: 1500, latency_rate: 1 });
  const ids = await postMany(env, { requests: 30, perRequest: 100, prefix: "crash" });
  await waitFor(async () => (await env.collector.stats()).log.length > 0, { timeout: 15_000, what: "a delivery in flight" });
  await env.edge.kill();
  const atKill = (await env.collector.events()).length;
  assert.ok(atKill < ids.length, `everything was delivered before the kill (${atKill}): nothing was tested`);

  await env.collector.clearFaults();
  await env.restart();
  // The restarted Worker takes new events too.
  const more = await postMany(env, { requests: 5, perRequest: 100, prefix: "after" });
  const all = [...ids, ...more];
  const events = await waitAll(env.collector, all, { timeout: 60_000 });
  assertOnce(assert, events, all);
  const stats = await env.collector.stats();
  t.diagnostic(`stored before the kill: ${atKill}; resends the collector recognised: ${stats.events.duplicates}`);
});

test("workerd killed while requests are posted: every acknowledged event arrives, the rest sent again arrive once", { timeout: 120_000 }, async (t) => {
  const env = await edgeEnv(t);
  const requests = [];
  for (let r = 0; r < 80; r++) {
    requests.push(Array.from({ length: 100 }, (_, i) => track(`mid-${r}-${i}`, { anonymousId: `anon-${(r * 100 + i) % 700}` })));
  }
  const acked = [];
  const unanswered = [];
  let next = 0;
  let killing = null;
  const poster = async () => {
    while (next < requests.length) {
      const batch = requests[next++];
      if (killing !== null) {
        unanswered.push(batch);
        continue;
      }
      try {
        const r = await post(env.url(), "/v1-batch", { batch });
        if (r.status === 200) acked.push(batch);
        else unanswered.push(batch); // 503: not stored as a whole; the client sends it again
      } catch {
        unanswered.push(batch); // the connection died with workerd: no answer
      }
      // The kill comes while the other clients' requests are in the middle of their appends.
      if (acked.length === 25 && killing === null) killing = env.edge.kill();
    }
  };
  await Promise.all(Array.from({ length: 4 }, poster));
  await killing;
  assert.ok(unanswered.length > 0 && acked.length >= 25, `acked ${acked.length}, unanswered ${unanswered.length}`);

  await env.restart();
  for (const batch of unanswered) {
    const r = await post(env.url(), "/v1-batch", { batch });
    assert.equal(r.status, 200, r.text);
  }
  const ids = requests.flat().map((e) => e.messageId);
  const events = await waitAll(env.collector, ids, { timeout: 60_000 });
  assertOnce(assert, events, ids);
  t.diagnostic(`acknowledged before the kill: ${acked.length} requests; sent again after it: ${unanswered.length}`);
});
