// /v1-batch pacing (docs/PROTOCOLS.md G): a 30,000-event backlog drains at the collector's
// per-(org, IP) cap, measured on the collector's own request log, meeting at most one 429.
//
// 300 requests at 100 a minute take three minutes, so time is scaled, on both sides by the same
// factor: the collector's window is 60 / FACTOR s (--window-secs) and the page's clock runs FACTOR
// times faster (pages/fast-clock.js), so the client keeps its real budget, 100 requests a minute
// of its own clock, which is one collector window. Scaling the collector's window alone is not
// enough: the engine's /v1-batch window is a minute (Pipeline::new gives Pacing a 60,000 ms
// window) and a rate limit teaches a budget per minute (Pacing::learn_rate_limit), so a client
// told "600 a minute" for a collector admitting 40 per 4 s bursts 40, meets a 429, learns 40 per
// minute and drains at a sixth of the cap. PACING_CLOCK_FACTOR=1 PACING_WINDOW_SECS=4 PACING_CAP=40
// runs that case.
//
// The collector's Retry-After stays in real seconds, which the fast clock reads as FACTOR times
// shorter: a 429 here would be followed by more, failing the test's "at most one 429". None is
// expected, since the client paces to the collector's cap.
import test from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { assertExactlyOnce, PAGES, setup, waitForIds } from "./harness.mjs";

const FACTOR = Number(process.env.PACING_CLOCK_FACTOR ?? 10);
const WINDOW_SECS = Number(process.env.PACING_WINDOW_SECS ?? 60 / FACTOR);
const CAP = Number(process.env.PACING_CAP ?? 100);
// The collector's cap as requests per minute of the page's clock.
const PER_MINUTE = Math.floor((CAP * 60) / (WINDOW_SECS * FACTOR));
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

test(`/v1-batch: ${EVENTS} events drain at >= 95 % of the per-IP cap (${CAP} requests / ${WINDOW_SECS} s, page clock x${FACTOR}) with at most one 429`, { timeout: 60_000 }, async (t) => {
  const env = await setup(t, { collectorArgs: ["--rate-per-ip", String(CAP), "--window-secs", String(WINDOW_SECS)] });
  if (FACTOR !== 1) {
    await env.context.addInitScript({
      content: `window.__clockFactor = ${FACTOR};\n${readFileSync(join(PAGES, "fast-clock.js"), "utf8")}`,
    });
  }
  const page = await env.open();
  await page.evaluate((o) => make(o), env.options({
    storage: "memory", maxQueueEvents: EVENTS, maxQueueBytes: 64 * 1024 * 1024, requestsPerMinute: PER_MINUTE,
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
