// The end-to-end harness: the reference collector (a real process), the static server (www/ at /,
// pkg/ at /pkg/, our test pages at /e2e/) and headless Debian Chromium through playwright-core.
// Each test gets its own collector and a fresh browser context, so IndexedDB starts empty unless a
// test reloads or reopens pages inside the same context on purpose. Everything is torn down in
// t.after(), which node:test runs even when the test failed or timed out.
//
// The page origin (static server) and the collector origin differ in port, so every request is
// cross-origin and CORS is exercised exactly as in production.
import { spawn } from "node:child_process";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";
import { serve } from "../../scripts/serve.mjs";

export const ROOT = resolve(fileURLToPath(import.meta.url), "../../..");
export const PAGES = join(ROOT, "tests/e2e/pages");
export const WRITE_KEY = "uk_live_demo";

const CHROMIUM_ARGS = [
  "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
  "--disable-sync", "--no-first-run",
];

/** Polls `fn` until it returns a truthy value; fails with `what` and the last value seen. */
export async function waitFor(fn, { timeout = 15_000, interval = 50, what = "condition" } = {}) {
  const end = Date.now() + timeout;
  let last;
  for (;;) {
    try {
      last = await fn();
      if (last) return last;
    } catch (e) {
      last = e;
    }
    if (Date.now() > end) {
      const seen = last instanceof Error ? last.message : JSON.stringify(last)?.slice(0, 400);
      const label = typeof what === "function" ? what() : what;
      throw new Error(`timed out after ${timeout} ms waiting for ${label} (last: ${seen})`);
    }
    await new Promise((r) => setTimeout(r, interval));
  }
}

/** A running collector process and typed access to its control endpoints. */
export class Collector {
  constructor(url, proc, output) {
    this.url = url;
    this.proc = proc;
    this.output = output;
  }

  async #call(method, path, body) {
    const res = await fetch(this.url + path, {
      method,
      headers: body === undefined ? {} : { "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`collector ${method} ${path}: ${res.status} ${text}`);
    return text;
  }

  /** GET /_stats, as the collector returns it. */
  async stats() {
    return JSON.parse(await this.#call("GET", "/_stats"));
  }

  /** GET /_events: every stored (de-duplicated) event, in arrival order. */
  async events() {
    const text = await this.#call("GET", "/_events");
    return text.split("\n").filter((l) => l.trim()).map((l) => JSON.parse(l));
  }

  /** The per-request log: [{ atMs, path, status, events, bytes }], in arrival order. */
  async requests() {
    return requestLog(await this.stats());
  }

  reset() {
    return this.#call("POST", "/_reset", {});
  }

  /** Rate faults ({fail_rate, statuses, drop_rate, latency_ms, latency_rate, seed}) or a script. */
  faults(spec) {
    return this.#call("POST", "/_faults", spec);
  }

  /** Clears every fault: what the next requests get is normal service again. */
  clearFaults() {
    return this.#call("POST", "/_faults", { reset: true });
  }

  /** Changes limits at run time (e.g. the monthly quota). */
  config(spec) {
    return this.#call("POST", "/_config", spec);
  }

  async stop() {
    if (this.proc.exitCode !== null || this.proc.signalCode !== null) return;
    const exited = new Promise((r) => this.proc.once("exit", r));
    this.proc.kill("SIGTERM");
    const t = setTimeout(() => this.proc.kill("SIGKILL"), 3000);
    await exited;
    clearTimeout(t);
  }
}

/**
 * The request log of /_stats as [{ atMs, path, status, events, bytes, dropped, fault }], arrival
 * order (`retryAfter`: the header sent, if any). `atMs` is taken on arrival, before the body is read; `status` is 0 for a dropped answer.
 */
export function requestLog(stats) {
  if (!Array.isArray(stats.log)) throw new Error(`no request log in /_stats: ${JSON.stringify(stats).slice(0, 300)}`);
  return stats.log.map((r) => ({
    atMs: r.ms, path: r.path, status: r.status, events: r.events, bytes: r.bytes, dropped: r.dropped,
    fault: r.fault, retryAfter: r.retry_after,
  }));
}

/** Events the collector recognised as already stored (same messageId) and did not store again. */
export function duplicatesOf(stats) {
  return stats.events.duplicates;
}

/** Starts COLLECTOR_BIN (default target/debug/collector) on a free port. */
export async function startCollector(args = []) {
  const bin = process.env.COLLECTOR_BIN ?? join(ROOT, "target/debug/collector");
  const proc = spawn(bin, ["--addr", "127.0.0.1:0", ...args], { stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  const url = await new Promise((ok, fail) => {
    const timer = setTimeout(() => fail(new Error(`collector did not start in 15 s:\n${output}`)), 15_000);
    const look = (chunk) => {
      output += chunk;
      const m = /collector listening on (http:\/\/[^\s]+)/.exec(output);
      if (m) {
        clearTimeout(timer);
        ok(m[1].replace(/\/$/, ""));
      }
    };
    proc.stdout.setEncoding("utf8").on("data", look);
    proc.stderr.setEncoding("utf8").on("data", look);
    proc.once("error", (e) => { clearTimeout(timer); fail(e); });
    proc.once("exit", (code) => { clearTimeout(timer); fail(new Error(`collector exited (${code}):\n${output}`)); });
  });
  return new Collector(url, proc, () => output);
}

/** Starts the static server; `extraMounts` are [[prefix, dir], ...] served before www/ and pkg/. */
export async function startWeb(extraMounts = []) {
  // E2E_PKG_DIR serves a snapshot of pkg/ instead, so a rebuild running meanwhile cannot pull the
  // package out from under a test run.
  const pkg = process.env.E2E_PKG_DIR ? [["/pkg/", resolve(process.env.E2E_PKG_DIR)]] : [];
  const server = await serve({ port: 0, extraMounts: [["/e2e/", PAGES], ...pkg, ...extraMounts] });
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    close: () => new Promise((r) => { server.closeAllConnections?.(); server.close(() => r()); }),
  };
}

export function launchBrowser() {
  return chromium.launch({ executablePath: "/usr/bin/chromium", args: CHROMIUM_ARGS });
}

/** A list that `t` empties at its end: each function pushed is awaited, last first; one that
 * throws does not keep the others from running. */
export function teardown(t) {
  const closers = [];
  t.after(async () => {
    for (const close of closers.reverse()) {
      try {
        await close();
      } catch {
        // teardown goes on: one failing closer must not leave the others running
      }
    }
  });
  return closers;
}

/**
 * One test's world: collector + static server + browser + a fresh context. Registered for teardown
 * on `t`. `env.open()` opens the e2e test page in the context and waits until batchwire loaded.
 */
export async function setup(t, { collectorArgs = [], extraMounts = [] } = {}) {
  const env = { pages: [], logs: [] };
  const closers = teardown(t);
  env.collector = await startCollector(collectorArgs);
  closers.push(() => env.collector.stop());
  env.web = await startWeb(extraMounts);
  closers.push(() => env.web.close());
  env.browser = await launchBrowser();
  closers.push(() => env.browser.close());
  env.context = await env.browser.newContext();
  env.apiHost = env.collector.url;

  /** Opens `path` (default the e2e page) and waits until window.bwReady (or `readyExpr`). */
  env.open = async (path = "/e2e/index.html", { readyExpr = "window.bwReady === true" } = {}) => {
    const page = await env.context.newPage();
    watch(page, env.logs);
    env.pages.push(page);
    await page.goto(env.web.url + path);
    try {
      await page.waitForFunction(readyExpr, null, { timeout: 15_000 });
    } catch (e) {
      throw new Error(`${path} did not get ready: ${e.message}\npage diagnostics:\n${env.diagnostics()}`);
    }
    return page;
  };
  /** Options for createClient pointing at this test's collector. */
  env.options = (extra = {}) => ({ writeKey: WRITE_KEY, apiHost: env.apiHost, protocol: "v1-batch", ...extra });
  /** Page console and errors, for a failure message. */
  env.diagnostics = () => env.logs.slice(-40).join("\n");
  return env;
}

function watch(page, logs) {
  page.on("console", (m) => logs.push(`[console.${m.type()}] ${m.text()}`));
  page.on("pageerror", (e) => logs.push(`[pageerror] ${e.message}`));
  page.on("crash", () => logs.push("[crash]"));
  page.on("requestfailed", (r) => logs.push(`[requestfailed] ${r.url()} ${r.failure()?.errorText}`));
  page.on("response", (r) => { if (r.status() >= 400) logs.push(`[http ${r.status()}] ${r.url()}`); });
}

/** Stored events grouped by messageId: Map<messageId, count>. */
export function countById(events) {
  const m = new Map();
  for (const e of events) m.set(e.messageId, (m.get(e.messageId) ?? 0) + 1);
  return m;
}

/**
 * Waits until every id in `ids` is stored at the collector, then returns the stored events.
 * Fails (with the page diagnostics) if they do not all arrive within `timeout`. `key` is the
 * stored events' id field (`insert_id` for Amplitude).
 */
export async function waitForIds(env, ids, { timeout = 30_000, key = "messageId", interval = 100 } = {}) {
  const want = new Set(ids);
  let events = [];
  let missing = want.size;
  try {
    await waitFor(async () => {
      events = await env.collector.events();
      const have = new Set(events.map((e) => e[key]));
      missing = 0;
      for (const id of want) if (!have.has(id)) missing++;
      return missing === 0;
    }, {
      timeout, interval,
      what: () => `${want.size} ${key}s stored at the collector (${missing} missing, ${events.length} stored)`,
    });
  } catch (e) {
    // A new error: the stack node prints was fixed when the first one was made.
    throw new Error(`${e.message}\npage diagnostics:\n${env.diagnostics()}`);
  }
  return events;
}

/**
 * Asserts every id in `ids` is stored exactly once. `assert` is node:assert/strict.
 */
export function assertExactlyOnce(assert, events, ids) {
  const counts = countById(events);
  const missing = ids.filter((id) => !counts.has(id));
  const doubled = ids.filter((id) => counts.get(id) > 1);
  assert.deepEqual({ missing: missing.length, doubled: doubled.length }, { missing: 0, doubled: 0 },
    `missing e.g. ${missing.slice(0, 3)}; stored twice e.g. ${doubled.slice(0, 3)}`);
  assert.equal(new Set(ids).size, ids.length, "the SDK returned a messageId twice");
}

/** Page script (an init script, or inside a module <script>) that keeps, in `wasmMemory`, the
 * linear memory of the wasm instance the package creates, found by type (the package shortens its
 * export names and keeps its exports to itself): tests and benchmarks read its size. */
export const WASM_MEMORY_HOOK = `for (const k of ["instantiate", "instantiateStreaming"]) {
  const orig = WebAssembly[k];
  WebAssembly[k] = async (...a) => {
    const r = await orig.apply(WebAssembly, a);
    globalThis.wasmMemory ??= Object.values((r.instance ?? r).exports).find((v) => v instanceof WebAssembly.Memory);
    return r;
  };
}
`;

/** Page script (an init script, or inside a module <script>) that counts what the page asks of
 * IndexedDB in `idbIo`: values put (and the bytes they hold), gets and deletes
 * (IDBObjectStore.prototype wrapped before the client loads). The package's worker writes the
 * store too once it runs: the same counting goes first in the text of any worker made from a Blob
 * that opens IndexedDB (the page's `Blob` wrapped), and `idbIo(page)` sums the page's and its
 * workers' counts. */
export const IDB_IO_HOOK = `(function hook() {
  const io = (globalThis.idbIo = { puts: 0, bytes: 0, gets: 0, deletes: 0 });
  const size = (v) => typeof v === "string" ? v.length : v instanceof Uint8Array ? v.byteLength
    : Array.isArray(v) ? v.reduce((n, x) => n + size(x), 0) : 0;
  const P = IDBObjectStore.prototype;
  const put = P.put, get = P.get, del = P.delete;
  P.put = function (v, k) { io.puts++; io.bytes += size(v); return put.call(this, v, k); };
  P.get = function (k) { io.gets++; return get.call(this, k); };
  P.delete = function (k) { io.deletes++; return del.call(this, k); };
  const B = globalThis.Blob;
  globalThis.Blob = class extends B {
    constructor(parts, o) {
      const t = parts?.length === 1 && typeof parts[0] === "string" && parts[0].includes("indexedDB.open");
      super(t ? ["(" + hook + ")();", ...parts] : parts, o);
    }
  };
})();`;

/** The IndexedDB work counted by IDB_IO_HOOK in `page` and its workers, summed; `reset`: zero
 * the counts instead. */
export async function idbIo(page, reset) {
  const read = (r) => (r ? Object.assign(globalThis.idbIo, { puts: 0, bytes: 0, gets: 0, deletes: 0 }) : { ...globalThis.idbIo });
  const all = await Promise.all([page, ...page.workers()].map((c) => c.evaluate(read, reset).catch(() => undefined)));
  const sum = { puts: 0, bytes: 0, gets: 0, deletes: 0 };
  for (const io of all) for (const k in sum) sum[k] += io?.[k] ?? 0;
  return sum;
}
