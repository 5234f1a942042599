// The demo page (www/) as a newcomer sees it: every panel has rows before the package has loaded,
// the chart draws, every button is there, the page names the write key the collector prints at
// start; its 429 button makes the client pause (the rate-limit row shows a time), and "back to
// normal" lets every event through, each stored once. Saves target/test-logs/demo.png.
import test from "node:test";
import assert from "node:assert/strict";
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { assertExactlyOnce, ROOT, setup, waitFor, waitForIds } from "./harness.mjs";

const FAULTS = ["5xx", "429", "quota", "413", "drop", "latency"];
const PROTOCOLS = ["v1-batch", "amplitude-http-v2", "amplitude-batch"];
const SHOT = join(ROOT, "target/test-logs/demo.png");

/** Pixels of the chart's canvas that are not (near) white, and those near `rgb`. */
function inked(page, rgb = null) {
  return page.evaluate((rgb) => {
    const c = document.getElementById("chart");
    const d = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
    let ink = 0;
    let near = 0;
    for (let i = 0; i < d.length; i += 4) {
      if (d[i] < 200 || d[i + 1] < 200 || d[i + 2] < 200) ink++;
      if (rgb && Math.abs(d[i] - rgb[0]) + Math.abs(d[i + 1] - rgb[1]) + Math.abs(d[i + 2] - rgb[2]) < 40) near++;
    }
    return { ink, near, width: c.width, height: c.height };
  }, rgb);
}

const rowText = (page, table, key) => page.textContent(`#${table} tr[data-key="${key}"] td:last-child`);

test("the demo dashboard renders at once, and its 429 button shows the client pausing, then delivering", { timeout: 120_000 }, async (t) => {
  const env = await setup(t);
  const page = await env.context.newPage();
  page.on("console", (m) => env.logs.push(`[console.${m.type()}] ${m.text()}`));
  page.on("pageerror", (e) => env.logs.push(`[pageerror] ${e.message}`));

  // What the panels hold when the page's first timer fires: rendered before, not by, a timer.
  await page.addInitScript(() => {
    const note = () => (window.rowsAtFirstTimer ??= {
      stats: document.querySelectorAll("#stats tr").length, server: document.querySelectorAll("#server tr").length,
    });
    for (const name of ["setTimeout", "setInterval"]) {
      const original = window[name];
      window[name] = function (fn, ...rest) {
        return original.call(this, typeof fn === "function" ? (...a) => (note(), fn(...a)) : fn, ...rest);
      };
    }
  });
  // The package is held back: what the page shows before it loads is its initial state.
  let release;
  const held = new Promise((r) => (release = r));
  await page.route("**/pkg/index.js", async (route) => { await held; await route.continue(); });
  await page.goto(`${env.web.url}/?collector=${encodeURIComponent(env.collector.url)}`);
  await waitFor(() => page.evaluate(() => document.querySelectorAll("#stats tr").length >= 8), { what: "the client's rows before the package loaded" });
  const atFirstTimer = await waitFor(() => page.evaluate(() => window.rowsAtFirstTimer), { what: "a timer of the page" });
  assert.ok(atFirstTimer.stats >= 8 && atFirstTimer.server >= 1, `empty panels until a timer fired: ${JSON.stringify(atFirstTimer)}`);
  assert.match(await rowText(page, "stats", "client"), /loading/);
  assert.equal(await rowText(page, "stats", "queued"), "0");
  await waitFor(async () => /^\d+$/.test(await rowText(page, "server", "stored").catch(() => "")), { what: "the collector's rows before the package loaded" });
  for (const h of await page.$$eval("h2", (hs) => hs.map((h) => h.nextElementSibling?.textContent.trim() ?? ""))) {
    assert.ok(h.length > 0, "a heading with nothing under it");
  }
  const before = await inked(page);
  assert.ok(before.ink > 200, `the chart is blank before the client started: ${JSON.stringify(before)}`);
  release();
  await page.waitForFunction(() => window.demo?.ready === true, null, { timeout: 15_000 });

  // Every button a newcomer needs.
  for (const id of FAULTS) {
    for (const action of ["on", "off"]) {
      assert.ok(await page.isVisible(`.fault[data-fault="${id}"] button[data-action="${action}"]`), `${id}: no "${action}" button`);
    }
  }
  for (const p of PROTOCOLS) assert.ok(await page.isVisible(`[data-protocol="${p}"]`), `no ${p} switch`);
  for (const b of ["track1", "track100", "track250", "flush", "bad"]) assert.ok(await page.isVisible(`#${b}`), `no #${b}`);
  assert.equal(await page.getAttribute('[data-protocol="v1-batch"]', "aria-pressed"), "true");
  assert.match(await page.textContent("#tabs-note"), /second tab/);

  // The write key: the page names it, and the collector's startup line lists it.
  const key = await page.evaluate(() => window.demo.writeKey);
  assert.equal(key, "uk_live_demo");
  assert.match(await page.textContent("#target"), /write key uk_live_demo/);
  assert.match(env.collector.output(), /^keys: write uk_live_demo \(org demo\), .*amplitude amp_demo_key$/m);

  // 429 with Retry-After on, 100 events: the client pauses, and the page shows until when.
  await page.click('.fault[data-fault="429"] button[data-action="on"]');
  await waitFor(() => page.$eval('.fault[data-fault="429"]', (el) => el.classList.contains("on")), { what: "the 429 fault to show on" });
  await page.click("#track100");
  const ids = await page.evaluate(() => window.demo.ids.slice());
  assert.equal(ids.length, 100);
  const shown = await waitFor(async () => {
    const text = await rowText(page, "stats", "rateLimitedUntil");
    return /\d\d:\d\d:\d\d\.\d{3}/.test(text) && text;
  }, { what: "the rate-limit row to show a time", timeout: 20_000 });
  const served = (await env.collector.requests()).filter((r) => r.status === 429);
  assert.ok(served.length >= 1, "the page showed a pause the collector never caused");
  assert.equal((await env.collector.events()).length, 0, "events stored while every request was answered 429");
  t.diagnostic(`rate limited until ${shown}`);

  // Back to normal: every event arrives once, and the page says so.
  await page.click('.fault[data-fault="429"] button[data-action="off"]');
  const events = await waitForIds(env, ids, { timeout: 30_000 });
  assertExactlyOnce(assert, events, ids);
  assert.equal(events.length, 100);
  await waitFor(async () => (await rowText(page, "stats", "delivered")) === "100", { what: "the page to show 100 delivered" });
  await waitFor(async () => (await rowText(page, "server", "stored")) === "100", { what: "the collector panel to show 100 stored" });
  assert.equal(await rowText(page, "stats", "failed"), "0");
  assert.match(await rowText(page, "server", "byStatus"), /429 × \d+/);
  const green = await waitFor(async () => {
    const s = await inked(page, [0x1a, 0x7f, 0x37]);
    return s.near > 100 && s;
  }, { what: "the delivered line on the chart" });
  t.diagnostic(`chart ${green.width}×${green.height}: ${green.ink} inked pixels, ${green.near} of the delivered colour`);

  await mkdir(join(ROOT, "target/test-logs"), { recursive: true });
  await page.screenshot({ path: SHOT, fullPage: true });
  t.diagnostic(`screenshot: ${SHOT}`);
});
