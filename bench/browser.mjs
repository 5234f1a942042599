// Browser benchmarks of the built package (pkg/), run with `node bench/browser.mjs`:
//   (a) bundle size: gzip -9 of what a browser downloads (pkg/web's wasm + pkg/index.js), and of a
//       minimal Vite app that imports the package;
//   (b) track() main-thread cost: 10,000 calls of a 10-property event per round, several rounds, in
//       a real headless Chromium page, storage "memory" and "indexeddb", each with the defaults
//       (the page's context and a session id on every event) and without them;
//   (c) memory held by 10,000 queued events (collector unreachable): JS heap (CDP
//       Performance.getMetrics after a forced GC) and the wasm linear memory.
// With the peer SDK installed (@amplitude/analytics-browser, a devDependency; its published npm
// files used read-only) the same three are measured for it. Results go to bench/results.md.
//
// The pages are served cross-origin isolated (COOP + COEP), where Chromium's performance.now() has
// 5 µs resolution instead of 100 µs; calls are still timed in blocks of 100 and divided, so a
// "per call" sample is one block's mean.
// Flags: --rounds N (default 5), --calls N (default 10000), --no-peer, --sdk batchwire|amplitude,
// --pkg DIR (default pkg/), --out FILE.
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { createServer } from "node:http";
import { extname, resolve } from "node:path";
import { launchBrowser, ROOT, startCollector, WASM_MEMORY_HOOK } from "../tests/e2e/harness.mjs";
import { args, EVENT_SRC, flag } from "./results.mjs";

const ROUNDS = Number(flag("--rounds", 5));
const CALLS = Number(flag("--calls", 10_000));
const BLOCK = 100;
const OUT = flag("--out", join(ROOT, "bench/results.md"));
// --pkg DIR measures a copy of the package, safe from a rebuild of pkg/ running meanwhile.
const PKG = resolve(flag("--pkg", join(ROOT, "pkg")));
const PEER_DIR = join(ROOT, "node_modules/@amplitude/analytics-browser");
const SDK = flag("--sdk", "all"); // all | batchwire | amplitude
const WITH_PEER = SDK !== "batchwire" && !args.includes("--no-peer") && existsSync(PEER_DIR);
const WITH_BW = SDK !== "amplitude";
const UNREACHABLE = "http://127.0.0.1:9"; // discard port: nothing listens, connections are refused

const gz = (buf) => gzipSync(buf, { level: 9 }).length;
const kb = (n) => `${(n / 1024).toFixed(1)} KiB`;

// ---------- (a) bundle size ----------
// Counted the way scripts/package.py counts its budget, so the two numbers agree: what a /v1-batch
// page loads (the page this bench runs), whose module is web/batchwire_bg.wasm.
function packageSize() {
  const pj = JSON.parse(readFileSync(join(PKG, "package.json"), "utf8"));
  const wasm = join(PKG, "web/batchwire_bg.wasm");
  // The entry module: src/web/index.js with src/web/js/*.js bundled in (scripts/bundle.mjs).
  const js = join(PKG, pj.exports["."].browser);
  const sizes = { wasm: gz(readFileSync(wasm)), js: gz(readFileSync(js)) };
  return { ...sizes, total: sizes.wasm + sizes.js, rawWasm: statSync(wasm).size, rawJs: statSync(js).size };
}

/** gzip -9 of every asset a minimal Vite app importing `code` emits (js + wasm), summed, but those
 * whose name matches `skip` (files the app's page never fetches). */
async function viteAppSize(code, alias = {}, skip = /^$/) {
  const { build } = await import("vite");
  // Inside the repo (bench/out/ is git-ignored) so that bare imports resolve from node_modules/.
  await mkdir(join(ROOT, "bench/out"), { recursive: true });
  const dir = await mkdtemp(join(ROOT, "bench/out/vite-"));
  try {
    await writeFile(join(dir, "index.html"), '<!doctype html><script type="module" src="./main.js"></script>');
    await writeFile(join(dir, "main.js"), code);
    await build({
      root: dir, base: "./", logLevel: "error", configFile: false,
      resolve: { alias }, build: { outDir: join(dir, "dist"), target: "es2022" },
    });
    let total = 0;
    const walk = (d) => {
      for (const f of readdirSync(d)) {
        const p = join(d, f);
        if (statSync(p).isDirectory()) walk(p);
        else if (/\.(js|wasm|mjs)$/.test(f) && !skip.test(f)) total += gz(readFileSync(p));
      }
    };
    walk(join(dir, "dist"));
    return total;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

// ---------- pages ----------

const MEASURE_SRC = `
window.measure = async (track, rounds, calls, block) => {
  const props = ${EVENT_SRC};
  const perCall = []; const drained = [];
  let i = 0;
  for (let r = 0; r < rounds; r++) {
    const start = performance.now();
    for (let b = 0; b < calls / block; b++) {
      const s = performance.now();
      for (let k = 0; k < block; k++, i++) track("Product Viewed", props(i));
      perCall.push(((performance.now() - s) / block) * 1000);
    }
    // Work an SDK defers to microtasks still runs on the main thread: a round's drained cost
    // includes it (setTimeout 0 runs only after the microtask queue is empty).
    await new Promise((ok) => setTimeout(ok, 0));
    drained.push(((performance.now() - start) / calls) * 1000);
    await new Promise((ok) => setTimeout(ok, 200)); // let sends and storage settle between rounds
  }
  return { perCall, drained };
};
window.fill = (n) => {
  const props = ${EVENT_SRC};
  for (let i = 0; i < n; i++) track("Product Viewed", props(i));
};
window.benchReady = true;`;

const PAGES = {
  "batchwire.html": `<!doctype html><script type="module">
// The wasm memory, seen from the instance the package creates (its exports are not public).
${WASM_MEMORY_HOOK}const bw = await import("/pkg/index.js");
window.start = async (options) => {
  window.client = await bw.createClient(options);
  window.wasmBytes = () => globalThis.wasmMemory?.buffer?.byteLength ?? null;
  return true;
};
window.track = (name, props) => window.client.track(name, props);
${MEASURE_SRC}
</script>`,
  "amplitude.html": `<!doctype html><script src="/peer/amplitude/amplitude-min.js"></script><script type="module">
window.start = async (options) => {
  await window.amplitude.init("amp_demo_key", options).promise;
  window.wasmBytes = () => null;
  return true;
};
window.track = (name, props) => { window.amplitude.track(name, props); };
${MEASURE_SRC}
</script>`,
};

/** A static server like scripts/serve.mjs, but every answer is cross-origin isolated. */
async function isolatedServer(mounts) {
  const types = { ".html": "text/html", ".js": "text/javascript", ".wasm": "application/wasm" };
  const server = createServer(async (req, res) => {
    const path = decodeURIComponent(new URL(req.url, "http://x").pathname);
    const headers = {
      "cross-origin-opener-policy": "same-origin", "cross-origin-embedder-policy": "require-corp",
      "cache-control": "no-store",
    };
    for (const [prefix, dir] of mounts) {
      if (!path.startsWith(prefix) || path.includes("..")) continue;
      try {
        const body = readFileSync(join(dir, path.slice(prefix.length)));
        res.writeHead(200, { ...headers, "content-type": types[extname(path)] ?? "application/octet-stream" });
        return res.end(body);
      } catch {
        break;
      }
    }
    res.writeHead(404, headers);
    res.end();
  });
  await new Promise((ok) => server.listen(0, "127.0.0.1", ok));
  return { url: `http://127.0.0.1:${server.address().port}`, close: () => new Promise((ok) => server.close(ok)) };
}

const median = (xs) => quantile(xs, 0.5);
function quantile(xs, q) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))];
}

async function withPage(env, file, fn) {
  const context = await env.browser.newContext();
  try {
    const page = await context.newPage();
    page.on("pageerror", (e) => console.error(`[${file}] pageerror: ${e.message}`));
    await page.goto(`${env.web.url}/bench/${file}`);
    await page.waitForFunction("window.benchReady === true");
    if (!(await page.evaluate(() => crossOriginIsolated))) throw new Error("bench page is not cross-origin isolated");
    return await fn(page, context);
  } finally {
    await context.close();
  }
}

// ---------- (b) track() cost ----------
async function trackCost(env, file, options) {
  return withPage(env, file, async (page) => {
    await page.evaluate((o) => start(o), options);
    const { perCall, drained } = await page.evaluate(([r, c, b]) => measure(track, r, c, b), [ROUNDS, CALLS, BLOCK]);
    return { median: median(perCall), p95: quantile(perCall, 0.95), drained: median(drained) };
  });
}

// ---------- (c) memory of queued events ----------
async function queuedMemory(env, file, options) {
  return withPage(env, file, async (page, context) => {
    const cdp = await context.newCDPSession(page);
    await cdp.send("Performance.enable");
    const heap = async () => {
      await cdp.send("HeapProfiler.collectGarbage");
      const { metrics } = await cdp.send("Performance.getMetrics");
      return metrics.find((m) => m.name === "JSHeapUsedSize").value;
    };
    await page.evaluate((o) => start(o), options);
    await page.evaluate(() => track("Warm Up", { i: -1 })); // first-call allocations are not per event
    const heap0 = await heap();
    const wasm0 = await page.evaluate(() => wasmBytes());
    await page.evaluate((n) => fill(n), CALLS);
    await page.evaluate(() => new Promise((ok) => setTimeout(ok, 500)));
    const heap1 = await heap();
    const wasm1 = await page.evaluate(() => wasmBytes());
    const queued = await page.evaluate(() => window.client?.stats?.().queued ?? null);
    // With IndexedDB, the events' JSON as the engine holds it: every stored value less its
    // 12-byte header (src/web/records.rs RECORD_HEADER), read back from the store.
    const json = options.storage !== "indexeddb" ? null : await page.evaluate(() => new Promise((ok, fail) => {
      const r = indexedDB.open("batchwire:uk_live_demo");
      r.onerror = () => fail(r.error);
      r.onsuccess = () => {
        const all = r.result.transaction("events").objectStore("events").getAll();
        all.onerror = () => fail(all.error);
        all.onsuccess = () => {
          let n = 0;
          for (const rec of all.result) for (let i = 1; i < rec.length; i += 2) n += rec[i].byteLength - 12;
          r.result.close();
          ok(n);
        };
      };
    }));
    return { heap: heap1 - heap0, wasm0, wasm1, queued, json };
  });
}

function machine() {
  const cpuinfo = readFileSync("/proc/cpuinfo", "utf8");
  const model = /model name\s*:\s*(.*)/.exec(cpuinfo)?.[1] ?? cpus()[0]?.model ?? "unknown";
  const nproc = execFileSync("nproc").toString().trim();
  const chromium = execFileSync("/usr/bin/chromium", ["--version"], { stdio: ["ignore", "pipe", "ignore"] })
    .toString().trim();
  let rev = "unknown";
  try {
    rev = execFileSync("git", ["describe", "--always", "--dirty"], { cwd: ROOT }).toString().trim();
  } catch {
    // not a git checkout: the date has to do
  }
  const built = statSync(join(PKG, "package.json")).mtime.toISOString().slice(0, 16).replace("T", " ");
  return { model, nproc, chromium, node: process.version, rev, built };
}

async function main() {
  let pkgSize = null;
  let bwVite = null;
  if (WITH_BW) {
    pkgSize = packageSize();
    console.log(`size: batchwire pkg gzip -9: wasm ${pkgSize.wasm} + js ${pkgSize.js} = ${pkgSize.total} B`);
    bwVite = await viteAppSize(
      `import { createClient } from "batchwire";\nconst c = await createClient({ writeKey: "k", apiHost: location.origin });\nc.track("x", {});\n`,
      // The module with every protocol is emitted too; a /v1-batch page never fetches it.
      { batchwire: join(PKG, "index.js") }, /^batchwire_all_bg/);
    console.log(`size: minimal Vite app with batchwire: ${bwVite} B gzip`);
  }
  let peer = null;
  if (WITH_PEER) {
    const version = JSON.parse(readFileSync(join(PEER_DIR, "package.json"), "utf8")).version;
    const script = gz(readFileSync(join(PEER_DIR, "lib/scripts/amplitude-min.js")));
    const vite = await viteAppSize(
      `import { init, track } from "@amplitude/analytics-browser";\ninit("k", { autocapture: false });\ntrack("x", {});\n`);
    peer = { name: `@amplitude/analytics-browser ${version}`, script, vite };
    console.log(`size: ${peer.name}: amplitude-min.js ${script} B gzip, minimal Vite app ${vite} B gzip`);
  }

  const pagesDir = await mkdtemp(join(tmpdir(), "bw-bench-pages-"));
  for (const [f, html] of Object.entries(PAGES)) await writeFile(join(pagesDir, f), html);
  const env = {};
  try {
    env.collector = await startCollector(["--eps-v2", "1000000", "--rate-per-ip", "1000000", "--rate-per-org", "1000000"]);
    env.web = await isolatedServer([
      ["/bench/", pagesDir], ["/pkg/", PKG], ["/peer/amplitude/", join(PEER_DIR, "lib/scripts")],
    ]);
    env.browser = await launchBrowser();
    const bwOpts = (extra) => ({ writeKey: "uk_live_demo", apiHost: env.collector.url, protocol: "v1-batch", ...extra });
    const ampOpts = (extra) => ({ serverUrl: `${env.collector.url}/2/httpapi`, autocapture: false, logLevel: 0, ...extra });

    const rows = [];
    // The defaults (each event carries the page's context and a session id), and the same with
    // neither (`context: false, sessionTimeoutMs: 0`): what the context costs a call.
    const bare = { context: false, sessionTimeoutMs: 0 };
    for (const [storage, extra] of WITH_BW ? [["memory", {}], ["memory", bare], ["indexeddb", {}], ["indexeddb", bare]] : []) {
      const cost = await trackCost(env, "batchwire.html", bwOpts({ storage, ...extra }));
      const mem = await queuedMemory(env, "batchwire.html", bwOpts({ storage, ...extra, apiHost: UNREACHABLE, flushIntervalMs: 3_600_000 }));
      rows.push({ sdk: `batchwire (storage "${storage}"${extra === bare ? ", no context or session" : ""})`, cost, mem, bare: extra === bare });
      console.log(`batchwire ${storage}: track ${cost.median.toFixed(2)} µs median, ${cost.p95.toFixed(2)} µs p95, ${cost.drained.toFixed(2)} µs drained; ` +
        `10k queued: heap +${kb(mem.heap)}, wasm ${mem.wasm0} -> ${mem.wasm1} B (queued ${mem.queued})`);
    }
    if (peer) {
      const cost = await trackCost(env, "amplitude.html", ampOpts({}));
      const mem = await queuedMemory(env, "amplitude.html", ampOpts({
        serverUrl: `${UNREACHABLE}/2/httpapi`, flushIntervalMillis: 3_600_000, flushQueueSize: 1_000_000,
      }));
      rows.push({ sdk: peer.name, cost, mem });
      console.log(`${peer.name}: track ${cost.median.toFixed(2)} µs median, ${cost.p95.toFixed(2)} µs p95, ${cost.drained.toFixed(2)} µs drained; 10k queued: heap +${kb(mem.heap)}`);
    }
    // The memory rows queue the same events as the IndexedDB rows of the same context setting:
    // their JSON is that row's.
    for (const r of rows) if ("bare" in r) r.mem.json ??= rows.find((x) => x.mem.json && x.bare === r.bare)?.mem.json;
    writeResults({ pkgSize, bwVite, peer, rows });
  } finally {
    await env.browser?.close();
    await env.web?.close();
    await env.collector?.stop();
    await rm(pagesDir, { recursive: true, force: true });
  }
}

function writeResults({ pkgSize, bwVite, peer, rows }) {
  const m = machine();
  const date = new Date().toISOString().slice(0, 16).replace("T", " ") + " UTC";
  const wasmCell = (mem) => (mem.wasm1 == null ? "n/a (no wasm)" : `${kb(mem.wasm0)} → ${kb(mem.wasm1)}`);
  const lines = [
    "# Browser benchmark results",
    "",
    `Measured ${date} on ${m.nproc} × ${m.model}, ${m.chromium} (headless), node ${m.node}.`,
    `Package: built ${m.built} UTC; the work tree when measured: \`${m.rev}\` (\`-dirty\`: with uncommitted changes).`,
    `Command: \`${["node bench/browser.mjs", ...args].join(" ")}\` (${ROUNDS} rounds × ${CALLS.toLocaleString("en")} calls, timed in blocks of ${BLOCK}).`,
    "",
    "## Bundle size (gzip -9)",
    "",
    "| what | bytes |",
    "|---|---:|",
  ];
  if (pkgSize) {
    lines.push(`| batchwire pkg: wasm + js (the entry and src/web/js in one module) | ${pkgSize.wasm} + ${pkgSize.js} = **${pkgSize.total}** (raw wasm ${pkgSize.rawWasm}, raw js ${pkgSize.rawJs}) |`);
    lines.push(`| minimal Vite app importing batchwire (all emitted js + the /v1-batch wasm it fetches) | ${bwVite} |`);
  }
  if (peer) {
    lines.push(`| ${peer.name}: lib/scripts/amplitude-min.js | ${peer.script} |`);
    lines.push(`| minimal Vite app importing ${peer.name} (init + track) | ${peer.vite} |`);
  }
  lines.push(
    "",
    "## track() main-thread cost and memory of 10,000 queued events",
    "",
    "Event: `track(\"Product Viewed\", {10 properties})`, the object built per call. \"per call\" is the median",
    "(p95) of 100-call block means; \"drained\" adds the work the SDK deferred to microtasks, per call.",
    "Memory: events queued with the collector unreachable; JS heap growth after a forced GC (CDP",
    "`Performance.getMetrics` JSHeapUsedSize) and the wasm linear memory before → after; ÷ JSON: the wasm memory",
    "grown over the queued events' JSON (what the IndexedDB store holds for them, less each value's 12-byte header;",
    "the same events for both storages); all ÷ JSON: the JS heap's growth and the wasm memory's over the same JSON.",
    "",
    "| SDK | per call median | p95 | drained | JS heap +10k queued | wasm memory | wasm memory grown ÷ JSON | all ÷ JSON |",
    "|---|---:|---:|---:|---:|---:|---:|---:|",
  );
  for (const r of rows) {
    lines.push(`| ${r.sdk} | ${r.cost.median.toFixed(2)} µs | ${r.cost.p95.toFixed(2)} µs | ${r.cost.drained.toFixed(2)} µs | ` +
      `${kb(r.mem.heap)} | ${wasmCell(r.mem)} | ${r.mem.json && r.mem.wasm1 ? `${((r.mem.wasm1 - r.mem.wasm0) / r.mem.json).toFixed(2)}× (${(r.mem.json / r.mem.queued).toFixed(0)} B per event)` : "–"} | ` +
      `${r.mem.json && r.mem.wasm1 ? `${((r.mem.heap + r.mem.wasm1 - r.mem.wasm0) / r.mem.json).toFixed(2)}×` : "–"} |`);
  }
  lines.push("");
  writeFileSync(OUT, lines.join("\n") + otherSections(lines));
  console.log(`wrote ${OUT}`);
}

/** The sections of the results file other benchmarks wrote (bench/drain.mjs), kept as they are. */
function otherSections(lines) {
  if (!existsSync(OUT)) return "";
  const ours = new Set(lines.filter((l) => l.startsWith("## ")));
  const kept = [];
  let keep = false;
  for (const l of readFileSync(OUT, "utf8").split("\n")) {
    if (l.startsWith("## ")) keep = !ours.has(l);
    else if (l.startsWith("# ")) keep = false;
    if (keep) kept.push(l);
  }
  return kept.length ? "\n" + kept.join("\n").replace(/\n*$/, "\n") : "";
}

await main();
