// Where a page's requests are made (src/web/js/net.js: request): the first two from the page, the
// third starting a dedicated worker and waiting for it (at most 1 s); once it runs, the rest from
// it, so that fetch() costs the page no main thread; one that gets no answer in time there comes
// back as a failure and is retried. A keepalive request (the page being left) stays on the page,
// and so does every request while the page's `fetch` is not the browser's own, or where no worker
// may run (CSP). In every
// case each event arrives once. The requests the page made itself are its resource-timing entries
// for the collector: a worker's requests are in the worker's timeline, not the page's.
import test from "node:test";
import assert from "node:assert/strict";
import { assertExactlyOnce, setup, waitFor, waitForIds } from "./harness.mjs";

// How many requests to the collector the page made itself.
const fromPage = (page, apiHost) =>
  page.evaluate((host) => performance.getEntriesByType("resource").filter((e) => e.name.startsWith(host)).length, apiHost);

// Tracks `n` events in batches of 100, each batch flushed before the next: one request each.
async function sendBatches(page, n, name) {
  return page.evaluate(async ([n, name]) => {
    const ids = [];
    for (let i = 0; i < n; i += 100) {
      ids.push(...trackMany(100, name, {}, i));
      await client.flush();
      await new Promise((ok) => setTimeout(ok, 50)); // room for the worker to start
    }
    return ids;
  }, [n, name]);
}

test("after three requests, a page's requests go from a worker; a keepalive one from the page", { timeout: 60_000 }, async (t) => {
  const env = await setup(t);
  const page = await env.open();
  await page.evaluate((o) => make(o), env.options({ storage: "memory", flushIntervalMs: 600_000, backoffBaseMs: 50, requestTimeoutMs: 1_000 }));
  // Two requests: the page makes them itself and starts no worker (it would cost more than they).
  const few = await sendBatches(page, 200, "Page Sent");
  assert.equal(await fromPage(page, env.apiHost), 2);
  assert.equal(page.workers().length, 0, "a worker was started for two requests");
  // The third starts it; once it runs, the rest go from it.
  const ids = [...few, ...(await sendBatches(page, 300, "Worker Sent"))];
  const events = await waitForIds(env, ids);
  assertExactlyOnce(assert, events, ids);
  const requests = (await env.collector.requests()).length;
  const own = await fromPage(page, env.apiHost);
  assert.equal(requests, 5, "one request per flushed batch");
  assert.equal(page.workers().length, 1, "one worker");
  assert.ok(own >= 2 && own < requests, `the page made ${own} of the ${requests} requests itself: none went from a worker`);

  // A request from the worker that gets no answer in time (aborted there: an Error, which comes
  // back as its text) is a failure, and the events go again, from the worker, once.
  await env.collector.faults({ script: [{ delay_ms: 3_000 }] });
  const again = await page.evaluate(async () => {
    const ids = trackMany(100, "Dropped Once");
    await client.flush();
    return { ids, retried: client.stats().retried };
  });
  assertExactlyOnce(assert, await waitForIds(env, again.ids), again.ids);
  assert.ok(again.retried >= 1, `the dropped request was not retried: ${JSON.stringify(again)}`);
  assert.equal(await fromPage(page, env.apiHost), own, "a request went from the page");

  // Left (a pagehide the page dispatches): the unload send is a keepalive request, from the page.
  const left = await page.evaluate(() => {
    const ids = trackMany(7, "Sent On Leaving");
    dispatchEvent(new PageTransitionEvent("pagehide", { persisted: false }));
    return ids;
  });
  assertExactlyOnce(assert, await waitForIds(env, left), left);
  await waitFor(async () => (await fromPage(page, env.apiHost)) === own + 1, { what: "the keepalive request in the page's own timeline" });
});

test("in a burst, the requests after the second wait for the worker the third starts, not go from the page", { timeout: 60_000 }, async (t) => {
  const env = await setup(t);
  const page = await env.open();
  await page.evaluate((o) => make(o), env.options({ storage: "memory", flushIntervalMs: 600_000 }));
  // Ten batches, one after another: without the wait, every one leaves before the worker runs.
  const ids = await page.evaluate(async () => {
    const ids = trackMany(1000, "Burst Sent");
    await client.flush();
    return ids;
  });
  assertExactlyOnce(assert, await waitForIds(env, ids), ids);
  assert.equal((await env.collector.requests()).length, 10);
  assert.equal(page.workers().length, 1, "one worker");
  // The worker is waited for at most 1 s; it starts in well under that.
  assert.equal(await fromPage(page, env.apiHost), 2, "the page made more than its first two requests itself");
});

test("while the page's fetch is not the browser's own, every request is made through it", { timeout: 60_000 }, async (t) => {
  const env = await setup(t);
  const page = await env.open();
  await page.evaluate((o) => {
    const real = fetch;
    window.seen = 0;
    // As an error reporter's breadcrumbs do; it counts the collector's requests.
    window.fetch = (url, init) => (String(url).startsWith(o.apiHost) && window.seen++, real(url, init));
    return make(o);
  }, env.options({ storage: "memory", flushIntervalMs: 600_000 }));
  const ids = await sendBatches(page, 300, "Page Instrumented");
  assertExactlyOnce(assert, await waitForIds(env, ids), ids);
  const requests = (await env.collector.requests()).length;
  assert.equal(requests, 3);
  assert.equal(await page.evaluate(() => window.seen), requests, "the page's fetch did not see every request");
});

test("where the page's CSP allows no worker, every request is made from the page", { timeout: 60_000 }, async (t) => {
  const env = await setup(t);
  const page = await env.open("/e2e/no-workers.html");
  await page.evaluate((o) => make(o), env.options({ storage: "indexeddb", flushIntervalMs: 600_000 }));
  const ids = await sendBatches(page, 300, "No Worker Allowed");
  assertExactlyOnce(assert, await waitForIds(env, ids), ids);
  const requests = (await env.collector.requests()).length;
  assert.equal(requests, 3);
  assert.equal(await fromPage(page, env.apiHost), requests, "a request went from somewhere else than the page");
});
