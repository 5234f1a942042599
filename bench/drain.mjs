// Drain rate against the server's cap, per protocol: the built package (pkg/, with pacing) in
// headless Chromium drains a backlog into the reference collector over loopback while the
// collector enforces its limits. Rates come from the collector's own request log (GET /_stats),
// never from page-side timers. Run with `node bench/drain.mjs`; writes a section of
// bench/results.md.
//
// The windows are scaled by K (default 10) on both sides, so a run takes seconds instead of
// minutes: the collector's windows are 1/K of the real ones (--window-secs 6, --eps-window-secs 3)
// and the client is told the same window (`rateWindowMs`), as a customer whose server counts over
// other windows would; the caps stay the servers' (100 requests per window, 30 and 1,000 events a
// second per device), and the backlogs are 1/K of the real-scale ones. Latency and CPU time are
// not scaled: they weigh K times more than at real scale, and the engine's slack (a 32nd of a short
// window, at most 500 ms) is a larger share, so the ratios are if anything pessimistic.
//
// Ratio: units delivered (accepted requests on /v1-batch, accepted events on Amplitude) divided by
// what the cap admits over the server windows the drain used: windows opened as the /v1-batch
// collector opens them (at the first accepted request, the next at the first accepted request
// after it closed), from the first one's opening to the last one's close. 1.0: every window was
// filled and the next opened the moment the last closed. Each backlog is a whole number of
// windows' worth, so a client that sends its whole budget in each window scores 1.0 less the
// engine's pacing slack per window (a 32nd of these short windows: 0.97).
//
// Flags: --runs N (default 5), --scale K (default 10), --only NAME (a scenario), --pkg DIR,
// --out FILE, --no-write, --verbose (each request's arrival, status and events; printed anyway for a run
// that met a 429).
import { execFileSync } from "node:child_process";
import { args, flag, median, writeSection } from "./results.mjs";
import { existsSync, statSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { launchBrowser, ROOT, startCollector } from "../tests/e2e/harness.mjs";
import { serve } from "../scripts/serve.mjs";

const RUNS = Number(flag("--runs", 5));
const K = Number(flag("--scale", 10));
const ONLY = flag("--only", null);
const OUT = flag("--out", join(ROOT, "bench/results.md"));
const PKG = resolve(flag("--pkg", join(ROOT, "pkg")));

// The collector's limits, scaled: each window admits what the real one does, in 1/K of the time.
const V1_WINDOW_S = 60 / K;
const EPS_WINDOW_S = 30 / K;
const V1_PER_WINDOW = 100; // requests per (org, IP) per minute
const V2_EPS = 30; // events per second per device, averaged over 30 s
const BATCH_EPS = 1000;
const COLLECTOR_ARGS = [
  "--window-secs", String(V1_WINDOW_S), "--rate-per-ip", String(V1_PER_WINDOW),
  "--eps-window-secs", String(EPS_WINDOW_S), "--eps-v2", String(V2_EPS), "--eps-batch", String(BATCH_EPS),
  "--max-stored-events", "400000", "--log-cap", "100000",
];

// Each scenario: a backlog tracked at once, drained with the engine's default budgets.
const SCENARIOS = [
  {
    name: "v1-batch", label: "/v1-batch, 30,000 events (300 requests of 100)", path: "/v1-batch",
    options: { protocol: "v1-batch", writeKey: "uk_live_demo", flushAt: 100, rateWindowMs: V1_WINDOW_S * 1000 },
    devices: 0, perDevice: 30_000, unit: "requests",
    cap: V1_PER_WINDOW, window: V1_WINDOW_S, capText: "100 requests per window per (org, IP)",
  },
  {
    name: "v2-one", label: `HTTP V2, one device, ${(2_700 / K).toLocaleString("en")} events`, path: "/2/httpapi",
    options: { protocol: "amplitude-http-v2", writeKey: "amp_demo_key", flushAt: 1000, rateWindowMs: EPS_WINDOW_S * 1000 },
    devices: 1, perDevice: 2_700 / K, unit: "events",
    cap: V2_EPS * EPS_WINDOW_S, window: EPS_WINDOW_S, capText: "30 events / s per device",
  },
  {
    name: "v2-many", label: `HTTP V2, 20 devices × ${1_800 / K} events`, path: "/2/httpapi",
    options: { protocol: "amplitude-http-v2", writeKey: "amp_demo_key", flushAt: 1000, rateWindowMs: EPS_WINDOW_S * 1000 },
    devices: 20, perDevice: 1_800 / K, unit: "events",
    cap: 20 * V2_EPS * EPS_WINDOW_S, window: EPS_WINDOW_S, capText: "30 events / s per device, 20 devices",
  },
  {
    name: "batch", label: `Batch, one device, a burst of ${(90_000 / K).toLocaleString("en")} events`, path: "/batch",
    options: { protocol: "amplitude-batch", writeKey: "amp_demo_key", flushAt: 2000, rateWindowMs: EPS_WINDOW_S * 1000 },
    devices: 1, perDevice: 90_000 / K, unit: "events",
    cap: BATCH_EPS * EPS_WINDOW_S, window: EPS_WINDOW_S, capText: "1,000 events / s per device",
  },
].filter((s) => !ONLY || s.name === ONLY);

const PAGE = `<!doctype html><meta charset="utf-8"><script type="module">
const bw = await import("/pkg/index.js");
// Tracks the backlog (events interleaved across devices), then waits until all are delivered or
// failed. Answers the client's stats.
window.drain = async (options, devices, perDevice, timeoutMs) => {
  const client = await bw.createClient({ storage: "memory", maxQueueEvents: 200000,
    maxQueueBytes: 256 * 1024 * 1024, ...options });
  for (let i = 0; i < perDevice; i++) {
    if (!devices) client.track("Backlog Item", { i });
    else for (let d = 0; d < devices; d++)
      client.track("Backlog Item", { i }, { anonymousId: "bench-device-" + String(d).padStart(3, "0") });
  }
  const done = await Promise.race([client.flush().then(() => true),
    new Promise((ok) => setTimeout(() => ok(false), timeoutMs))]);
  const stats = client.stats();
  await client.shutdown();
  return { done, ...stats };
};
window.benchReady = true;
</script>`;


/** One drain: a fresh page and client against a reset collector; figures from the request log. */
async function runOnce(env, sc) {
  await env.collector.reset();
  const context = await env.browser.newContext();
  try {
    const page = await context.newPage();
    page.on("pageerror", (e) => console.error(`[drain] pageerror: ${e.message}`));
    await page.goto(`${env.web.url}/bench-drain/index.html`);
    await page.waitForFunction("window.benchReady === true");
    const total = (sc.devices || 1) * sc.perDevice;
    // Ten times the ideal drain.
    const idealS = (sc.unit === "requests" ? total / 100 : total) / sc.cap * sc.window;
    const stats = await page.evaluate(([o, d, n, t]) => drain(o, d, n, t),
      [{ ...sc.options, apiHost: env.collector.url }, sc.devices, sc.perDevice, Math.max(30, idealS * 10) * 1000]);
    const st = await env.collector.stats();
    const log = st.log.filter((r) => r.path === sc.path);
    const ok = log.filter((r) => r.status >= 200 && r.status < 300);
    const throttled = log.filter((r) => r.status === 429).length;
    const other = log.filter((r) => r.status !== 429 && (r.status < 200 || r.status >= 300)).length;
    const events = ok.reduce((n, r) => n + r.events, 0);
    const units = sc.unit === "requests" ? ok.length : events;
    const first = ok[0]?.ms ?? 0, last = ok.at(-1)?.ms ?? 0;
    const spanS = (last - first) / 1000;
    // The server's windows the drain used, counted as the /v1-batch collector opens them: one at
    // the first accepted request, the next at the first accepted request once it has closed.
    let opened = first, windows = ok.length ? 1 : 0;
    for (const r of ok) {
      if (r.ms >= opened + sc.window * 1000) {
        opened = r.ms;
        windows++;
      }
    }
    const usedS = (opened - first) / 1000 + sc.window;
    const ratio = units / ((sc.cap / sc.window) * usedS);
    if (args.includes("--verbose") || log.some((r) => r.status === 429)) {
      // Arrival times (ms after the first request) of each request, status and events.
      console.log(log.map((r) => `${r.ms - log[0].ms}${r.status === 200 ? "" : ":" + r.status}/${r.events}`).join(" "));
    }
    return {
      done: stats.done, delivered: stats.delivered, failed: stats.failed, total,
      requests: log.length, accepted: ok.length, throttled, other, events, spanS, windows, ratio,
      // Requests per window (/v1-batch), events per second (Amplitude).
      rate: sc.unit === "requests" ? (units / usedS) * sc.window : units / usedS,
    };
  } finally {
    await context.close();
  }
}

async function main() {
  if (!existsSync(join(PKG, "index.js"))) throw new Error(`no package at ${PKG}: build it first`);
  const pageDir = await mkdtemp(join(tmpdir(), "bw-drain-"));
  await writeFile(join(pageDir, "index.html"), PAGE);
  const env = {};
  const started = Date.now();
  const rows = [];
  try {
    env.collector = await startCollector(COLLECTOR_ARGS);
    const server = await serve({ port: 0, extraMounts: [["/bench-drain/", pageDir], ["/pkg/", PKG]] });
    env.web = { url: `http://127.0.0.1:${server.address().port}`, close: () => new Promise((ok) => server.close(ok)) };
    env.browser = await launchBrowser();
    for (const sc of SCENARIOS) {
      const runs = [];
      for (let i = 0; i < RUNS; i++) {
        const r = await runOnce(env, sc);
        runs.push(r);
        console.log(`${sc.name} run ${i + 1}: ${r.delivered}/${r.total} delivered (failed ${r.failed}${r.done ? "" : ", TIMED OUT"}), ` +
          `${r.accepted} accepted + ${r.throttled} × 429 + ${r.other} other, ${r.events} events in ${r.spanS.toFixed(2)} s, ` +
          `${r.windows} windows of ${sc.window} s, ratio ${r.ratio.toFixed(3)}`);
      }
      rows.push({ sc, runs });
    }
  } finally {
    await env.browser?.close();
    await env.web?.close();
    await env.collector?.stop();
    await rm(pageDir, { recursive: true, force: true });
  }
  const seconds = Math.round((Date.now() - started) / 1000);
  const section = table(rows, seconds);
  console.log("\n" + section);
  if (!args.includes("--no-write")) writeSection(OUT, "## Drain rate against the server's cap", section);
}

function table(rows, seconds) {
  const rev = (() => {
    try {
      return execFileSync("git", ["describe", "--always", "--dirty"], { cwd: ROOT }).toString().trim();
    } catch {
      return "unknown";
    }
  })();
  const built = statSync(join(PKG, "package.json")).mtime.toISOString().slice(0, 16).replace("T", " ");
  const date = new Date().toISOString().slice(0, 16).replace("T", " ") + " UTC";
  const lines = [
    "## Drain rate against the server's cap",
    "",
    `Measured ${date}; package (with the Cargo feature \`pacing\`) built ${built} UTC, work tree \`${rev}\`. Command: \`${["node bench/drain.mjs", ...args].join(" ")}\``,
    `(${RUNS} runs per row, medians; ${seconds} s in all). Windows scaled ×1/${K}: the collector's ${V1_WINDOW_S} s (/v1-batch) and ${EPS_WINDOW_S} s`,
    "(Amplitude), the client told the same with `rateWindowMs`; the caps are the servers'. Rates are from the collector's request log;",
    "ratio = delivered ÷ what the cap admits over the server windows the drain used, from the first accepted request",
    "to the close of the window the last one fell in (1.0: every window filled, each opened as the last closed).",
    "Engine budgets: the defaults; each backlog is a whole number of windows' worth.",
    "",
    "| backlog | cap | delivered rate | ratio (lowest run) | 429s (all runs) | requests | windows | first to last request (s) |",
    "|---|---|---:|---:|---:|---:|---:|---:|",
  ];
  for (const { sc, runs } of rows) {
    const m = (f) => median(runs.map(f));
    const unit = sc.unit === "requests" ? "req/window" : "events/s";
    const rate = m((r) => r.rate);
    const notDone = runs.filter((r) => !r.done || r.delivered !== r.total).length;
    const lowest = Math.min(...runs.map((r) => r.ratio));
    const all429 = runs.reduce((n, r) => n + r.throttled, 0);
    lines.push(`| ${sc.label} | ${sc.capText} | ${rate.toFixed(1)} ${unit} | **${m((r) => r.ratio).toFixed(2)}** (${lowest.toFixed(2)}) | ` +
      `${m((r) => r.throttled)} (${all429}) | ${m((r) => r.requests)} | ${m((r) => r.windows)} | ${m((r) => r.spanS).toFixed(1)}${notDone ? ` (${notDone} run(s) incomplete)` : ""} |`);
  }
  lines.push("");
  return lines.join("\n");
}

await main();
