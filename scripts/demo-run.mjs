// The headless half of `make demo`: opens the demo page in Debian's Chromium, lets it track and
// flush a few dozen events, and prints what the page tracked and what the collector stored.
// With an edge URL (third argument) it does it twice: straight to the collector, then through the
// edge Worker (browser -> edge -> collector), the collector reset in between.
// Exits non-zero if the collector did not store every valid event exactly once.
import { chromium } from "playwright-core";

const [www, collector, edge] = process.argv.slice(2);
const count = 50;
const sleep = (ms) => new Promise((ok) => setTimeout(ok, ms));
const browser = await chromium.launch({
  executablePath: "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"],
});

async function stored() {
  const text = await (await fetch(`${collector}/_events`)).text();
  return text.split("\n").filter(Boolean).map((l) => JSON.parse(l));
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

try {
  console.log(`[demo] browser -> collector (${collector})`);
  await run();
  if (edge) {
    await fetch(`${collector}/_reset`, { method: "POST" });
    console.log(`[demo] browser -> edge (${edge}) -> collector`);
    await run(edge);
  }
} finally {
  await browser.close();
}
