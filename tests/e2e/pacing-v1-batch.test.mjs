// /v1-batch pacing (docs/PROTOCOLS.md G): a 30,000-event backlog drains at the collector's
// per-(org, IP) cap, measured on the collector's own request log, meeting at most one 429.
//
// 300 requests at 100 a minute take three minutes, so the collector's window is scaled to
// WINDOW_SECS (--window-secs) and the client is told the same window (rateWindowMs), as a customer
// whose server counts over other windows than a minute would: it then paces 100 requests per
// window (plus its slack, a 32nd of the window) instead of meeting 429s.
import test from "node:test";
import assert from "node:assert/strict";
import { assertExactlyOnce, setup, waitForIds } from "./harness.mjs";

const WINDOW_SECS = 6;
const CAP = 100; // the collector's and the client's default
const EVENTS = 30_000;

/**
 * The collector's fixed windows rebuilt from its log, as it keeps them (limits.rs FixedWindow):
 * one opens at the first counted request after the previous one closed. 429s are not counted.
 */
export function windows(reqs, windowMs) {
  const out = [];
  for (const r of reqs) {
    let w = out.at(-1);
    if (r.status === 429) {
      if (w) w.refused++;
      continue;
    }
    if (!w || r.atMs >= w.start + windowMs) out.push((w = { start: r.atMs, admitted: 0, refused: 0, events: 0 }));
    w.admitted++;
    w.events += r.events;
  }
  return out;
}

test(`/v1-batch: ${EVENTS} events drain at >= 95 % of the per-IP cap (${CAP} requests / ${WINDOW_SECS} s) with at most one 429`, { timeout: 60_000 }, async (t) => {
  const env = await setup(t, { collectorArgs: ["--rate-per-ip", String(CAP), "--window-secs", String(WINDOW_SECS)] });
  const page = await env.open();
  await page.evaluate((o) => make(o), env.options({
    storage: "memory", maxQueueEvents: EVENTS, maxQueueBytes: 64 * 1024 * 1024, rateWindowMs: WINDOW_SECS * 1000,
  }));
  const ids = await page.evaluate((n) => trackMany(n, "Backlog"), EVENTS);
  await page.evaluate(() => flushSoon());

  const log = async () => {
    const reqs = (await env.collector.requests()).filter((r) => r.path === "/v1-batch");
    const ws = windows(reqs, WINDOW_SECS * 1000);
    return { reqs, ws, summary: ws.map((w) => [w.start - ws[0].start, w.admitted, w.refused]) };
  };
  let events;
  try {
    events = await waitForIds(env, ids, { timeout: 40_000 });
  } catch (e) {
    const { reqs, summary } = await log();
    const tail = reqs.filter((r) => r.status === 429).map((r) => [r.atMs - reqs[0].atMs, r.retryAfter]);
    throw new Error(`${e.message}\nwindows (ms after the first, admitted, 429s): ${JSON.stringify(summary)}\n429s (ms, Retry-After): ${JSON.stringify(tail)}`);
  }
  assertExactlyOnce(assert, events, ids);
  const { reqs, ws, summary } = await log();
  const refused = reqs.filter((r) => r.status === 429);
  t.diagnostic(`windows (ms after the first, admitted, 429s): ${JSON.stringify(summary)}`);
  // Every window but the last had a backlog when it closed. The drain rate over them is what was
  // admitted from the first window's opening to the last one's, against the cap over that time
  // (a pause between windows, with the backlog waiting, counts against the rate).
  assert.ok(ws.length >= 3, `the backlog fitted in ${ws.length} windows: it proves nothing`);
  const full = ws.slice(0, -1);
  const admitted = full.reduce((n, w) => n + w.admitted, 0);
  const span = ws.at(-1).start - ws[0].start;
  const ratio = admitted / ((CAP * span) / (WINDOW_SECS * 1000));
  const perWindow = admitted / (full.length * CAP);
  t.diagnostic(`drain ratio ${ratio.toFixed(4)} over ${span} ms (${admitted} requests admitted; per window ${perWindow.toFixed(4)}); ${refused.length} 429s`);
  assert.ok(refused.length <= 1, `${refused.length} requests answered 429`);
  assert.ok(ratio >= 0.95, `drained at ${(ratio * 100).toFixed(1)} % of the cap: ${JSON.stringify(summary)}`);
});
