// The edge layer's harness: the reference collector (tests/e2e/harness.mjs) and the edge Worker in
// workerd through miniflare (scripts/edge.mjs's launcher, the one `make edge` runs), its Durable
// Objects persisted in a temp directory so a test can kill workerd and start it again on the same
// state. EDGE_ROOT runs the suites against another tree holding edge/worker/ and target/edge/.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startEdge } from "../../scripts/edge.mjs";
import { countById, startCollector, teardown, waitFor } from "../e2e/harness.mjs";

export { waitFor };
export const WRITE_KEY = "uk_live_demo";
export const ADMIN_KEY = "edge-admin-test-key-7f3a";
/** Collector flags lifting /v1-batch's per-(org, IP) and per-org windows: every shard of the
 * edge posts from 127.0.0.1, and these suites are not about the upstream's request budget. */
export const UNLIMITED = ["--rate-per-ip", "1000000", "--rate-per-org", "1000000"];

/** A /v1-batch destination at `url` (keySecret UPSTREAM_WRITE_KEY) fed by `sources`. */
export function v1Config(url, { sources = { [WRITE_KEY]: { destination: "collector" } }, options = {}, ...rest } = {}) {
  return {
    version: 1,
    shards: 16,
    cors: ["*"],
    perIp: { requests: 100_000, windowSecs: 60 },
    ...rest,
    sources,
    destinations: {
      collector: {
        protocol: "v1-batch", url, keySecret: "UPSTREAM_WRITE_KEY",
        options: { flushIntervalMs: 200, backoffBaseMs: 200, ...options },
      },
    },
  };
}

/**
 * One test's world: a collector (`collectorArgs`) and an edge in front of it. `config(collectorUrl)`
 * gives BATCHWIRE_EDGE_CONFIG (absent: v1Config). `env.restart(opts)` starts a new edge on the same
 * persist directory (after `env.edge.kill()` or `.stop()`), with `opts` over the first options.
 */
export async function edgeEnv(t, { collectorArgs = UNLIMITED, config = v1Config, edge = {} } = {}) {
  const closers = teardown(t);
  const persistDir = mkdtempSync(join(tmpdir(), "batchwire-edge-"));
  closers.push(() => rmSync(persistDir, { recursive: true, force: true }));
  const env = {};
  env.collector = await startCollector(collectorArgs);
  closers.push(() => env.collector.stop());
  const base = {
    upstreamUrl: env.collector.url, upstreamWriteKey: WRITE_KEY, persistDir,
    config: config ? config(env.collector.url) : undefined,
    secrets: { EDGE_ADMIN_KEY: ADMIN_KEY },
    root: process.env.EDGE_ROOT,
    ...edge,
  };
  if (base.root === undefined) delete base.root;
  env.options = base;
  env.restart = async (opts = {}) => {
    env.edge = await startEdge({ ...base, ...opts });
    return env.edge;
  };
  closers.push(() => env.edge?.stop());
  /** Another edge (`opts` over the first options) on its own state, beside this one. */
  env.restartOther = async (opts = {}) => {
    const dir = mkdtempSync(join(tmpdir(), "batchwire-edge-"));
    closers.push(() => rmSync(dir, { recursive: true, force: true }));
    return startEdge({ ...base, persistDir: dir, ...opts });
  };
  await env.restart();
  env.url = () => env.edge.url;
  return env;
}

/** A track event in the /v1-batch shape. */
export function track(id, { anonymousId = `anon-${id}`, userId, event = "Order Completed", properties = {} } = {}) {
  const e = { type: "track", messageId: id, anonymousId, timestamp: new Date().toISOString(), event, properties };
  if (userId !== undefined) e.userId = userId;
  return e;
}

/** POST `body` (an object: JSON) to the edge's `path`; resolves to { status, headers, text, json }. */
export async function post(url, path, body, { key = WRITE_KEY, headers = {}, ip = "203.0.113.1" } = {}) {
  const h = { "content-type": "application/json", "cf-connecting-ip": ip, ...headers };
  if (key !== null) h.authorization = `Bearer ${key}`;
  const res = await fetch(url + path, {
    method: "POST", headers: h, body: typeof body === "string" || body instanceof Uint8Array ? body : JSON.stringify(body),
  });
  const text = await res.text();
  let json;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, headers: res.headers, text, json };
}

/**
 * Posts `requests` /v1-batch requests of `perRequest` events with `concurrency` clients; a request
 * answered 503 is sent again with the same events (the contract). Every answer must be a 200
 * accepting the whole batch. Returns the messageIds.
 */
export async function postMany(env, { requests, perRequest, concurrency = 4, prefix = "m", identities = 500, event } = {}) {
  const ids = [];
  const batches = [];
  for (let r = 0; r < requests; r++) {
    const batch = [];
    for (let i = 0; i < perRequest; i++) {
      const n = r * perRequest + i;
      const id = `${prefix}-${n}`;
      ids.push(id);
      batch.push(track(id, { anonymousId: `anon-${n % identities}`, event, properties: { n } }));
    }
    batches.push(batch);
  }
  let next = 0;
  const worker = async () => {
    while (next < batches.length) {
      const batch = batches[next++];
      for (let attempt = 0; ; attempt++) {
        const r = await post(env.url(), "/v1-batch", { batch });
        if (r.status === 503 && attempt < 30) {
          env.unavailable = (env.unavailable ?? 0) + 1;
          continue;
        }
        if (r.status !== 200 || r.json?.accepted !== batch.length) {
          throw new Error(`POST /v1-batch answered ${r.status} ${r.text}`);
        }
        break;
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return ids;
}

/** Waits until the collector stored every id of `ids` (field `key`); returns every stored event. */
export async function waitAll(collector, ids, { key = "messageId", timeout = 60_000 } = {}) {
  const want = new Set(ids);
  let events = [];
  let have = 0;
  await waitFor(async () => {
    events = await collector.events();
    have = events.filter((e) => want.has(e[key])).length;
    return have >= want.size;
  }, { timeout, interval: 200, what: () => `${want.size} events stored upstream (${have} so far)` });
  return events;
}

/** Every id of `ids` stored once, and nothing else stored. */
export function assertOnce(assert, events, ids, key = "messageId") {
  const counts = countById(events.map((e) => ({ messageId: e[key] })));
  const missing = ids.filter((id) => !counts.has(id));
  const doubled = ids.filter((id) => counts.get(id) > 1);
  assert.deepEqual({ missing: missing.length, doubled: doubled.length }, { missing: 0, doubled: 0 },
    `missing e.g. ${missing.slice(0, 3)}; stored twice e.g. ${doubled.slice(0, 3)}`);
  assert.equal(events.length, ids.length, "events stored upstream that nobody posted");
}

/** GET an admin endpoint with the admin key (or `key`). */
export async function adminGet(env, path, key = ADMIN_KEY) {
  const res = await fetch(env.url() + path, { headers: key ? { authorization: `Bearer ${key}` } : {} });
  return { status: res.status, json: await res.json().catch(() => undefined) };
}

export async function adminPost(env, path, body, key = ADMIN_KEY) {
  const res = await fetch(env.url() + path, {
    method: "POST", headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
    body: body === undefined ? "" : JSON.stringify(body),
  });
  return { status: res.status, json: await res.json().catch(() => undefined) };
}
