// Helpers of the Amplitude end-to-end tests (pacing, user properties, server zones): the client's
// options, the pacing page, and waiting for insert_ids at the collector.
import assert from "node:assert/strict";
import { waitForIds } from "./harness.mjs";

export const AMP_KEY = "amp_demo_key";

/** Opens the pacing page (driver.js and pacing.js) and creates the client with `options`. */
export async function pacingPage(env, options) {
  const page = await env.open("/e2e/pacing.html", { readyExpr: "window.bwReady === true && window.pacingReady === true" });
  await page.evaluate((o) => make(o), options);
  return page;
}

/** Amplitude client options pointing at this test's collector. */
export function ampOptions(env, extra = {}) {
  return { writeKey: AMP_KEY, apiHost: env.apiHost, protocol: "amplitude-http-v2", storage: "memory", ...extra };
}

/** Waits until every insert_id in `ids` is stored at the collector; returns the stored events. */
export const waitForInsertIds = (env, ids, { timeout = 30_000 } = {}) =>
  waitForIds(env, ids, { timeout, key: "insert_id", interval: 200 });

/** Each id of `ids` is stored exactly once. */
export function assertStoredOnce(events, ids) {
  const counts = new Map();
  for (const e of events) counts.set(e.insert_id, (counts.get(e.insert_id) ?? 0) + 1);
  const missing = ids.filter((id) => !counts.has(id));
  const doubled = ids.filter((id) => counts.get(id) > 1);
  assert.deepEqual({ missing: missing.length, doubled: doubled.length }, { missing: 0, doubled: 0 },
    `missing e.g. ${missing.slice(0, 3)}; stored twice e.g. ${doubled.slice(0, 3)}`);
}
