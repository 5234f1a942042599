// Main-thread cost of a burst: `node bench/burst.mjs`, batchwire with IndexedDB durability on and
// with storage "memory", and a peer in the same run.
// A fresh page (its own browser context, so an empty IndexedDB) creates a client (flushAt 100, the
// collector reachable) and calls track() N times in one task, with the 10-property event of
// bench/browser.mjs; then it waits until every event is delivered and the store holds nothing.
// The peer, Snowplow's browser tracker 4.10 with its queue in memory only (`useLocalStorage:
// false`, bufferSize 100, POSTs to a sink of this script's that answers 200), is measured until
// its page is idle: that queue keeps at most 1,000 events and drops the oldest beyond, so it
// delivers what it kept (the "delivered" column), and it persists nothing.
// Measured per event, for N = 1,000, 10,000 and 100,000:
// - all main-thread work: Chromium's TaskDuration (CDP Performance.getMetrics) from before the
//   burst until idle (batchwire: every event delivered, the store empty), divided by N; beside
//   it, the main thread's CPU time over the same span (ThreadTime): a task's duration also counts
//   the time the thread waited for a core, which on a machine of two cores, with the browser's
//   other threads, the request worker and the collector busy too, is a good part of it;
// - the synchronous track() loop alone;
// - bytes written to IndexedDB: IDBObjectStore.prototype.put wrapped in the page to sum what each
//   value holds (strings' lengths, byte arrays' lengths), and the puts, deletes and gets made;
// - JS heap (after a forced GC) and wasm memory once idle, against before the burst; then, the
//   burst delivered, the same burst again and the wasm memory after it (WebAssembly memory never
//   shrinks: what the first burst's events released is reused, not grown again), and that
//   second burst's main-thread time and CPU time per event (the page's code compiled and
//   optimised by then, the request worker running; the peer's second burst too).
// The collector's count of distinct events is checked against N (a burst not delivered exactly
// once is an error, not a figure). Flags: --sizes 1000,10000 (default 1000,10000,100000),
// --sdks batchwire,batchwire-memory,snowplow-memq (the default: all three),
// --pkg DIR (default pkg/), --timeout S per burst (default 600), --out FILE, --label TEXT (added
// to the section's heading, so a build from before a change keeps a section of its own),
// --profile (a CPU profile of each burst, printed by bench/profile.mjs: where the time goes; the
// sampling adds to what it measures, so bench/results.md is left as it was), --profile-again (the
// same of the second burst in the page).
import { execFileSync } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer } from "node:http";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { IDB_IO_HOOK, idbIo, launchBrowser, ROOT, startCollector, startWeb, waitFor, WASM_MEMORY_HOOK } from "../tests/e2e/harness.mjs";
import { profileReport, startProfile } from "./profile.mjs";
import { args, EVENT_SRC, flag, writeSection } from "./results.mjs";

const SIZES = flag("--sizes", "1000,10000,100000").split(",").map(Number);
const PKG = resolve(flag("--pkg", join(ROOT, "pkg")));
const TIMEOUT_S = Number(flag("--timeout", 600));
const OUT = flag("--out", join(ROOT, "bench/results.md"));
const LABEL = flag("--label", "");
// --profile-again: the second burst's profile instead (the page's code compiled by then).
const AGAIN = args.includes("--profile-again");
const PROFILE = AGAIN || args.includes("--profile");
const SDKS = flag("--sdks", "batchwire,batchwire-memory,snowplow-memq").split(",");
const KNOWN = { "batchwire": "batchwire (storage \"indexeddb\")", "batchwire-memory": "batchwire (storage \"memory\")",
  "snowplow-memq": "@snowplow/browser-tracker 4.10.1, queue in memory only" };
if (SDKS.some((s) => !KNOWN[s])) {
  console.error(`--sdks: one or more of ${Object.keys(KNOWN).join(", ")}`);
  process.exit(2);
}
const HEAD = "## Main-thread cost of a burst";

// The same event for every SDK, as bench/browser.mjs tracks it.
const BURST_SRC = `window.burst = (n) => {
  const props = ${EVENT_SRC};
  const t = performance.now();
  for (let i = 0; i < n; i++) track("Product Viewed", props(i));
  return performance.now() - t;
};`;

const PAGES = {
  "batchwire.html": `<!doctype html><script type="module">
${WASM_MEMORY_HOOK}// What the client writes to IndexedDB: every value put, by the bytes it holds.
${IDB_IO_HOOK}
const bw = await import("/pkg/index.js");
window.start = async (o) => { window.client = await bw.createClient(o); };
window.wasmBytes = () => globalThis.wasmMemory?.buffer?.byteLength ?? 0;
const track = (name, props) => client.track(name, props);
${BURST_SRC}
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
</script>`,
  // The peer's UMD build, as a page that does not bundle loads it.
  "snowplow.html": `<!doctype html><script src="/peer/snowplow/index.umd.min.js"></script><script type="module">
${IDB_IO_HOOK}
const sp = window.snowplowBrowserTracking;
window.start = (o) => { sp.newTracker("sp", o.sink, { appId: "bench", eventMethod: "post", bufferSize: 100, useLocalStorage: false }); };
window.wasmBytes = () => 0;
const track = (name, props) => sp.trackSelfDescribingEvent({ event: { schema: "iglu:com.example/product_viewed/jsonschema/1-0-0", data: props } });
${BURST_SRC}
window.benchReady = true;
</script>`,
};

// The peer's collector: answers 200 to every POST (with the CORS a credentialed XHR needs) and
// counts the events each carries ({schema, data: [event, ...]}).
async function startSink() {
  let events = 0;
  const server = createServer((req, res) => {
    res.setHeader("access-control-allow-origin", req.headers.origin ?? "*");
    res.setHeader("access-control-allow-credentials", "true");
    res.setHeader("access-control-allow-headers", req.headers["access-control-request-headers"] ?? "content-type");
    res.setHeader("access-control-allow-methods", "POST, GET, OPTIONS");
    const body = [];
    req.on("data", (c) => body.push(c));
    req.on("end", () => {
      if (req.method === "POST") {
        try {
          events += JSON.parse(Buffer.concat(body).toString()).data?.length ?? 0;
        } catch {}
      }
      res.end();
    });
  });
  await new Promise((ok) => server.listen(0, "127.0.0.1", ok));
  return { url: `http://127.0.0.1:${server.address().port}`, events: () => events, close: () => new Promise((ok) => server.close(ok)) };
}

async function burst(env, sdk, n) {
  const context = await env.browser.newContext();
  try {
    const page = await context.newPage();
    page.on("pageerror", (e) => console.error(`pageerror: ${e.message}`));
    const peer = sdk === "snowplow-memq";
    // Idle: `total` events delivered since the page started, and the store empty (its last
    // deletes committed).
    const settled = (total) => waitFor(async () => {
      const s = await page.evaluate(() => client.stats());
      return s.delivered >= total && s.queued === 0 && s.inFlight === 0 &&
        (sdk === "batchwire-memory" || (await page.evaluate(() => records())) === 0);
    }, { timeout: TIMEOUT_S * 1000, interval: 250, what: `a burst of ${n} to be delivered and the store emptied` });
    await page.goto(`${env.web.url}/bench/${peer ? "snowplow" : "batchwire"}.html`);
    await page.waitForFunction("window.benchReady === true");
    await page.evaluate((o) => start(o), {
      writeKey: "uk_live_demo", apiHost: env.collector.url, protocol: "v1-batch", flushAt: 100,
      storage: sdk === "batchwire-memory" ? "memory" : "indexeddb", sink: env.sink.url,
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
    const sunk = env.sink.events();
    if (PROFILE && !AGAIN) await startProfile(cdp);
    const task0 = await metric("TaskDuration"), cpu0 = await metric("ThreadTime");
    const started = Date.now();
    // Idle: for batchwire, `total` events delivered and the store empty; for the peer, no
    // main-thread work and no event arriving at the sink for a second (its retries, were there
    // any, would show as work).
    const idle = async (total) => {
      if (!peer) return settled(total);
      let last = [-1, -1], still = 0;
      await waitFor(async () => {
        const now = [await metric("TaskDuration"), env.sink.events()];
        still = now[0] - last[0] < 0.002 && now[1] === last[1] ? still + 1 : 0;
        last = now;
        return still >= 4;
      }, { timeout: TIMEOUT_S * 1000, interval: 250, what: `the peer's page to be idle after a burst of ${n}` });
    };
    const loopMs = await page.evaluate((k) => burst(k), n);
    await idle(n);
    const task1 = await metric("TaskDuration"), cpu1 = await metric("ThreadTime");
    let profile = PROFILE && !AGAIN && (await cdp.send("Profiler.stop")).profile;
    const wallS = (Date.now() - started) / 1000;
    const after = await env.collector.stats();
    // Stored and since evicted: the collector keeps the last 200,000 events, fewer than a run sends.
    const kept = (s) => s.events.stored + s.events.evicted;
    const delivered = peer ? env.sink.events() - sunk : kept(after) - kept(before);
    // The events' JSON as sent: the request bodies the collector received (the batch envelope
    // adds under 1 B per event).
    const jsonBytes = peer ? 0 : after.bytes_received - before.bytes_received;
    if (!peer && delivered !== n) throw new Error(`the collector stored ${delivered} events of a burst of ${n}`);
    await cdp.send("HeapProfiler.collectGarbage");
    const heap1 = await metric("JSHeapUsedSize");
    const wasm1 = await page.evaluate(() => wasmBytes());
    const io = await idbIo(page);
    // The same burst again, once the first is delivered: WebAssembly memory never shrinks, so
    // what a delivered burst released shows as memory the second reuses rather than grows.
    // Its main-thread time too: what the burst costs once the page's code is compiled and
    // optimised, and the request worker runs.
    let wasm2 = 0;
    if (AGAIN) await startProfile(cdp);
    const task2 = await metric("TaskDuration"), cpu2 = await metric("ThreadTime");
    await page.evaluate((k) => burst(k), n);
    await idle(2 * n);
    const task3 = await metric("TaskDuration"), cpu3 = await metric("ThreadTime");
    if (AGAIN) profile = (await cdp.send("Profiler.stop")).profile;
    if (!peer) {
      const again = kept(await env.collector.stats()) - kept(after);
      if (again !== n) throw new Error(`the collector stored ${again} events of a second burst of ${n}`);
      wasm2 = await page.evaluate(() => wasmBytes());
    }
    return {
      sdk, n, taskUs: ((task1 - task0) * 1e6) / n, cpuUs: ((cpu1 - cpu0) * 1e6) / n,
      againUs: ((task3 - task2) * 1e6) / n, againCpuUs: ((cpu3 - cpu2) * 1e6) / n, loopUs: (loopMs * 1000) / n, wallS, delivered,
      bytesPerEvent: io.bytes / n, puts: io.puts, deletes: io.deletes, gets: io.gets,
      heap: heap1 - heap0, wasm0, wasm1, wasm2, jsonBytes, profile,
    };
  } finally {
    await context.close();
  }
}

const kb = (b) => `${(b / 1024).toFixed(1)} KiB`;

async function main() {
  const dir = await mkdtemp(join(tmpdir(), "bw-burst-"));
  for (const [name, html] of Object.entries(PAGES)) await writeFile(join(dir, name), html);
  const env = {};
  const rows = [];
  try {
    env.collector = await startCollector(["--eps-v2", "1000000", "--rate-per-ip", "1000000", "--rate-per-org", "1000000"]);
    env.sink = await startSink();
    env.web = await startWeb([["/bench/", dir], ["/pkg/", PKG],
      ["/peer/snowplow/", join(ROOT, "node_modules/@snowplow/browser-tracker/dist")]]);
    env.browser = await launchBrowser();
    // SDK by SDK, each through the sizes: a row's "vs the first" is its SDK's 1,000 burst.
    for (const sdk of SDKS) {
      for (const n of SIZES) {
        let r;
        try {
          r = await burst(env, sdk, n);
        } catch (e) {
          console.log(`${sdk} burst ${n}: ${e.message}`);
          rows.push({ sdk, n, error: e.message.replace(/\(last:.*/s, "").trim() });
          continue;
        }
        rows.push(r);
        console.log(`${sdk} burst ${n}: ${r.taskUs.toFixed(1)} µs/event main thread, CPU ${r.cpuUs.toFixed(1)} µs; ` +
          `again ${r.againUs.toFixed(1)}, CPU ${r.againCpuUs.toFixed(1)} µs (track loop ${r.loopUs.toFixed(1)} µs), ` +
          `${r.delivered} delivered, ${r.bytesPerEvent.toFixed(0)} B written to IndexedDB per event (${r.puts} puts, ` +
          `${r.deletes} deletes, ${r.gets} gets), heap ${kb(r.heap)}, wasm ${kb(r.wasm0)} -> ${kb(r.wasm1)} -> ${kb(r.wasm2)} after the ` +
          `same burst again, ${r.wallS.toFixed(1)} s`);
        if (r.profile) console.log(profileReport(r.profile, n, PKG).join("\n"));
      }
    }
  } finally {
    await env.browser?.close();
    await env.web?.close();
    await env.sink?.close();
    await env.collector?.stop();
    await rm(dir, { recursive: true, force: true });
  }
  if (PROFILE) return;
  const date = new Date().toISOString().slice(0, 16).replace("T", " ") + " UTC";
  const rev = execFileSync("git", ["describe", "--always", "--dirty"], { cwd: ROOT }).toString().trim();
  const head = HEAD + (LABEL ? `: ${LABEL}` : "");
  const lines = [
    head,
    "",
    `Measured ${date}, work tree \`${rev}\`. Command: \`${["node bench/burst.mjs", ...args].join(" ")}\`.`,
    "One page per burst (fresh IndexedDB), flushAt 100; batchwire with the queue bounds raised to hold the burst and",
    "requests not paced (`maxQueueEvents`, `maxQueueBytes`, `requestsPerWindow: 0`), the collector reachable; N calls of",
    "`track(\"Product Viewed\", {10 properties})` in one task, then waited until all N were delivered (checked at the",
    "collector) and the store was empty. The peer (bufferSize 100, its queue in memory only, which keeps at most 1,000",
    "events) sends the same 10 properties as a self-describing event to a sink answering 200, and is measured until its",
    "page is idle. Main thread: Chromium's TaskDuration over that span ÷ N; its CPU time: ThreadTime over the span ÷ N",
    "(a task's duration also counts the time the thread waited for a core); the same for a second burst in the same page once the first",
    "is delivered (the code compiled and optimised by then). Bytes: the sizes of the values put into",
    "IndexedDB (strings and byte arrays), ÷ N. Heap: after a forced GC, idle vs before. Wasm memory never shrinks, so",
    "\"after\" is the burst's peak, every event queued at once; ÷ the request bodies the collector received for the burst.",
    "",
    "| SDK | burst | main thread per event | vs its first burst | main-thread CPU per event | the same burst again: main thread, CPU | track() loop per event | delivered | IndexedDB bytes written per event | puts / deletes / gets | JS heap after | wasm memory: before → after → after the same burst again | wasm memory grown ÷ the burst's JSON | wall |",
    "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
  ];
  for (const r of rows) {
    if (r.error) {
      lines.push(`| ${KNOWN[r.sdk]} | ${r.n.toLocaleString("en")} | ${r.error} | | | | | | | | | | | |`);
      continue;
    }
    const first = rows.find((x) => x.sdk === r.sdk && !x.error);
    lines.push(`| ${KNOWN[r.sdk]} | ${r.n.toLocaleString("en")} | **${r.taskUs.toFixed(1)} µs** | ${(r.taskUs / first.taskUs).toFixed(2)}× | ${r.cpuUs.toFixed(1)} µs | ${r.againUs.toFixed(1)} µs, ${r.againCpuUs.toFixed(1)} µs | ` +
      `${r.loopUs.toFixed(1)} µs | ${r.delivered.toLocaleString("en")} | ${r.bytesPerEvent.toFixed(0)} B | ${r.puts} / ${r.deletes} / ${r.gets} | ` +
      `${kb(r.heap)} | ${r.wasm1 ? `${kb(r.wasm0)} → ${kb(r.wasm1)} → ${kb(r.wasm2)}` : "–"} | ` +
      `${r.wasm1 ? `${((r.wasm1 - r.wasm0) / r.jsonBytes).toFixed(2)}× (${(r.jsonBytes / r.n).toFixed(0)} B per event)` : "–"} | ${r.wallS.toFixed(1)} s |`);
  }
  lines.push("");
  // By the whole heading line: a labelled section's heading starts with the unlabelled one's.
  writeSection(OUT, head + "\n", lines.join("\n") + "\n");
}

await main();
