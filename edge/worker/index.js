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
// timer, so nothing depends on a request staying alive (shard.js). engine.js is the only code that
// touches the wasm; load.js loads it once per isolate.
import { boot, readCapped } from "./load.js";

export { Shard } from "./shard.js";

const JSON_TYPE = "application/json";
const PREFLIGHT_HEADERS = "Authorization, Content-Type, X-Write-Key";

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
