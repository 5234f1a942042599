// The edge Worker's throughput and CPU cost, locally: workerd through miniflare (scripts/edge.mjs's
// launcher) in front of the reference collector, both on loopback.
//
//   node bench/edge.mjs [--requests N] [--clients N] [--runs N] [--out PATH]     (make bench-edge)
//
// Two phases per run, each on a fresh Worker and fresh Durable Object state:
// 1. ingest: N /v1-batch requests of 100 events posted by a few concurrent clients while the
//    upstream is unreachable (a closed port): what the front and the Durable Object appends cost,
//    with delivery reduced to failing connection attempts under backoff.
// 2. end to end: the same against the collector, from the first post until the collector has
//    every event: front, appends, delivery (poll, encode, upstream requests, acks, deletes).
// CPU is workerd's own (utime + stime of the child process in /proc/<pid>/stat, before and after,
// every thread: V8, the wasm, SQLite storage, HTTP, miniflare's loopback services inside workerd),
// divided by the requests posted. Not counted: the collector, the Node clients, miniflare's Node
// side. Writes its section of bench/results.md and prints it.
import { execFileSync } from "node:child_process";
import { args, flag, writeSection } from "./results.mjs";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { ROOT, cpuTicks, startEdge } from "../scripts/edge.mjs";
import { startCollector, waitFor } from "../tests/e2e/harness.mjs";
import { UNLIMITED, v1Config } from "../tests/edge/harness.mjs";

const REQUESTS = Number(flag("--requests", 300));
const CLIENTS = Number(flag("--clients", 4));
const RUNS = Number(flag("--runs", 3));
const OUT = flag("--out", join(ROOT, "bench/results.md"));
const PER_REQUEST = 100;
const HEAD = "## Edge Worker: throughput and CPU per request";
const TICK = Number(execFileSync("getconf", ["CLK_TCK"]).toString().trim()) || 100;

/** The request bodies: `spread` events of 1,000 identities (every request touches every shard),
 * else one identity per request (as a browser posts: one shard per request). */
function batches(run, phase, spread = true) {
  const out = [];
  for (let r = 0; r < REQUESTS; r++) {
    const batch = [];
    for (let i = 0; i < PER_REQUEST; i++) {
      const n = r * PER_REQUEST + i;
      batch.push({
        type: "track", messageId: `b${run}${phase}-${n}`, anonymousId: spread ? `anon-${n % 1000}` : `anon-${r}`,
        timestamp: new Date().toISOString(), event: "Product Viewed",
        properties: { sku: `sku-${n % 97}`, price: 19.99, currency: "EUR", position: n % 20, list: "search" },
      });
    }
    out.push(JSON.stringify({ batch }));
  }
  return out;
}

/** Posts every body with CLIENTS concurrent clients; resolves to the ms it took. */
async function postAll(url, bodies) {
  let next = 0;
  const start = performance.now();
  const client = async () => {
    while (next < bodies.length) {
      const body = bodies[next++];
      for (;;) {
        const res = await fetch(`${url}/v1-batch`, {
          method: "POST", body,
          headers: { "content-type": "application/json", authorization: "Bearer uk_live_demo", "cf-connecting-ip": "203.0.113.9" },
        });
        const text = await res.text();
        if (res.status === 503) continue;
        if (res.status !== 200) throw new Error(`edge answered ${res.status}: ${text}`);
        break;
      }
    }
  };
  await Promise.all(Array.from({ length: CLIENTS }, client));
  return performance.now() - start;
}

/** A loopback port nothing listens on. */
async function closedPort() {
  const s = createServer();
  await new Promise((r) => s.listen(0, "127.0.0.1", r));
  const { port } = s.address();
  await new Promise((r) => s.close(r));
  return port;
}

async function phase(run, name, upstreamUrl, collector, spread = true) {
  const dir = mkdtempSync(join(tmpdir(), "batchwire-edge-bench-"));
  const edge = await startEdge({ upstreamUrl, persistDir: dir, config: v1Config(upstreamUrl, { options: { backoffBaseMs: 1000 } }) });
  try {
    if (edge.pid === null) throw new Error("could not find the workerd process");
    await postAll(edge.url, batches(run, `${name}w`).slice(0, 10)); // warm-up: isolate, wasm, objects
    if (collector) await waitFor(async () => (await collector.stats()).events.ingested >= 10 * PER_REQUEST, { timeout: 30_000, what: "warm-up delivered" });
    const before = cpuTicks(edge.pid);
    const ms = await postAll(edge.url, batches(run, name, spread));
    let allMs = ms;
    if (collector) {
      const t0 = performance.now() - ms;
      const want = (10 + REQUESTS) * PER_REQUEST;
      await waitFor(async () => (await collector.stats()).events.ingested >= want, { timeout: 300_000, interval: 50, what: "every event at the collector" });
      allMs = performance.now() - t0;
    }
    const cpuMs = ((cpuTicks(edge.pid) - before) / TICK) * 1000;
    return { ms, allMs, cpuPerRequest: cpuMs / REQUESTS };
  } finally {
    await edge.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function main() {
  if (!existsSync(join(ROOT, "target/edge/batchwire_edge.wasm"))) throw new Error("run bash scripts/edge-build.sh first");
  const ingest = [];
  const single = [];
  const e2e = [];
  const started = Date.now();
  for (let run = 0; run < RUNS; run++) {
    ingest.push(await phase(run, "i", `http://127.0.0.1:${await closedPort()}`, null));
    single.push(await phase(run, "s", `http://127.0.0.1:${await closedPort()}`, null, false));
    const collector = await startCollector(UNLIMITED);
    try {
      e2e.push(await phase(run, "e", collector.url, collector));
    } finally {
      await collector.stop();
    }
    console.log(`run ${run + 1}: ingest ${fmt(ingest[run])}; one identity per request ${fmt(single[run])}; end to end ${fmt(e2e[run])}`);
  }
  const events = REQUESTS * PER_REQUEST;
  const rev = (() => {
    try {
      return execFileSync("git", ["describe", "--always", "--dirty"], { cwd: ROOT }).toString().trim();
    } catch {
      return "unknown";
    }
  })();
  const date = new Date().toISOString().slice(0, 16).replace("T", " ");
  const m = (xs, f) => median(xs.map(f));
  const lines = [
    HEAD,
    "",
    `Measured ${date} UTC on ${cpus().length} × ${cpus()[0]?.model.trim()}, work tree \`${rev}\`. Command: \`${["node bench/edge.mjs", ...args].join(" ")}\``,
    `(\`make bench-edge\`; ${RUNS} runs, medians; ${((Date.now() - started) / 1000).toFixed(0)} s in all). The Worker in workerd through miniflare 4 (SQLite-backed`,
    "Durable Objects persisted on disk, 16 shards), the collector (release build) on loopback, everything on this machine.",
    `${REQUESTS} /v1-batch requests of ${PER_REQUEST} events (${events.toLocaleString("en-US")} events, ~${Math.round(batches(0, "x")[0].length / 1024)} KiB per request) posted by ${CLIENTS} concurrent clients.`,
    "CPU is the workerd process's utime + stime (/proc/<pid>/stat, every thread: V8 and the wasm engine, SQLite storage,",
    "HTTP, miniflare's loopback services inside workerd) over the posting, ÷ requests; not the collector's or the clients'.",
    "",
    "| phase | acknowledged | until the collector has all | workerd CPU per 100-event request |",
    "|---|---:|---:|---:|",
    `| ingest only (upstream unreachable): front, validation, mapping, Durable Object appends; 1,000 identities, each request touching all 16 shards | ${rate(events, m(ingest, (r) => r.ms))} | – | ${m(ingest, (r) => r.cpuPerRequest).toFixed(2)} ms |`,
    `| ingest only, one identity per request (as a browser posts: one shard, one append per request) | ${rate(events, m(single, (r) => r.ms))} | – | ${m(single, (r) => r.cpuPerRequest).toFixed(2)} ms |`,
    `| end to end, 1,000 identities: the first row plus delivery (poll, encode, upstream request, ack, deletes) | ${rate(events, m(e2e, (r) => r.ms))} | ${rate(events, m(e2e, (r) => r.allMs))} | ${m(e2e, (r) => r.cpuPerRequest).toFixed(2)} ms |`,
    "",
  ];
  const section = lines.join("\n");
  writeSection(OUT, HEAD, section);
  console.log(section);
}

const rate = (events, ms) => `${Math.round(events / (ms / 1000)).toLocaleString("en-US")} events/s`;
const fmt = (r) => `${rate(REQUESTS * PER_REQUEST, r.ms)} acked, ${rate(REQUESTS * PER_REQUEST, r.allMs)} delivered, ${r.cpuPerRequest.toFixed(2)} ms CPU/request`;

await main();
