// The headless half of `make demo`: opens the demo page in Debian's Chromium, lets it track and
// flush a few dozen events, and prints what the page tracked and what the collector acknowledged.
// Exits non-zero if the collector did not ingest every valid event exactly once.
import { chromium } from "playwright-core";

const [www, collector] = process.argv.slice(2);
const count = 50;
const browser = await chromium.launch({
  executablePath: "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"],
});
try {
  const page = await browser.newPage();
  page.on("console", (m) => { if (m.text().startsWith("[demo]")) console.log(`  page ${m.text().slice(7)}`); });
  page.on("pageerror", (e) => console.log(`  page error: ${e.message}`));
  await page.goto(`${www}/?collector=${encodeURIComponent(collector)}&auto=${count}`);
  await page.waitForFunction(() => window.__demo, null, { timeout: 60_000 });
  const demo = await page.evaluate(() => window.__demo);
  const stats = await (await fetch(`${collector}/_stats?log=false`)).json();
  const events = (await (await fetch(`${collector}/_events`)).text()).split("\n").filter(Boolean).map((l) => JSON.parse(l));
  const ids = new Set(events.map((e) => e.messageId));
  console.log(`[demo] tracked ${demo.tracked} events in the page; the client reports ${demo.stats.delivered} delivered, ${demo.stats.failed} failed, ${demo.stats.queued} still queued`);
  console.log(`[demo] the collector stored ${events.length} events (${ids.size} distinct messageIds) from ${events.length ? "the demo page" : "nobody"}; duplicates refused: ${stats.events.duplicates}, requests: ${stats.requests.total}`);
  if (ids.size !== demo.tracked || events.length !== demo.tracked) {
    console.error(`[demo] FAIL: expected ${demo.tracked} events exactly once at the collector`);
    process.exitCode = 1;
  } else {
    console.log("[demo] every tracked event arrived exactly once");
  }
} finally {
  await browser.close();
}
