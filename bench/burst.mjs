// Main-thread cost of a burst, IndexedDB durability on: `node bench/burst.mjs`.
// A fresh page (its own browser context, so an empty IndexedDB) creates a client (storage
// "indexeddb", flushAt 100, the collector reachable) and calls track() N times in one task, with
// the 10-property event of bench/browser.mjs; then it waits until every event is delivered and the
// store holds nothing. Measured per event, for N = 1,000, 10,000 and 100,000:
// - all main-thread work: Chromium's TaskDuration (CDP Performance.getMetrics) from before the
//   burst until idle (every event delivered, the store empty), divided by N;
// - the synchronous track() loop alone;
// - bytes written to IndexedDB: IDBObjectStore.prototype.put wrapped in the page to sum what each
//   value holds (strings' lengths, byte arrays' lengths), and the puts, deletes and gets made;
// - JS heap (after a forced GC) and wasm memory once idle, against before the burst.
// The collector's count of distinct events is checked against N (a burst not delivered exactly
// once is an error, not a figure). Flags: --sizes 1000,10000 (default 1000,10000,100000),
// --pkg DIR (default pkg/), --timeout S per burst (default 600), --out FILE, --label TEXT (added
// to the section's heading, so a build from before a change keeps a section of its own),
// --profile (a CPU profile of each burst, printed by bench/profile.mjs: where the time goes; the
// sampling adds to what it measures, so bench/results.md is left as it was).
import { execFileSync } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { IDB_IO_HOOK, launchBrowser, ROOT, startCollector, startWeb, waitFor } from "../tests/e2e/harness.mjs";
import { profileReport, startProfile } from "./profile.mjs";
import { WASM_MEMORY_HOOK, writeSection } from "./results.mjs";

const args = process.argv.slice(2);
const flag = (name, dflt) => {
  const i = args.indexOf(name);
  return i < 0 ? dflt : args[i + 1];
};
const SIZES = flag("--sizes", "1000,10000,100000").split(",").map(Number);
const PKG = resolve(flag("--pkg", join(ROOT, "pkg")));
const TIMEOUT_S = Number(flag("--timeout", 600));
const OUT = flag("--out", join(ROOT, "bench/results.md"));
const LABEL = flag("--label", "");
const PROFILE = args.includes("--profile");
const HEAD = "## Main-thread cost of a burst, IndexedDB on";

const PAGE = `<!doctype html><script type="module">
${WASM_MEMORY_HOOK}// What the client writes to IndexedDB: every value put, by the bytes it holds.
${IDB_IO_HOOK}
const bw = await import("/pkg/index.js");
window.start = async (o) => { window.client = await bw.createClient(o); };
window.wasmBytes = () => memory?.buffer?.byteLength ?? 0;
window.burst = (n) => {
  const props = (i) => ({ sku: "SKU-" + i, price: 49.99, qty: 2, currency: "USD", category: "books",
    coupon: null, inStock: true, tags: ["gift", "sale"], position: i, list: "search results" });
  const t = performance.now();
  for (let i = 0; i < n; i++) client.track("Product Viewed", props(i));
  return performance.now() - t;
};
window.records = () => new Promise((ok, fail) => {
  const r = indexedDB.open("batchwire:uk_live_demo");
  r.onsuccess = () => {
    const c = r.result.transaction("events").objectStore("events").count();
    c.onsuccess = () => { r.result.close(); ok(c.result); };
    c.onerror = () => fail(c.error);
  };
  r.onerror = () => fail(r.error);
});
window.benchReady = true;
</script>`;

async function burst(env, n) {
  const context = await env.browser.newContext();
  try {
    const page = await context.newPage();
    page.on("pageerror", (e) => console.error(`pageerror: ${e.message}`));
    await page.goto(`${env.web.url}/bench/burst.html`);
    await page.waitForFunction("window.benchReady === true");
    await page.evaluate((o) => start(o), {
      writeKey: "uk_live_demo", apiHost: env.collector.url, protocol: "v1-batch", storage: "indexeddb", flushAt: 100,
      // Room for the whole burst (the defaults keep 10,000 events, 8 MiB), and no pacing: the
      // collector here has no rate limit, and the default 100 requests a minute would make the
      // 100,000 burst a 10-minute wait, not more work.
      maxQueueEvents: Math.max(n, 10_000), maxQueueBytes: 1 << 30, requestsPerWindow: 0,
    });
    const cdp = await context.newCDPSession(page);
    await cdp.send("Performance.enable");
    const metric = async (name) => (await cdp.send("Performance.getMetrics")).metrics.find((m) => m.name === name).value;
    await cdp.send("HeapProfiler.collectGarbage");
    const heap0 = await metric("JSHeapUsedSize");
    const wasm0 = await page.evaluate(() => wasmBytes());
    const before = await env.collector.stats();
    if (PROFILE) await startProfile(cdp);
    const task0 = await metric("TaskDuration");
    const started = Date.now();
    const loopMs = await page.evaluate((k) => burst(k), n);
    // Idle: every event delivered, and the store empty (its last deletes committed).
    await waitFor(async () => {
      const s = await page.evaluate(() => client.stats());
      return s.delivered >= n && s.queued === 0 && s.inFlight === 0 && (await page.evaluate(() => records())) === 0;
    }, { timeout: TIMEOUT_S * 1000, interval: 250, what: `a burst of ${n} to be delivered and the store emptied` });
    const task1 = await metric("TaskDuration");
    const profile = PROFILE && (await cdp.send("Profiler.stop")).profile;
    const wallS = (Date.now() - started) / 1000;
    const after = await env.collector.stats();
    const stored = after.events.stored - before.events.stored;
    if (stored !== n) throw new Error(`the collector stored ${stored} events of a burst of ${n}`);
    await cdp.send("HeapProfiler.collectGarbage");
    const heap1 = await metric("JSHeapUsedSize");
    const wasm1 = await page.evaluate(() => wasmBytes());
    const io = await page.evaluate(() => ({ ...window.idbIo }));
    return {
      n, taskUs: ((task1 - task0) * 1e6) / n, loopUs: (loopMs * 1000) / n, wallS,
      bytesPerEvent: io.bytes / n, puts: io.puts, deletes: io.deletes, gets: io.gets,
      heap: heap1 - heap0, wasm0, wasm1, profile,
    };
  } finally {
    await context.close();
  }
}

const kb = (b) => `${(b / 1024).toFixed(1)} KiB`;

async function main() {
  const dir = await mkdtemp(join(tmpdir(), "bw-burst-"));
  await writeFile(join(dir, "burst.html"), PAGE);
  const env = {};
  const rows = [];
  try {
    env.collector = await startCollector(["--eps-v2", "1000000", "--rate-per-ip", "1000000", "--rate-per-org", "1000000"]);
    env.web = await startWeb([["/bench/", dir], ["/pkg/", PKG]]);
    env.browser = await launchBrowser();
    for (const n of SIZES) {
      let r;
      try {
        r = await burst(env, n);
      } catch (e) {
        console.log(`burst ${n}: ${e.message}`);
        rows.push({ n, error: e.message.replace(/\(last:.*/s, "").trim() });
        continue;
      }
      rows.push(r);
      console.log(`burst ${n}: ${r.taskUs.toFixed(1)} µs/event main thread (track loop ${r.loopUs.toFixed(1)} µs), ` +
        `${r.bytesPerEvent.toFixed(0)} B written to IndexedDB per event (${r.puts} puts, ${r.deletes} deletes, ` +
        `${r.gets} gets), heap ${kb(r.heap)}, wasm ${kb(r.wasm0)} -> ${kb(r.wasm1)}, ${r.wallS.toFixed(1)} s`);
      if (r.profile) console.log(profileReport(r.profile, n, PKG).join("\n"));
    }
  } finally {
    await env.browser?.close();
    await env.web?.close();
    await env.collector?.stop();
    await rm(dir, { recursive: true, force: true });
  }
  if (PROFILE) return;
  const first = rows.find((r) => !r.error);
  const date = new Date().toISOString().slice(0, 16).replace("T", " ") + " UTC";
  const rev = execFileSync("git", ["describe", "--always", "--dirty"], { cwd: ROOT }).toString().trim();
  const head = HEAD + (LABEL ? `: ${LABEL}` : "");
  const lines = [
    head,
    "",
    `Measured ${date}, work tree \`${rev}\`. Command: \`${["node bench/burst.mjs", ...args].join(" ")}\`.`,
    "One page per burst (fresh IndexedDB), storage \"indexeddb\", flushAt 100, the queue bounds raised to hold the burst and",
    "requests not paced (`maxQueueEvents`, `maxQueueBytes`, `requestsPerWindow: 0`), the collector reachable; N calls of",
    "`track(\"Product Viewed\", {10 properties})` in one task, then waited until all N were delivered (checked at the",
    "collector) and the store was empty. Main thread: Chromium's TaskDuration over that span ÷ N. Bytes: the sizes",
    "of the values put into IndexedDB (strings and byte arrays), ÷ N. Heap: after a forced GC, idle vs before.",
    "",
    "| burst | main thread per event | vs the first row | track() loop per event | IndexedDB bytes written per event | puts / deletes / gets | JS heap after | wasm memory | wall |",
    "|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
  ];
  for (const r of rows) {
    if (r.error) {
      lines.push(`| ${r.n.toLocaleString("en")} | ${r.error} | | | | | | | |`);
      continue;
    }
    lines.push(`| ${r.n.toLocaleString("en")} | **${r.taskUs.toFixed(1)} µs** | ${(r.taskUs / first.taskUs).toFixed(2)}× | ` +
      `${r.loopUs.toFixed(1)} µs | ${r.bytesPerEvent.toFixed(0)} B | ${r.puts} / ${r.deletes} / ${r.gets} | ` +
      `${kb(r.heap)} | ${kb(r.wasm0)} → ${kb(r.wasm1)} | ${r.wallS.toFixed(1)} s |`);
  }
  lines.push("");
  // By the whole heading line: a labelled section's heading starts with the unlabelled one's.
  writeSection(OUT, head + "\n", lines.join("\n") + "\n");
}

await main();
