// 10,000 events posted to the edge in 100 /v1-batch requests arrive at the collector exactly once:
// with a healthy upstream, and with one that fails 30 % of requests (5xx, nothing stored) and
// drops the connection after storing 10 % (the edge sees a network error and sends again; the
// collector's de-duplication on messageId is what keeps those once).
import test from "node:test";
import assert from "node:assert/strict";
import { ADMIN_KEY, UNLIMITED, adminGet, assertOnce, edgeEnv, postMany, v1Config, waitAll } from "./harness.mjs";

test("10,000 events in 100 requests arrive upstream exactly once", { timeout: 120_000 }, async (t) => {
  const env = await edgeEnv(t);
  const ids = await postMany(env, { requests: 100, perRequest: 100, prefix: "ok" });
  const events = await waitAll(env.collector, ids, { timeout: 60_000 });
  assertOnce(assert, events, ids);
  const stats = await env.collector.stats();
  t.diagnostic(`upstream requests: ${stats.log.length}, duplicates recognised: ${stats.events.duplicates}`);
});

test("10,000 events arrive exactly once from an upstream failing 30 % and dropping 10 %", { timeout: 150_000 }, async (t) => {
  const env = await edgeEnv(t, { collectorArgs: [...UNLIMITED, "--fail-rate", "0.3", "--drop-rate", "0.1", "--seed", "20261203"] });
  const ids = await postMany(env, { requests: 100, perRequest: 100, prefix: "faulty" });
  const events = await waitAll(env.collector, ids, { timeout: 100_000 });
  assertOnce(assert, events, ids);
  const log = (await env.collector.stats()).log;
  const failed = log.filter((r) => r.status >= 500).length;
  const dropped = log.filter((r) => r.dropped).length;
  // The faults did happen: otherwise this test proves nothing beyond the first.
  assert.ok(failed > 0 && dropped > 0, `faults seen: ${failed} 5xx, ${dropped} dropped`);
  t.diagnostic(`upstream requests: ${log.length}, 5xx: ${failed}, dropped after storing: ${dropped}`);
});

test("appends that fail are answered 503; the same events sent again are queued once and arrive once", { timeout: 120_000 }, async (t) => {
  // Each Durable Object append fails 10 % of the time (as a storage write might): a request whose
  // parts did not all get written is answered 503, and its client sends it again as the contract
  // says. The parts that were written are not queued twice: the upstream fails everything while
  // the requests come, so every event is still queued when they are counted.
  const env = await edgeEnv(t, {
    config: (url) => v1Config(url, { shards: 4, options: { backoffMaxMs: 1000 } }),
    edge: { secrets: { EDGE_ADMIN_KEY: ADMIN_KEY, EDGE_TEST_FAIL_APPENDS: "0.1" } },
  });
  await env.collector.faults({ fail_rate: 1, seed: 5 });
  const ids = await postMany(env, { requests: 40, perRequest: 100, prefix: "retry" });
  assert.ok(env.unavailable > 0, "no append failed: the 503 path was not taken");
  const stats = (await adminGet(env, "/admin/stats")).json.totals;
  assert.equal(stats.queued + stats.inFlight, ids.length, `queued or in flight: ${JSON.stringify(stats)}`);
  await env.collector.clearFaults();
  const events = await waitAll(env.collector, ids, { timeout: 60_000 });
  assertOnce(assert, events, ids);
  t.diagnostic(`503 answers: ${env.unavailable}; upstream duplicates: ${(await env.collector.stats()).events.duplicates}`);
});
