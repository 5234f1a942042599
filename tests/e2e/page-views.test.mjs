// autoPageViews: a page view once the client is made and after each History API navigation to
// another URL (pushState, replaceState, back and forward), with the title the app set after it;
// none for a fragment or a same-URL replaceState. debug: true: readable lines for each event,
// request and decision. Both live in the package's extras.js, which a page without them never
// downloads.
import test from "node:test";
import assert from "node:assert/strict";
import { setup, waitFor } from "./harness.mjs";

test("autoPageViews: on load and on History API navigation, never for a fragment", { timeout: 90_000 }, async (t) => {
  const env = await setup(t);
  const page = await env.open();
  const fetched = [];
  page.on("request", (r) => fetched.push(new URL(r.url()).pathname));
  await page.evaluate((o) => make(o), env.options({ storage: "memory", flushAt: 1, autoPageViews: true }));
  await page.evaluate(async () => {
    const settle = () => new Promise((r) => setTimeout(r, 50));
    await settle();
    history.pushState({}, "", "/e2e/index.html?step=2");
    document.title = "Step 2"; // an app sets the title after pushState
    await settle();
    history.replaceState({ more: 1 }, "", location.href); // the same URL: no page view
    location.hash = "#section"; // a fragment: no page view
    await settle();
    history.replaceState({}, "", "/e2e/index.html?step=3");
    await settle();
    history.back(); // ?step=3 replaced the fragment's entry: back to ?step=2 (popstate)
    await settle();
    history.back(); // to the first URL
    await settle();
    await client.flush();
  });
  const pages = await waitFor(async () => {
    const p = (await env.collector.events()).filter((e) => e.type === "page");
    return p.length >= 5 && p;
  }, { what: "5 page views" });
  await page.waitForTimeout(300);
  const all = (await env.collector.events()).filter((e) => e.type === "page");
  assert.deepEqual(all.map((e) => e.properties.search), ["", "?step=2", "?step=3", "?step=2", ""], JSON.stringify(all.map((e) => e.properties.url)));
  assert.equal(pages[1].properties.title, "Step 2", "the title set right after pushState");
  assert.equal(pages[1].context.page.url, pages[1].properties.url);
  assert.ok(fetched.some((p) => p.endsWith("/extras.js")), "autoPageViews did not load extras.js");
});

test("debug: true logs events, requests, the engine's decisions and the notes in words; off, extras.js is never fetched", { timeout: 90_000 }, async (t) => {
  const env = await setup(t);
  const page = await env.open();
  const logs = [], fetched = [];
  page.on("console", (m) => m.type() === "debug" && logs.push(m.text()));
  page.on("request", (r) => fetched.push(new URL(r.url()).pathname));
  await page.evaluate((o) => make(o), env.options({ storage: "memory", flushAt: 2 }));
  await page.evaluate(() => (client.track("Quiet"), client.flush()));
  assert.deepEqual(logs, [], "logs without debug");
  assert.ok(!fetched.some((p) => p.endsWith("/extras.js")), "extras.js fetched without debug or autoPageViews");

  await env.collector.faults({ script: [{ status: 503 }, { status: 429, retry_after: 1 }] });
  await page.evaluate((o) => make(o), env.options({ storage: "memory", flushAt: 2, debug: true }));
  const ids = await page.evaluate(() => [client.track("Loud", { a: 1 }), client.track("Loud", { a: 2 })]);
  await page.evaluate(() => client.flush());
  const text = logs.join("\n");
  for (const line of [
    `[batchwire] track "Loud" ${ids[0]}: queued`,
    /\[batchwire\] request 1: POST \/v1-batch, 2 event\(s\) in \d+ bytes/,
    /\[batchwire\] request 1: HTTP 503 after \d+ ms; the engine waits \d+ ms before its next attempt/,
    /\[batchwire\] request 2: HTTP 429 after \d+ ms; the engine waits \d+ ms/,
    /\[batchwire\] rate limited by the server: no request leaves before \d{4}-\d\d-\d\dT/,
    /\[batchwire\] request 3: HTTP 200 after \d+ ms/,
    "[batchwire] delivered 2 event(s)",
  ]) {
    assert.ok(typeof line === "string" ? text.includes(line) : line.test(text), `no line ${line} in:\n${text}`);
  }
});
