// The headless half of `make demo`: opens the demo page in Debian's Chromium and
// 1. lets it track and flush a few dozen events, and prints what the page tracked and what the
//    collector stored; with an edge URL (third argument) twice: straight to the collector, then
//    through the edge Worker (browser -> edge -> collector), the collector reset in between;
// 2. for each fault of the page (5xx storm, 429 with Retry-After, quota, 413, dropped responses,
//    slow answers) clicks its button, tracks 100 events, waits until the client shows its reaction
//    (retries, a pause, a hold...), clicks "back to normal" and prints what happened;
// 3. switches the page to each Amplitude protocol and delivers 100 events.
// Each step starts from a reset collector and a fresh browser context (nothing left in IndexedDB,
// nothing the client learned). Exits non-zero if any event is lost or stored twice, or a fault
// never showed.
import { chromium } from "playwright-core";

const [www, collector, edge] = process.argv.slice(2);
const count = 50;
const sleep = (ms) => new Promise((ok) => setTimeout(ok, ms));
const hms = (t) => new Date(t).toISOString().slice(11, 23);
const secs = (ms) => `${(ms / 1000).toFixed(1)} s`;
const browser = await chromium.launch({
  executablePath: "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"],
});

async function stored() {
  const text = await (await fetch(`${collector}/_events`)).text();
  return text.split("\n").filter(Boolean).map((l) => JSON.parse(l));
}
const collectorStats = async () => (await fetch(`${collector}/_stats`)).json();
const resetCollector = () => fetch(`${collector}/_reset`, { method: "POST" });

function fail(text) {
  console.error(`[demo] FAIL: ${text}`);
  process.exitCode = 1;
}

/** Polls `fn` (every 100 ms, at most `timeout` ms) until it returns a truthy value. */
async function until(what, fn, timeout = 30_000) {
  const end = Date.now() + timeout;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out after ${timeout / 1000} s waiting for ${what}`);
    await sleep(100);
  }
}

// One run of the page; `via` is the edge's URL or undefined (straight to the collector).
async function run(via) {
  const context = await browser.newContext(); // its own IndexedDB: nothing left from the other run
  const page = await context.newPage();
  page.on("console", (m) => { if (m.text().startsWith("[demo]")) console.log(`  page ${m.text().slice(7)}`); });
  page.on("pageerror", (e) => console.log(`  page error: ${e.message}`));
  const q = `collector=${encodeURIComponent(collector)}&auto=${count}` + (via ? `&edge=${encodeURIComponent(via)}` : "");
  await page.goto(`${www}/?${q}`);
  await page.waitForFunction(() => window.__demo, null, { timeout: 60_000 });
  const demo = await page.evaluate(() => window.__demo);
  await context.close();
  const to = via ? "the edge" : "the collector";
  console.log(`[demo] tracked ${demo.tracked} events in the page; the client reports ${demo.stats.delivered} delivered to ${to}, ${demo.stats.failed} failed, ${demo.stats.queued} still queued`);
  // The edge acknowledges once an event is stored in its Durable Object; it forwards on its own
  // alarm, so the collector is asked until it has them all (or 30 s have passed).
  let events = await stored();
  for (let i = 0; via && i < 300 && events.length < demo.tracked; i++) await sleep(100), (events = await stored());
  const stats = await (await fetch(`${collector}/_stats?log=false`)).json();
  const ids = new Set(events.map((e) => e.messageId));
  console.log(`[demo] the collector stored ${events.length} events (${ids.size} distinct messageIds); duplicates refused: ${stats.events.duplicates}, requests: ${stats.requests.total}`);
  if (ids.size !== demo.tracked || events.length !== demo.tracked) {
    console.error(`[demo] FAIL: expected ${demo.tracked} events exactly once at the collector`);
    process.exitCode = 1;
  } else {
    console.log(`[demo] every tracked event arrived exactly once${via ? ", through the edge" : ""}`);
  }
}

/** A fresh context with the dashboard open and its client ready; the page's own log goes to `notes`. */
async function openDashboard() {
  const context = await browser.newContext();
  const page = await context.newPage();
  const notes = [];
  page.on("console", (m) => { if (m.text().startsWith("[demo]")) notes.push(m.text().slice(7)); });
  page.on("pageerror", (e) => notes.push(`page error: ${e.message}`));
  await page.goto(`${www}/?collector=${encodeURIComponent(collector)}`);
  await page.waitForFunction(() => window.demo?.ready === true, null, { timeout: 60_000 });
  return { context, page, notes };
}

const row = (page, key) => page.textContent(`#stats tr[data-key="${key}"] td:last-child`);
const clientStats = (page) => page.evaluate(() => window.demo.stats());
const requestLog = async () => (await collectorStats()).log ?? [];

/**
 * Delivers the page's tracked events after a fault was switched off: waits until the client has
 * settled every one of them, then checks the collector stored each exactly once (by `key`,
 * messageId or insert_id). Returns a sentence, or throws.
 */
async function settleAndCheck(page, ids, key = "messageId", path) {
  // Nothing queued (held, backing off, paused) and nothing in flight: the client is done.
  const s = await until("the client to have nothing left to send", async () => {
    const s = await clientStats(page);
    return s.queued === 0 && s.inFlight === 0 && s;
  }, 60_000);
  const events = (await stored()).filter((e) => !path || e._path === path);
  const counts = new Map();
  for (const e of events) counts.set(e[key], (counts.get(e[key]) ?? 0) + 1);
  const lost = ids.filter((id) => !counts.has(id)).length;
  const twice = ids.filter((id) => counts.get(id) > 1).length;
  const dups = (await collectorStats()).events.duplicates;
  if (s.failed || s.delivered !== ids.length || lost || twice || events.length !== ids.length) {
    throw new Error(`client: ${s.delivered} delivered, ${s.failed} failed; collector: ${events.length} stored, ${lost} of ${ids.length} missing, ${twice} stored twice; ${new Set(ids).size} distinct ids tracked`);
  }
  return `delivered all ${ids.length}; the collector stored each once${dups ? ` (${dups} resent duplicates refused)` : ""}`;
}

// What each fault should make the client show (waited for after tracking) and how to tell it
// (once every event is delivered), in the order of the page's buttons.
const REACTIONS = {
  "5xx": {
    async wait(page) {
      await until("three 5xx answers and retries on the page", async () =>
        (await requestLog()).filter((r) => r.status >= 500).length >= 3 && Number(await row(page, "retried")) > 0);
    },
    async tell(page) {
      const fives = (await requestLog()).filter((r) => r.status >= 500).map((r) => r.status);
      return `${fives.length} requests answered ${[...new Set(fives)].sort().join("/")}; the client resent the same events (retries ${await row(page, "retried")})`;
    },
  },
  "429": {
    async wait(page) {
      await until("the rate-limit row to show a time and two 429s", async () =>
        /\d\d:\d\d:\d\d/.test(await row(page, "rateLimitedUntil")) && (await requestLog()).filter((r) => r.status === 429).length >= 2);
      return row(page, "rateLimitedUntil");
    },
    async tell(page, shown) {
      const log = await requestLog();
      const gaps = log.map((r, i) => r.status === 429 && log[i + 1] ? log[i + 1].ms - r.ms : null).filter((g) => g !== null);
      const n = log.filter((r) => r.status === 429).length;
      return `the client paused (the page showed "rate limited until ${shown.trim()}"); ${n} answers 429, the next request came ${gaps.map(secs).join(", ")} after ${n > 1 ? "each" : "it"}`;
    },
  },
  quota: {
    async wait(page) {
      await until("the quota row to show a time and a probe", async () =>
        /\d\d:\d\d:\d\d/.test(await row(page, "quotaHeldUntil")) && (await requestLog()).filter((r) => r.status === 429).length >= 2);
      return { shown: await row(page, "quotaHeldUntil"), stats: await clientStats(page) };
    },
    async tell(page, { shown, stats }) {
      const log = await requestLog();
      const held = log.filter((r) => r.status === 429);
      const probes = held.slice(1).map((r) => r.events);
      return `the client held the events (the page showed "quota held until ${shown.trim()}"; ${stats.failed} failed, ${stats.queued} queued), ${held.length} requests answered 429: the first, then ${probes.length} probe${probes.length > 1 ? "s" : ""} of ${[...new Set(probes)].join(" or ")} event${probes.every((n) => n === 1) ? "" : "s"}, one every 2 s, until the quota was lifted`;
    },
  },
  "413": {
    async wait() {
      await until("a 413 and a success after it", async () => {
        const log = await requestLog();
        const i = log.findIndex((r) => r.status === 413);
        return i >= 0 && log.slice(i + 1).some((r) => r.status === 200);
      });
    },
    async tell() {
      const log = await until("the re-planned requests", async () => {
        const log = await requestLog();
        return log.slice(1).reduce((n, r) => n + r.events, 0) >= log[0].events && log;
      });
      const rest = log.slice(1);
      return `the ${log[0].events}-event request (${log[0].bytes} bytes) was answered 413 with limit_bytes 4096; the client re-planned it into ${rest.length} requests of ${Math.min(...rest.map((r) => r.bytes))} to ${Math.max(...rest.map((r) => r.bytes))} bytes`;
    },
  },
  drop: {
    async wait() {
      await until("two dropped answers", async () => (await requestLog()).filter((r) => r.dropped || r.status === 0).length >= 2);
    },
    async tell() {
      const s = await collectorStats();
      const dropped = s.log.filter((r) => r.dropped || r.status === 0).length;
      return `${dropped} requests were stored but never answered; the client could not know and resent the same messageIds`;
    },
  },
  latency: {
    async wait(page) {
      await until("a request in flight", () => page.evaluate(() => window.demo.seen.flights.some((f) => f.to)));
    },
    async tell(page) {
      const f = await page.evaluate(() => window.demo.seen.flights.find((f) => f.to));
      return `the client showed ${f.events} events in flight for ${secs(f.to - f.from)} (sampled every 250 ms)`;
    },
  },
};

async function faultRun(id) {
  await resetCollector();
  const { context, page, notes } = await openDashboard();
  const card = `.fault[data-fault="${id}"]`;
  const title = (await page.textContent(`${card} h3 span`)).trim();
  try {
    await page.click(`${card} button[data-action="on"]`);
    await until(`the page to show "${title}" on`, () => page.$eval(card, (el) => el.classList.contains("on")), 10_000);
    await page.click("#track100");
    const ids = await page.evaluate(() => window.demo.ids.slice());
    const r = REACTIONS[id];
    const seen = await r.wait(page);
    await page.click(`${card} button[data-action="off"]`);
    await until(`the page to show "${title}" off`, () => page.$eval(card, (el) => !el.classList.contains("on")), 10_000);
    const settled = await settleAndCheck(page, ids);
    console.log(`[demo] ${title}: ${await r.tell(page, seen)}; back to normal: ${settled}`);
  } catch (e) {
    fail(`${title}: ${e.message}\n  page log (latest last):\n    ${notes.slice(-15).join("\n    ")}`);
  } finally {
    await context.close();
  }
}

async function protocolRun(protocol, path) {
  await resetCollector();
  const { context, page, notes } = await openDashboard();
  try {
    await page.click(`[data-protocol="${protocol}"]`);
    await page.waitForFunction((p) => window.demo.ready && window.demo.protocol === p, protocol, { timeout: 30_000 });
    const key = await page.evaluate(() => window.demo.writeKey);
    await page.click("#track100");
    const ids = await page.evaluate(() => window.demo.ids.slice());
    const label = (await page.textContent(`[data-protocol="${protocol}"]`)).trim();
    console.log(`[demo] ${label} (api key ${key}): ${await settleAndCheck(page, ids, "insert_id", path)} at ${path}`);
  } catch (e) {
    fail(`${protocol}: ${e.message}\n  page log:\n    ${notes.slice(-15).join("\n    ")}`);
  } finally {
    await context.close();
  }
}

try {
  console.log(`[demo] browser -> collector (${collector})`);
  await run();
  if (edge) {
    await resetCollector();
    console.log(`[demo] browser -> edge (${edge}) -> collector`);
    await run(edge);
  }
  console.log("[demo] faults, each switched on and back off with the page's buttons while it delivers 100 events:");
  for (const id of ["5xx", "429", "quota", "413", "drop", "latency"]) await faultRun(id);
  console.log("[demo] protocol switch:");
  await protocolRun("amplitude-http-v2", "/2/httpapi");
  await protocolRun("amplitude-batch", "/batch");
  await resetCollector();
} finally {
  await browser.close();
}
