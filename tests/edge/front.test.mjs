// The Worker's front, as edge/README.md documents it: mapping per source, /webhook, CORS, the body
// cap (413 before anything is parsed), the per-IP window (429 + Retry-After), keys (401), and no
// upstream error text or secret in any answer.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { connect } from "node:net";
import { UNLIMITED, edgeEnv, post, track, v1Config, waitAll } from "./harness.mjs";

const ALPHA = "uk_live_alpha_src";
const BETA = "uk_live_beta_src";
const UPSTREAM_SECRET = "uk_live_demo";
const APP = "https://app.example.com";
const CAP = 4096;
const PER_IP = 5;

const config = (url) => v1Config(url, {
  shards: 4,
  maxBodyBytes: CAP,
  cors: [APP],
  perIp: { requests: PER_IP, windowSecs: 60 },
  sources: {
    [ALPHA]: { destination: "collector", mapping: { events: { rename: { plan_changed: "Account Upgraded" }, drop: ["Debug Ping"] } } },
    [BETA]: { destination: "collector", mapping: { events: { rename: { plan_changed: "subscription_tier_changed" } }, properties: { drop: ["email"] } } },
  },
});

let env;
const answers = []; // every answer of the front, checked at the end for leaks
let ipSeq = 0;
const freshIp = () => `198.51.100.${++ipSeq}`;
async function send(path, body, opts = {}) {
  const r = await post(env.url(), path, body, { ip: freshIp(), ...opts });
  answers.push(r.text);
  return r;
}
async function raw(path, init) {
  const res = await fetch(env.url() + path, init);
  const text = await res.text();
  answers.push(text);
  return { status: res.status, headers: res.headers, text };
}

// One collector and one edge for the whole file (edgeEnv's teardown runs in `after`).
const teardown = [];
before(async () => {
  env = await edgeEnv({ after: (fn) => teardown.push(fn) }, { collectorArgs: UNLIMITED, config, edge: { upstreamWriteKey: UPSTREAM_SECRET } });
});
after(async () => {
  for (const fn of teardown) await fn();
});

test("mapping per source: one event name, renamed for each source's destination", async () => {
  const a = [track("map-a1", { event: "plan_changed", properties: { email: "x@y.z", plan: "pro" } }), track("map-a2", { event: "Debug Ping" })];
  const b = [track("map-b1", { event: "plan_changed", properties: { email: "x@y.z", plan: "pro" } })];
  const ra = await send("/v1-batch", { batch: a }, { key: ALPHA });
  const rb = await send("/v1-batch", { batch: b }, { key: BETA });
  assert.equal(ra.status, 200, ra.text);
  assert.equal(rb.status, 200, rb.text);
  assert.equal(ra.json.accepted, 2);
  assert.equal(ra.json.dropped, 1, `the mapping's drop is counted: ${ra.text}`);
  const events = await waitAll(env.collector, ["map-a1", "map-b1"], { timeout: 15_000 });
  const byId = Object.fromEntries(events.map((e) => [e.messageId, e]));
  assert.equal(byId["map-a1"].event, "Account Upgraded");
  assert.equal(byId["map-a1"].properties.email, "x@y.z");
  assert.equal(byId["map-b1"].event, "subscription_tier_changed");
  assert.equal(byId["map-b1"].properties.email, undefined, "beta's mapping drops email");
  assert.equal(byId["map-b1"].properties.plan, "pro");
  assert.equal(byId["map-a2"], undefined, "an event the mapping drops is not sent");
});

test("/webhook: one event or an array; a re-posted event without messageId is stored once", async () => {
  const one = await send("/webhook", track("wh-1", { event: "plan_changed" }), { key: BETA });
  assert.equal(one.status, 200, one.text);
  const arr = await send("/webhook", [track("wh-2"), track("wh-3")], { key: BETA });
  assert.equal(arr.status, 200, arr.text);
  assert.equal(arr.json.accepted, 2);
  const noId = { type: "track", anonymousId: "anon-webhook", timestamp: "2026-12-03T10:00:00.000Z", event: "Ticket Closed", properties: { ticket: 42 } };
  for (let i = 0; i < 2; i++) assert.equal((await send("/webhook", noId, { key: BETA })).status, 200);
  await waitAll(env.collector, ["wh-1", "wh-2", "wh-3"], { timeout: 15_000 });
  // The derived-id event: stored once although posted twice.
  let closed = [];
  for (let i = 0; i < 50 && closed.length === 0; i++) {
    closed = (await env.collector.events()).filter((e) => e.event === "Ticket Closed");
    if (closed.length === 0) await new Promise((r) => setTimeout(r, 200));
  }
  await new Promise((r) => setTimeout(r, 800));
  closed = (await env.collector.events()).filter((e) => e.event === "Ticket Closed");
  assert.equal(closed.length, 1, JSON.stringify(closed));
  assert.ok(closed[0].messageId, "a derived messageId");
  assert.equal((await env.collector.events()).find((e) => e.messageId === "wh-1").event, "subscription_tier_changed");
});

test("CORS: the allowed origin is answered with CORS headers; another is refused 403 without them", async () => {
  const ok = await send("/v1-batch", { batch: [track("cors-1")] }, { key: ALPHA, headers: { origin: APP } });
  assert.equal(ok.status, 200, ok.text);
  assert.equal(ok.headers.get("access-control-allow-origin"), APP);
  assert.equal(ok.headers.get("access-control-expose-headers"), "Retry-After");
  assert.match(ok.headers.get("vary") ?? "", /Origin/);

  const bad = await send("/v1-batch", { batch: [track("cors-2")] }, { key: ALPHA, headers: { origin: "https://evil.example" } });
  assert.equal(bad.status, 403);
  assert.equal(bad.json.code, "origin_not_allowed");
  assert.equal(bad.headers.get("access-control-allow-origin"), null);

  const pre = await raw("/v1-batch", { method: "OPTIONS", headers: { origin: APP, "access-control-request-method": "POST", "access-control-request-headers": "authorization, content-type" } });
  assert.equal(pre.status, 204);
  assert.equal(pre.headers.get("access-control-allow-origin"), APP);
  assert.match(pre.headers.get("access-control-allow-methods"), /POST/);
  assert.match(pre.headers.get("access-control-allow-headers"), /Authorization/);
  assert.match(pre.headers.get("access-control-allow-headers"), /Content-Type/);

  const preBad = await raw("/v1-batch", { method: "OPTIONS", headers: { origin: "https://evil.example", "access-control-request-method": "POST" } });
  assert.equal(preBad.status, 403);
  assert.equal(preBad.headers.get("access-control-allow-origin"), null);
  assert.equal(preBad.headers.get("access-control-allow-methods"), null);

  const noOrigin = await send("/v1-batch", { batch: [track("cors-3")] }, { key: ALPHA });
  assert.equal(noOrigin.status, 200, "a request without Origin (a server) is served");
  await waitAll(env.collector, ["cors-1", "cors-3"], { timeout: 15_000 });
  assert.equal((await env.collector.events()).filter((e) => e.messageId === "cors-2").length, 0);
});

/**
 * Writes an HTTP/1.1 request by hand on a socket (`head`: the request line and headers; then each
 * of `chunks`) and never ends the body: resolves to the status code the edge answers with, or to
 * "no answer" after `timeout` ms. What a Worker that waited for the whole body would never give.
 */
function unfinished(url, head, chunks, timeout = 5000) {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const sock = connect(Number(port), hostname);
    let got = "";
    const done = (v) => {
      clearTimeout(timer);
      sock.destroy();
      resolve(v);
    };
    const timer = setTimeout(() => done("no answer"), timeout);
    sock.on("connect", () => {
      sock.write(head);
      for (const c of chunks) sock.write(c);
    });
    sock.on("data", (d) => {
      got += d.toString("latin1");
      const m = /^HTTP\/1\.1 (\d{3})/.exec(got);
      if (m) done(Number(m[1]));
    });
    sock.on("error", () => done("socket error"));
  });
}

test("body cap: 413 from Content-Length at once, before the body is read, parsed or the key checked", async () => {
  const big = "x".repeat(CAP + 1); // not JSON, and no key: the cap answers first
  const r = await send("/v1-batch", big, { key: null });
  assert.equal(r.status, 413, r.text);
  assert.deepEqual({ success: r.json.success, limit_bytes: r.json.limit_bytes }, { success: false, limit_bytes: CAP });
  assert.match(r.json.error, /too large/);
  // A Content-Length of 50 MB, of which a few bytes ever come: answered without waiting for them.
  const head = `POST /v1-batch HTTP/1.1\r\nHost: edge\r\nContent-Type: application/json\r\nCF-Connecting-IP: ${freshIp()}\r\n` +
    `Authorization: Bearer ${ALPHA}\r\nContent-Length: 50000000\r\n\r\n`;
  assert.equal(await unfinished(env.url(), head, ['{"batch":[']), 413);
  // At the cap exactly, a body is read (and here refused as not JSON: 400).
  const at = await send("/v1-batch", " ".repeat(CAP), { key: ALPHA });
  assert.equal(at.status, 400, at.text);
});

test("body cap: a streamed body (no Content-Length) is refused once the running count passes the cap", async () => {
  const head = `POST /v1-batch HTTP/1.1\r\nHost: edge\r\nContent-Type: application/json\r\nCF-Connecting-IP: ${freshIp()}\r\n` +
    `Authorization: Bearer ${ALPHA}\r\nTransfer-Encoding: chunked\r\n\r\n`;
  const chunk = `400\r\n${" ".repeat(1024)}\r\n`;
  // CAP + 1 KiB sent, and the body never ends: the count, not the end, answers.
  const chunks = Array.from({ length: CAP / 1024 + 1 }, () => chunk);
  assert.equal(await unfinished(env.url(), head, chunks), 413);
  // Under the cap and never ended: no answer (the edge is still reading, as it should).
  assert.equal(await unfinished(env.url(), head, [chunk], 1500), "no answer");
});

test("per-IP window: over the limit 429 with Retry-After and code rate_limited; other addresses unaffected", async () => {
  const ip = "192.0.2.77";
  // Refused keys do not count (as /v1-batch's windows).
  for (let i = 0; i < 3; i++) assert.equal((await send("/v1-batch", { batch: [track(`bad-${i}`)] }, { key: "uk_live_nope", ip })).status, 401);
  for (let i = 0; i < PER_IP; i++) {
    const r = await send("/v1-batch", { batch: [track(`ip-${i}`)] }, { key: ALPHA, ip });
    assert.equal(r.status, 200, `request ${i + 1} of ${PER_IP}: ${r.text}`);
  }
  const over = await send("/v1-batch", { batch: [track("ip-over")] }, { key: ALPHA, ip });
  assert.equal(over.status, 429, over.text);
  assert.equal(over.json.code, "rate_limited");
  const ra = Number(over.headers.get("retry-after"));
  assert.ok(Number.isInteger(ra) && ra >= 1 && ra <= 60, `Retry-After ${over.headers.get("retry-after")}`);
  const other = await send("/v1-batch", { batch: [track("ip-other")] }, { key: ALPHA, ip: "192.0.2.78" });
  assert.equal(other.status, 200, other.text);
  await waitAll(env.collector, ["ip-other", "ip-0"], { timeout: 15_000 });
  assert.equal((await env.collector.events()).filter((e) => e.messageId === "ip-over").length, 0);
});

test("keys: missing or unknown 401; Bearer, Basic and X-Write-Key accepted; other refusals as documented", async () => {
  const missing = await send("/v1-batch", { batch: [track("k-0")] }, { key: null });
  assert.equal(missing.status, 401, missing.text);
  assert.equal(missing.json.success, false);
  const unknown = await send("/v1-batch", { batch: [track("k-1")] }, { key: "uk_live_unknown" });
  assert.equal(unknown.status, 401, unknown.text);
  assert.equal(unknown.json.success, false);
  const basic = await send("/v1-batch", { batch: [track("k-2")] }, { key: null, headers: { authorization: `Basic ${btoa(`${ALPHA}:`)}` } });
  assert.equal(basic.status, 200, basic.text);
  const header = await send("/v1-batch", { batch: [track("k-3")] }, { key: null, headers: { "x-write-key": BETA } });
  assert.equal(header.status, 200, header.text);
  const text = await send("/v1-batch", { batch: [track("k-4")] }, { key: ALPHA, headers: { "content-type": "text/plain" } });
  assert.equal(text.status, 400, text.text);
  const empty = await send("/v1-batch", { batch: [] }, { key: ALPHA });
  assert.equal(empty.status, 400, empty.text);
  const get = await raw("/v1-batch", { method: "GET" });
  assert.equal(get.status, 405);
  const nowhere = await raw("/nowhere", { method: "GET" });
  assert.equal(nowhere.status, 404);
  await waitAll(env.collector, ["k-2", "k-3"], { timeout: 15_000 });
});

test("with the Workers Rate Limiting binding bound, it decides the per-IP limit", async (t) => {
  const rl = await env.restartOther({ rateLimit: { limit: 2, period: 60 } });
  t.after(() => rl.stop());
  const ip = "192.0.2.99";
  const go = (i) => post(rl.url, "/v1-batch", { batch: [track(`rl-${i}`)] }, { key: ALPHA, ip });
  // The configuration's perIp (5) would admit 5; the binding (2) admits 2.
  for (let i = 0; i < 2; i++) assert.equal((await go(i)).status, 200);
  const over = await go(2);
  answers.push(over.text);
  assert.equal(over.status, 429, over.text);
  assert.equal(over.json.code, "rate_limited");
  assert.equal(over.headers.get("retry-after"), "60");
  assert.equal((await post(rl.url, "/v1-batch", { batch: [track("rl-other")] }, { key: ALPHA, ip: "192.0.2.100" })).status, 200);
});

test("no answer carries upstream error text or a secret, even while the upstream fails", async () => {
  await env.collector.faults({ fail_rate: 1, seed: 3 });
  const r = await send("/v1-batch", { batch: [track("leak-1"), track("leak-2")] }, { key: ALPHA });
  assert.equal(r.status, 200, "acknowledged once stored, whatever the upstream does");
  await new Promise((res) => setTimeout(res, 1500)); // a few failed deliveries meanwhile
  const failing = (await env.collector.stats()).log.filter((x) => x.status >= 500);
  assert.ok(failing.length > 0, "the upstream failed meanwhile");
  await env.collector.clearFaults();
  await waitAll(env.collector, ["leak-1", "leak-2"], { timeout: 20_000 });
  const secrets = [UPSTREAM_SECRET, "edge-admin-test-key-7f3a"];
  for (const a of answers) {
    for (const s of secrets) assert.ok(!a.includes(s), `an answer leaks a secret: ${a}`);
    assert.ok(!/Internal Server Error|Bad Gateway|Service Unavailable|Gateway Timeout|injected|fault/i.test(a), `upstream text in an answer: ${a}`);
    if (a !== "") assert.doesNotThrow(() => JSON.parse(a), `every answer is JSON: ${a}`);
  }
});
