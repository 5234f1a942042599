// batchwire's edge Worker: the front (fetch handler) and the Durable Object class `Shard`.
//
// The front takes first-party posts (`POST /v1-batch`, `POST /webhook`), checks them in the
// /v1-batch contract's order (docs/PROTOCOLS.md A: body cap, key, rate window, Content-Type,
// structure, events), lets the engine validate, map and partition them, and appends each part to
// the Durable Object named by its shard. It answers 200 only once every append is durable; when
// any append fails it answers 503 and the caller retries with the same messageIds (appends are
// idempotent per messageId).
//
// Each `Shard` holds one partition of one destination's queue in its storage ("q:…" entries, in
// enqueue order; "d:<messageId>" dead letters) and delivers from `alarm()` only: the alarm is the
// timer, so nothing depends on a request staying alive. engine.js is the only code that touches
// the wasm; this file does the I/O around it.
import { DurableObject } from "cloudflare:workers";
import { Engine, EdgeConfigError } from "./engine.js";
import wasm from "../../target/edge/batchwire_edge.wasm";

const JSON_TYPE = "application/json";
const PREFLIGHT_HEADERS = "Authorization, Content-Type, X-Write-Key";
const REQUEST_TIMEOUT_MS = 30_000;
const UPSTREAM_BODY_CAP = 1 << 20;
const STORAGE_BATCH = 128; // keys per put/delete call (the storage API's limit)
const LIST_PAGE = 1000;
const WAKE = Symbol("wake");
const ROUTINE = new Set(["send", "delivered"]); // engine log kinds logged only with EDGE_LOG=debug
const DEFAULT_SENDS_PER_ALARM = 40; // one alarm invocation stays under the Free plan's 50 subrequests

// ---------------------------------------------------------------------------------------------
// The engine and its configuration: loaded once per isolate.

let booting = null;
let loaded = null; // the engine `booting` resolved to

/**
 * { engine, cfg } or { engine, error } (an invalid configuration); cached per isolate. An engine
 * a wasm trap broke (engine.broken) is replaced by a new one at the next call.
 */
function boot(env) {
  if (loaded?.broken) booting = loaded = null;
  booting ??= (async () => {
    const engine = await Engine.load(wasm);
    try {
      loaded = engine;
      return { engine, cfg: engine.configure(env) };
    } catch (e) {
      if (e instanceof EdgeConfigError) {
        console.error(`batchwire edge: invalid configuration: ${e.message}`);
        return { engine, error: e };
      }
      throw e;
    }
  })().catch((e) => {
    booting = null; // a failed load is tried again by the next request
    throw e;
  });
  return booting;
}

// ---------------------------------------------------------------------------------------------
// Responses. Every body is JSON; nothing from upstream or from an exception ever reaches one.

function respond(status, body, headers = {}) {
  const text = typeof body === "string" || body instanceof Uint8Array ? body : JSON.stringify(body);
  return new Response(text, { status, headers: { "content-type": JSON_TYPE, ...headers } });
}

const fail = (status, error, extra = {}, headers = {}) =>
  respond(status, { success: false, error, ...extra }, headers);

function tooLarge(cap) {
  return fail(413, `Request body too large: maximum ${cap} bytes`, {
    limit_bytes: cap,
    hint: "Split the batch into smaller requests (max 100 events / 1 MiB per call).",
  });
}

const unavailable = () =>
  fail(503, "Service temporarily unavailable: send the same events again", {}, { "retry-after": "1" });

// ---------------------------------------------------------------------------------------------
// CORS: the allow-list of cfg.cors ("*" allows any). A request without Origin (a server, curl) is
// not a browser's and passes; a browser's from an origin not listed is refused with 403 and gets
// no CORS headers, so the page cannot read the answer either.

/** The Access-Control-Allow-Origin value, null for a refused origin, "" without Origin. */
function allowOrigin(list, origin) {
  if (origin === null) return list.includes("*") ? "*" : "";
  if (list.includes("*")) return "*";
  return list.includes(origin) ? origin : null;
}

function withCors(response, allow) {
  if (allow === "") return response;
  const r = new Response(response.body, response);
  r.headers.set("access-control-allow-origin", allow);
  r.headers.set("access-control-expose-headers", "Retry-After");
  if (allow !== "*") r.headers.append("vary", "Origin");
  return r;
}

function preflight(allow) {
  const r = new Response(null, { status: 204 });
  r.headers.set("access-control-allow-methods", "GET, POST, OPTIONS");
  r.headers.set("access-control-allow-headers", PREFLIGHT_HEADERS);
  r.headers.set("access-control-max-age", "600");
  return withCors(r, allow);
}

// ---------------------------------------------------------------------------------------------
// The request: body cap, key, per-IP window.

/** The body, read with a running count; null once it passes `cap` (the rest is not read). */
async function readCapped(request, cap) {
  if (request.body === null) return new Uint8Array(0);
  const reader = request.body.getReader();
  const chunks = [];
  let n = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    n += value.byteLength;
    if (n > cap) {
      reader.cancel().catch(() => {});
      return null;
    }
    chunks.push(value);
  }
  if (chunks.length === 1) return chunks[0];
  const body = new Uint8Array(n);
  let at = 0;
  for (const c of chunks) {
    body.set(c, at);
    at += c.byteLength;
  }
  return body;
}

/** The source write key: Bearer (as /v1-batch), Basic (user part), X-Write-Key, or ?key=. */
function sourceKey(request, url) {
  const auth = request.headers.get("authorization");
  if (auth !== null) {
    const [scheme, rest = ""] = auth.trim().split(/\s+(.*)/s);
    const value = rest.trim();
    if (/^bearer$/i.test(scheme) && value) return value;
    if (/^basic$/i.test(scheme) && value) {
      try {
        const user = atob(value).split(":")[0];
        if (user) return user;
      } catch {
        // not base64: no key
      }
    }
  }
  return request.headers.get("x-write-key") || url.searchParams.get("key") || null;
}

/**
 * The per-IP window: fixed windows opening at an address's first request, counted in this isolate
 * (see edge/README.md: with several isolates the real limit is that times their number). With
 * the Workers Rate Limiting binding EDGE_RATE_LIMITER bound, that binding decides instead.
 */
class Windows {
  #map = new Map();

  /** 0 when admitted (and counted), else the seconds until the window reopens. */
  admit(ip, limit, windowMs, now) {
    if (this.#map.size > 50_000) {
      for (const [k, w] of this.#map) if (now >= w.start + windowMs) this.#map.delete(k);
    }
    let w = this.#map.get(ip);
    if (w === undefined || now >= w.start + windowMs) {
      w = { start: now, n: 0 };
      this.#map.set(ip, w);
    }
    if (w.n >= limit) return Math.max(1, Math.ceil((w.start + windowMs - now) / 1000));
    w.n++;
    return 0;
  }
}

const windows = new Windows();

async function rateLimited(env, cfg, ip) {
  const { requests, windowMs } = cfg.perIp;
  if (env.EDGE_RATE_LIMITER) {
    const { success } = await env.EDGE_RATE_LIMITER.limit({ key: ip });
    return success ? 0 : Math.max(1, Math.ceil(windowMs / 1000));
  }
  return windows.admit(ip, requests, windowMs, Date.now());
}

function isJson(request) {
  const ct = request.headers.get("content-type");
  return ct !== null && ct.split(";")[0].trim().toLowerCase() === JSON_TYPE;
}

// ---------------------------------------------------------------------------------------------
// Ingestion: POST /v1-batch and POST /webhook.

async function ingest(request, env, engine, cfg, url, form) {
  const cap = cfg.maxBodyBytes;
  const length = request.headers.get("content-length");
  if (length !== null && Number(length) > cap) return tooLarge(cap);
  const body = await readCapped(request, cap);
  if (body === null) return tooLarge(cap);

  const r = engine.ingest(cfg, sourceKey(request, url), form, body, Date.now());
  if (r.status === 401 || r.status === 403) return respond(r.status, r.body);

  const ip = request.headers.get("cf-connecting-ip") ?? "unknown";
  const wait = await rateLimited(env, cfg, ip);
  if (wait > 0) {
    const { requests, windowMs } = cfg.perIp;
    return fail(429, `Rate limit exceeded: max ${requests} requests per ${windowMs / 1000} seconds per IP`,
      { code: "rate_limited" }, { "retry-after": String(wait) });
  }
  if (!isJson(request)) return fail(400, "Content-Type must be application/json");
  if (r.status !== 200) return respond(r.status, r.body);

  const appends = r.parts.map((p) => env.SHARD.get(env.SHARD.idFromName(p.shard)).append(p.shard, p.events));
  const results = await Promise.allSettled(appends);
  const failed = results.filter((x) => x.status === "rejected");
  if (failed.length > 0) {
    console.error(`batchwire edge: ${failed.length} of ${results.length} appends failed: ${failed[0].reason}`);
    return unavailable();
  }
  return respond(200, r.body);
}

// ---------------------------------------------------------------------------------------------
// Admin: Bearer <admin key>, compared in constant time.

async function isAdmin(request, cfg) {
  if (!cfg.adminKey) return false;
  const m = /^Bearer\s+(\S+)\s*$/i.exec(request.headers.get("authorization") ?? "");
  if (m === null) return false;
  const enc = new TextEncoder();
  const [a, b] = await Promise.all([m[1], cfg.adminKey].map((s) => crypto.subtle.digest("SHA-256", enc.encode(s))));
  return crypto.subtle.timingSafeEqual(a, b);
}

/** Every shard of every destination: [name, stub]. */
function allShards(env, cfg) {
  const out = [];
  for (const d of cfg.destinations) {
    for (let n = 0; n < cfg.shards; n++) {
      const name = `${d}#${n}`;
      out.push([name, env.SHARD.get(env.SHARD.idFromName(name))]);
    }
  }
  return out;
}

async function admin(request, env, cfg, path) {
  if (!(await isAdmin(request, cfg))) return fail(401, "Missing or invalid admin key");
  const shards = allShards(env, cfg);
  if (request.method === "GET" && path === "/admin/dead-letters") {
    const lists = await Promise.all(shards.map(([name, s]) => s.deadLetters(name)));
    const all = lists.flat().sort((a, b) => (a.failedAt ?? 0) - (b.failedAt ?? 0));
    const limit = Math.min(Math.max(Number(new URL(request.url).searchParams.get("limit")) || 1000, 1), 10_000);
    return respond(200, { count: all.length, deadLetters: all.slice(0, limit) });
  }
  if (request.method === "POST" && path === "/admin/dead-letters/replay") {
    const text = await request.text();
    let ids = null;
    if (text.trim() !== "") {
      let parsed;
      try {
        parsed = JSON.parse(text);
      } catch {
        return fail(400, "Request body is not valid JSON");
      }
      ids = parsed?.messageIds ?? null;
      if (ids !== null && !(Array.isArray(ids) && ids.every((x) => typeof x === "string"))) {
        return fail(400, "`messageIds` must be an array of strings (absent: replay all)");
      }
    }
    const counts = await Promise.all(shards.map(([name, s]) => s.replay(name, ids)));
    return respond(200, { success: true, replayed: counts.reduce((a, b) => a + b, 0) });
  }
  if (request.method === "GET" && path === "/admin/stats") {
    const all = await Promise.all(shards.map(([name, s]) => s.stats(name)));
    const totals = {};
    for (const s of all) {
      for (const [k, v] of Object.entries(s)) {
        if (typeof v === "number" && !k.endsWith("Until")) totals[k] = (totals[k] ?? 0) + v;
      }
    }
    return respond(200, { totals, shards: all.filter((s) => s.active) });
  }
  return fail(404, "Not found");
}

// ---------------------------------------------------------------------------------------------
// The front.

async function front(request, env) {
  let booted;
  try {
    booted = await boot(env);
  } catch (e) {
    console.error(`batchwire edge: engine failed to load: ${e?.stack ?? e}`);
    return fail(500, "Internal error");
  }
  if (booted.error) return fail(500, "Edge misconfigured: see the Worker's log");
  const { engine, cfg } = booted;
  const url = new URL(request.url);
  const allow = allowOrigin(cfg.cors, request.headers.get("origin"));
  if (allow === null) return fail(403, "Origin not allowed", { code: "origin_not_allowed" });
  if (request.method === "OPTIONS") return preflight(allow);

  let response;
  const path = url.pathname;
  try {
    if (path === "/v1-batch" || path === "/webhook") {
      response = request.method === "POST"
        ? await ingest(request, env, engine, cfg, url, path === "/v1-batch" ? "batch" : "webhook")
        : fail(405, "Method not allowed: use POST", {}, { allow: "POST, OPTIONS" });
    } else if (path.startsWith("/admin/")) {
      response = await admin(request, env, cfg, path);
    } else if (path === "/" || path === "/health") {
      response = respond(200, { ok: true });
    } else {
      response = fail(404, "Not found");
    }
  } catch (e) {
    console.error(`batchwire edge: ${request.method} ${path}: ${e?.stack ?? e}`);
    response = fail(500, "Internal error");
  }
  return withCors(response, allow);
}

export default { fetch: front };

// ---------------------------------------------------------------------------------------------
// The Durable Object: one partition of one destination's queue.

export class Shard extends DurableObject {
  constructor(ctx, env) {
    super(ctx, env);
    this.shard = null; // the engine's shard, once this object knows its name
    this.name = null;
    this.delivering = false;
    this.wake = null; // wakes a delivery loop waiting for an answer
    this.alarmAt = null; // the alarm this object has set (read from storage at start)
    this.named = false; // "meta:name" is stored
    this.sendsPerAlarm = Number(env.EDGE_SENDS_PER_ALARM) || DEFAULT_SENDS_PER_ALARM;
    ctx.blockConcurrencyWhile(() => this.#load());
  }

  /** Loads the engine, the name stored at the first append, and the queue into engine.shard. */
  async #load() {
    const booted = await boot(this.env);
    if (booted.error) throw booted.error;
    this.engine = booted.engine;
    this.cfg = booted.cfg;
    this.alarmAt = await this.ctx.storage.getAlarm();
    const name = await this.ctx.storage.get("meta:name");
    if (name === undefined) return;
    await this.#open(name);
    // Entries held but no alarm (or restored entries the engine rewrites at its next poll): deliver.
    if (this.alarmAt === null && this.shard.stats().held > 0) await this.#arm(Date.now());
  }

  /** The engine's shard for `name`, every stored entry restored (dead letters, then the queue). */
  async #open(name) {
    const shard = this.engine.shard(this.cfg, name); // engine.js draws the seed from crypto
    const now = Date.now();
    for (const prefix of ["d:", "q:"]) {
      let startAfter;
      for (;;) {
        const page = await this.ctx.storage.list({ prefix, startAfter, limit: LIST_PAGE });
        for (const [k, v] of page) {
          shard.restore(k, v, now);
          startAfter = k;
        }
        if (page.size < LIST_PAGE) break;
      }
    }
    this.name = name;
    this.shard = shard;
    this.named = true;
  }

  /** The first append names this object (stored with it: an alarm after a restart has no name). */
  #create(name) {
    this.shard = this.engine.shard(this.cfg, name);
    this.name = name;
  }

  /** Issues every put and delete with no await between them: one atomic write. */
  #write(puts, deletes) {
    const st = this.ctx.storage;
    const ops = [];
    for (let i = 0; i < puts.length; i += STORAGE_BATCH) {
      ops.push(st.put(Object.fromEntries(puts.slice(i, i + STORAGE_BATCH))));
    }
    for (let i = 0; i < deletes.length; i += STORAGE_BATCH) ops.push(st.delete(deletes.slice(i, i + STORAGE_BATCH)));
    return Promise.all(ops);
  }

  /**
   * A storage write or the engine failed: memory may be ahead of storage, or the engine's state
   * unusable (a wasm trap). The object is reset, and its next call starts again from storage
   * (an alarm that throws is retried by the runtime). Throws.
   */
  #reset(what, e) {
    console.error(`batchwire edge: shard ${this.name}: ${what}: ${e?.stack ?? e}`);
    this.ctx.abort?.(what);
    throw e;
  }

  #arm(at) {
    this.alarmAt = at;
    return this.ctx.storage.setAlarm(at);
  }

  /**
   * Makes sure an alarm comes now, unless a delivery loop is running (it polls again itself) or
   * one is already due. Issued with the writes it follows, so both go in one storage commit.
   */
  #kick() {
    if (this.delivering) return null;
    const now = Date.now();
    if (this.alarmAt !== null && this.alarmAt <= now) return null;
    return this.#arm(now);
  }

  /** RPC from the front: one part of a request. Resolves once every put is written. */
  async append(name, events) {
    // Fault injection for the tests of the 503 path (never set in a deployment).
    if (Math.random() < Number(this.env.EDGE_TEST_FAIL_APPENDS ?? 0)) throw new Error("append refused (EDGE_TEST_FAIL_APPENDS)");
    if (this.shard === null) this.#create(name);
    let a;
    try {
      a = this.shard.append(events, Date.now());
    } catch (e) {
      this.#reset("the engine failed", e);
    }
    const puts = this.named ? a.puts : [["meta:name", name], ...a.puts];
    const written = this.#write(puts, []);
    const armed = a.puts.length > 0 ? this.#kick() : null;
    try {
      await written;
      await armed;
    } catch (e) {
      this.#reset("a storage write failed", e);
    }
    this.named = true;
    if (a.puts.length > 0) this.wake?.(); // a delivery loop waiting on an answer polls now
    return a.puts.length;
  }

  async alarm() {
    this.alarmAt = null; // this one has fired
    if (this.shard === null) return;
    this.delivering = true;
    try {
      await this.#deliver(this.shard);
    } catch (e) {
      this.#reset("delivery failed", e);
    } finally {
      this.delivering = false;
    }
  }

  /**
   * poll → write → send → response/failure → poll again, until nothing is in flight; then the
   * alarm the engine asks for. After `sendsPerAlarm` requests it stops polling, lets what is in
   * flight finish and sets the alarm to now: one invocation stays under the subrequest limit.
   */
  async #deliver(shard) {
    shard.timeout(Date.now());
    const inFlight = new Map();
    let sent = 0;
    let next = null; // the engine's next timer, from the last poll
    for (;;) {
      if (sent < this.sendsPerAlarm) {
        const step = shard.poll(Date.now());
        next = step.alarm ?? null;
        this.#log(step.log);
        if (step.puts.length > 0 || step.deletes.length > 0) {
          await this.#write(step.puts, step.deletes);
        }
        for (const s of step.sends) {
          inFlight.set(s.id, this.#send(s));
          sent++;
        }
        if (inFlight.size === 0) {
          if (step.alarm !== null && step.alarm !== undefined) await this.#arm(step.alarm);
          return;
        }
      } else if (inFlight.size === 0) {
        await this.#arm(Date.now());
        return;
      }
      // The next answer, or the engine's timer, or an append: whichever comes first.
      let timer;
      const woken = sent >= this.sendsPerAlarm ? [] : [new Promise((resolve) => {
        this.wake = () => resolve(WAKE);
        if (next !== null && next > Date.now()) timer = setTimeout(() => resolve(WAKE), next - Date.now());
      })];
      const r = await Promise.race([...inFlight.values(), ...woken]);
      clearTimeout(timer);
      this.wake = null;
      if (r === WAKE) {
        shard.timeout(Date.now());
        continue;
      }
      inFlight.delete(r.id);
      if (r.status === undefined) shard.failure(r.id, Date.now());
      else shard.response(r.id, r.status, r.retryAfter, r.body, Date.now(), r.location);
    }
  }

  /** One upstream request: POST, redirects not followed, aborted after the timeout. */
  async #send(s) {
    const ctl = new AbortController();
    const timer = setTimeout(() => ctl.abort(), s.timeoutMs ?? this.cfg.requestTimeoutMs ?? REQUEST_TIMEOUT_MS);
    try {
      const res = await fetch(s.url, {
        method: "POST", headers: s.headers, body: s.body, redirect: "manual", signal: ctl.signal,
      });
      const body = await readCapped(res, UPSTREAM_BODY_CAP);
      return {
        id: s.id, status: res.status, retryAfter: res.headers.get("retry-after"),
        location: res.headers.get("location"), body: body ?? new Uint8Array(0),
      };
    } catch (e) {
      if (this.env.EDGE_LOG === "debug") console.log(`batchwire edge: ${this.name}: send ${s.id} failed: ${e}`);
      return { id: s.id };
    } finally {
      clearTimeout(timer);
    }
  }

  #log(entries) {
    if (!entries || entries.length === 0) return;
    const level = this.env.EDGE_LOG ?? "info";
    if (level === "none") return;
    for (const e of entries) {
      if (level === "debug" || !ROUTINE.has(e.kind)) console.log(`batchwire edge: ${this.name}: ${JSON.stringify(e)}`);
    }
  }

  // ---- admin RPCs

  async #deadEntries() {
    const out = [];
    let startAfter;
    for (;;) {
      const page = await this.ctx.storage.list({ prefix: "d:", startAfter, limit: LIST_PAGE });
      for (const [k, v] of page) {
        out.push([k, v]);
        startAfter = k;
      }
      if (page.size < LIST_PAGE) return out;
    }
  }

  async deadLetters(name) {
    if (this.shard === null) return [];
    const dec = new TextDecoder();
    return (await this.#deadEntries()).map(([, v]) => {
      const d = JSON.parse(typeof v === "string" ? v : dec.decode(v));
      return { messageId: d.messageId, code: d.code, reason: d.reason, failedAt: d.failedAt, shard: this.name ?? name };
    });
  }

  /** Puts the dead letters named (all when `ids` is null) back into the queue, same messageIds. */
  async replay(_name, ids) {
    if (this.shard === null) return 0;
    const want = ids === null ? null : new Set(ids);
    const now = Date.now();
    const puts = [];
    const deletes = [];
    let n = 0;
    for (const [k, v] of await this.#deadEntries()) {
      if (want !== null && !want.has(k.slice(2))) continue;
      const r = this.shard.replay(k, v, now);
      puts.push(...r.puts);
      deletes.push(...r.deletes);
      n++;
    }
    if (n === 0) return 0;
    const written = this.#write(puts, deletes);
    const armed = this.#kick();
    try {
      await written;
      await armed;
    } catch (e) {
      this.#reset("a storage write failed", e);
    }
    return n;
  }

  async stats(name) {
    if (this.shard === null) return { shard: name, active: false };
    return { shard: this.name, active: true, ...this.shard.stats() };
  }
}
