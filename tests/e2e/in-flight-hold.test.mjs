// A page left while a request is in flight: that request may still be at the server (a browser
// aborts the fetch, the server does not notice), so the next page must not send the same events
// again until it may be over. Otherwise one event would be in two requests at once.
import test from "node:test";
import assert from "node:assert/strict";
import { assertExactlyOnce, setup, waitFor, waitForIds } from "./harness.mjs";

const LATENCY_MS = 2000;

test("a page reloaded mid-request holds those events back while the old request may still run", {
  timeout: 90_000,
}, async (t) => {
  const env = await setup(t);
  // 100 events make one full request; nothing else is queued, so the left page has no unload send.
  const options = env.options({ storage: "indexeddb", flushAt: 100, flushIntervalMs: 600_000 });
  // Every request spends 2 s at the collector before it is processed and answered.
  await env.collector.faults({ latency_ms: LATENCY_MS, latency_rate: 1 });

  const page = await env.open();
  // Requests to the collector as the browser sends them, with the messageIds each carries, from
  // both page loads (the page object outlives its reloads).
  const sent = [];
  page.on("request", (r) => {
    if (!r.url().endsWith("/v1-batch") || r.method() !== "POST") return;
    const ids = JSON.parse(r.postDataBuffer().toString()).batch.map((e) => e.messageId);
    sent.push({ at: Date.now(), ids });
  });
  await page.evaluate((o) => make(o), options);
  const ids = await page.evaluate(() => trackMany(100, "Held Over A Reload"));
  await page.waitForFunction(() => client.stats().inFlight === 100, null, { timeout: 10_000 });
  assert.equal(sent.length, 1, "one request in flight before the reload");

  await page.reload();
  await page.waitForFunction("window.bwReady === true");
  await env.collector.clearFaults();
  await page.evaluate((o) => make(o), options);

  const events = await waitForIds(env, ids, { timeout: 45_000 });
  assertExactlyOnce(assert, events, ids);
  // The collector may have stored the first request's events although the browser aborted it
  // (it answers after its latency either way): the next page's send then comes after that, once
  // the hold is over.
  await waitFor(() => sent.length >= 2, { timeout: 20_000, what: "the next page's send" }).catch(() => {});
  const [first, ...later] = sent;
  assert.ok(later.length >= 1, "the next page load sends the events again (the first request was aborted)");
  for (const r of later) {
    const overlap = r.ids.filter((id) => first.ids.includes(id)).length;
    const gap = r.at - first.at;
    assert.ok(overlap === 0 || gap >= LATENCY_MS,
      `a request with ${overlap} of the first request's events left ${gap} ms after it, while the ` +
      `collector was still holding that one for ${LATENCY_MS} ms`);
  }
  t.diagnostic(`requests: ${sent.map((r) => `${r.ids.length} events at +${r.at - first.at} ms`).join(", ")}`);
});
