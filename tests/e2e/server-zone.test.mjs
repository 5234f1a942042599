// `serverZone` without `apiHost` picks Amplitude's host (docs/PROTOCOLS.md B): "EU" posts to
// https://api.eu.amplitude.com, "US" (and no zone) to https://api2.amplitude.com. No real network
// is reachable here, so the browser context routes both hosts: each request is recorded as the
// browser asked for it (method, URL) and forwarded to the local collector's same path, whose answer
// (CORS headers included) is given back to the page.
import test from "node:test";
import assert from "node:assert/strict";
import { setup } from "./harness.mjs";
import { assertStoredOnce, pacingPage, waitForInsertIds, AMP_KEY } from "./amplitude.mjs";

const HOSTS = { US: "api2.amplitude.com", EU: "api.eu.amplitude.com" };

/** Routes both Amplitude hosts to the collector; returns the list the requests are logged to. */
async function routeAmplitude(env) {
  const seen = [];
  for (const host of Object.values(HOSTS)) {
    await env.context.route(`https://${host}/**`, async (route) => {
      const req = route.request();
      const url = new URL(req.url());
      seen.push({ method: req.method(), url: req.url(), host: url.host });
      try {
        const response = await route.fetch({ url: env.apiHost + url.pathname + url.search });
        await route.fulfill({ response });
      } catch (e) {
        seen.push({ error: String(e) });
        await route.abort();
      }
    });
  }
  return seen;
}

const cases = [
  { zone: "EU", protocol: "amplitude-http-v2", host: HOSTS.EU, path: "/2/httpapi" },
  { zone: "EU", protocol: "amplitude-batch", host: HOSTS.EU, path: "/batch" },
  { zone: "US", protocol: "amplitude-http-v2", host: HOSTS.US, path: "/2/httpapi" },
  { zone: undefined, protocol: "amplitude-http-v2", host: HOSTS.US, path: "/2/httpapi" },
];

for (const c of cases) {
  test(`serverZone ${c.zone ?? "(not given)"}, ${c.protocol}, no apiHost: posts to https://${c.host}${c.path}`, { timeout: 60_000 }, async (t) => {
    const env = await setup(t);
    const seen = await routeAmplitude(env);
    const options = { writeKey: AMP_KEY, protocol: c.protocol, storage: "memory" };
    if (c.zone) options.serverZone = c.zone;
    const page = await pacingPage(env, options);
    const ids = await page.evaluate(() => trackAs(3, "Zoned", { anonymousId: "device-zone-1" }));
    await page.evaluate(() => flushSoon());
    const events = await waitForInsertIds(env, ids, { timeout: 20_000 });
    assertStoredOnce(events, ids);
    assert.ok(events.every((e) => e._path === c.path), `stored through ${[...new Set(events.map((e) => e._path))]}`);
    const posts = seen.filter((s) => s.method === "POST");
    assert.ok(posts.length >= 1, `no POST reached the route: ${JSON.stringify(seen)}`);
    assert.deepEqual([...new Set(seen.map((s) => s.url))], [`https://${c.host}${c.path}`], "URLs the browser asked for");
    assert.equal(seen.filter((s) => s.error).length, 0, JSON.stringify(seen));
    t.diagnostic(`browser asked for: ${JSON.stringify(seen.map((s) => `${s.method} ${s.url}`))}`);
  });
}
