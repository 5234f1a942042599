// The npm package in workerd (Miniflare 4): a Worker importing pkg/ through its `workerd` export
// condition keeps one client at module scope, as Workers do, and the reference collector (its own
// process, on a free port) stores what arrives, de-duplicated by messageId. workerd ends every
// timer, fetch and continuation of a request with that request, so what is checked here is that a
// client outliving its requests loses nothing and never wedges: late events, sends cut short by
// the end of their request, a client created at global scope, events that cannot be delivered.
//
// Needs pkg/ built (python3 scripts/package.py) and COLLECTOR_BIN (cargo build -p collector);
// BATCHWIRE_PKG points at another build of the package (a copy with a mutation, say).
import assert from "node:assert/strict";
import { test } from "node:test";
import { Miniflare } from "miniflare";
import { duplicatesOf, waitFor } from "../e2e/harness.mjs";
import { collector, stored, waitStored, workerModules, WRITE_KEY } from "../node/helpers.mjs";


// The Worker: one client at module scope, created on first use inside a request, with every
// listener payload kept for GET /seen. OPTIONS (JSON) are merged into createClient's options.
// /track?ids=a,b&late=c,d&flush=wait|float|none: tracks `ids` with those messageIds; `late` are
// tracked after the response, in ctx.waitUntil, after the first flush; `flush` says what happens
// to flush(): given to ctx.waitUntil (default), started and left to itself, or not called.
// /hold: waits, touching the client every 25 ms (no flush), until nothing is queued or in flight.
const APP = `
import { createClient, BatchwireError } from "batchwire";

let client;
const seen = { delivered: [], failed: [], warning: [] };

async function get(env) {
  if (!client) {
    const c = await createClient({ writeKey: env.WRITE_KEY, apiHost: env.API_HOST, ...JSON.parse(env.OPTIONS) });
    c.on("delivered", (p) => seen.delivered.push(...p.messageIds));
    c.on("failed", (p) => seen.failed.push(p));
    c.on("warning", (p) => seen.warning.push(p));
    client ??= c;
  }
  return client;
}

const track = (c, ids) => ids.forEach((id, i) => id && c.track("Edge Event", { i }, { messageId: id, userId: "user-" + i }));
const list = (u, k) => (u.searchParams.get(k) ?? "").split(",").filter(Boolean);
const sleep = (ms) => new Promise((ok) => setTimeout(ok, ms));

// createClient at global scope (workerd allows no I/O, timer or random value there).
let global;
createClient({ writeKey: "k", apiHost: "http://127.0.0.1:9" }).then(
  () => (global = { resolved: true }),
  (e) => (global = { name: e?.name, code: e?.code, message: e?.message, batchwire: e instanceof BatchwireError }),
);

export default {
  async fetch(request, env, ctx) {
    const u = new URL(request.url);
    if (u.pathname === "/global") return Response.json(global ?? { pending: true });
    const c = await get(env);
    if (u.pathname === "/track") {
      track(c, list(u, "ids"));
      const late = list(u, "late");
      const flush = u.searchParams.get("flush") ?? "wait";
      if (flush === "float") c.flush();
      else if (flush === "wait") {
        ctx.waitUntil(c.flush().then(async () => {
          if (!late.length) return;
          await sleep(5);
          track(c, late);
          await c.flush();
        }));
      }
      return new Response("ok");
    }
    if (u.pathname === "/hold") {
      const end = Date.now() + 10000;
      let s;
      while (((s = c.stats()).queued || s.inFlight) && Date.now() < end) await sleep(25);
      return Response.json(s);
    }
    if (u.pathname === "/seen") return Response.json({ ...seen, stats: c.stats() });
    if (u.pathname === "/identity") {
      c.identify("user-who", { plan: "pro" });
      const before = c.user();
      c.reset();
      ctx.waitUntil(c.flush());
      return Response.json({ before, after: c.user() });
    }
    return new Response("not found", { status: 404 });
  },
};
`;

/** A Miniflare running APP against collector `c`, with `options` for createClient. */
async function worker(t, c, options = {}) {
  const mf = new Miniflare({
    modulesRoot: "/",
    modules: workerModules(APP),
    compatibilityDate: "2026-01-01",
    bindings: { WRITE_KEY, API_HOST: c.url, OPTIONS: JSON.stringify(options) },
  });
  t.after(() => mf.dispose());
  const get = async (path) => {
    const r = await mf.dispatchFetch("http://worker" + path);
    const text = await r.text();
    assert.equal(r.status, 200, `${path}: ${r.status} ${text.slice(0, 500)}`);
    return text;
  };
  return {
    get,
    seen: async () => JSON.parse(await get("/seen")),
    track: (ids, { late = [], flush } = {}) =>
      get(`/track?ids=${ids.join(",")}&late=${late.join(",")}${flush ? "&flush=" + flush : ""}`),
  };
}

const ids = (prefix, n) => Array.from({ length: n }, (_, i) => `${prefix}-${i}-${Math.random().toString(36).slice(2, 10)}`);
const sleep = (ms) => new Promise((ok) => setTimeout(ok, ms));

/** Waits until the Worker's client has reported `want` delivered; returns /seen. */
async function delivered(w, want, timeout = 30_000) {
  let s;
  const what = () =>
    `${want.length} events delivered (${s?.delivered.length} so far; stats ${JSON.stringify(s?.stats)}; ` +
    `failed ${JSON.stringify(s?.failed)})`;
  await waitFor(async () => (s = await w.seen()).delivered.length >= want.length && s.stats.inFlight === 0,
    { timeout, interval: 100, what });
  return s;
}

/** Every id of `want` stored exactly once by the collector and reported delivered exactly once. */
async function exactlyOnce(c, s, want) {
  const got = await stored(c, want);
  const count = new Map();
  for (const e of got) count.set(e.messageId, (count.get(e.messageId) ?? 0) + 1);
  assert.deepEqual(want.filter((id) => count.get(id) !== 1), [], "stored exactly once");
  assert.deepEqual([...s.delivered].sort(), [...want].sort(), "reported delivered exactly once each");
  assert.deepEqual(s.failed, []);
}

test("a module-scope client across many requests delivers every event exactly once", async (t) => {
  const c = await collector(t);
  const w = await worker(t, c);
  const all = [];
  // Waves of concurrent requests: every one gives its flush to ctx.waitUntil; every third also
  // tracks events after its response, inside that waitUntil.
  for (let wave = 0; wave < 5; wave++) {
    await Promise.all(Array.from({ length: 8 }, (_, r) => {
      const now = ids(`a${wave}.${r}`, 3);
      const late = r % 3 === 0 ? ids(`a${wave}.${r}late`, 2) : [];
      all.push(...now, ...late);
      return w.track(now, { late });
    }));
  }
  const s = await delivered(w, all);
  await exactlyOnce(c, s, all);
  assert.equal(s.stats.delivered, all.length);
  // A server's defaults: the library alone in the context, no session shared by every visitor.
  const [e] = await c.events();
  assert.deepEqual(Object.keys(e.context ?? {}), ["library"], JSON.stringify(e.context));
  assert.equal(e.context.library.name, "batchwire");
  assert.equal(s.stats.queued, 0);
  // Every request kept running until what it sent was answered: nothing was cut and sent again.
  assert.equal(s.stats.retried, 0, JSON.stringify(s.stats));
  assert.equal(duplicatesOf(await c.stats()), 0);
});

test("the workerd client has user() and reset(): identity in memory, a logout starts a new anonymousId", async (t) => {
  const c = await collector(t);
  const w = await worker(t, c);
  const r = JSON.parse(await w.get("/identity"));
  assert.equal(r.before.userId, "user-who");
  assert.deepEqual(r.before.traits, { plan: "pro" });
  assert.equal(r.after.userId, null);
  assert.deepEqual(r.after.traits, {});
  assert.ok(r.after.anonymousId && r.after.anonymousId !== r.before.anonymousId, JSON.stringify(r));
});

test("events tracked late in a request are sent by a later request when their timer is due, without a flush", async (t) => {
  const c = await collector(t);
  const w = await worker(t, c, { flushIntervalMs: 200 });
  const late = ids("b", 2);
  // No flush at all: the client's flush timer is armed in this request, which then ends.
  await w.track(late, { flush: "none" });
  await sleep(400);
  // A later request that only uses the client (stats(), no flush) and stays up a while.
  const s = JSON.parse(await w.get("/hold"));
  assert.equal(s.queued + s.inFlight, 0, `still waiting: ${JSON.stringify(s)}`);
  await exactlyOnce(c, await delivered(w, late), late);
});

test("a send that outlives its request does not wedge the client: resent, stored once", async (t) => {
  const c = await collector(t);
  // The first request to reach the collector is answered 4 s late, long after its Worker request
  // has ended (workerd cancels its fetch).
  await c.faults({ script: [{ delay_ms: 4000 }] });
  const w = await worker(t, c);
  const first = ids("c0", 3);
  await w.track(first, { flush: "float" });
  const all = [...first];
  for (let r = 1; r <= 6; r++) {
    const more = ids(`c${r}`, 2);
    all.push(...more);
    await w.track(more);
  }
  // No request but those: their flushes, in ctx.waitUntil, find the cut send and send it again.
  await waitStored(c, all);
  const s = await delivered(w, all);
  await exactlyOnce(c, s, all);
  assert.ok(s.stats.retried >= first.length, `the cut send was not retried: ${JSON.stringify(s.stats)}`);
});

test("a send whose answer is lost with its request is resent with the same messageIds, stored once", async (t) => {
  const c = await collector(t);
  const w = await worker(t, c);
  const first = ids("l0", 3);
  // Sent at once (the collector gets and stores it, as a rule), but the request returns before
  // the answer arrives.
  await w.track(first, { flush: "float" });
  const more = ids("l1", 2);
  await w.track(more);
  const all = [...first, ...more];
  await waitStored(c, all); // the second request's flush, alone, finds the lost answer
  const s = await delivered(w, all);
  await exactlyOnce(c, s, all);
  assert.ok(s.stats.retried >= first.length, `the lost answer was not retried: ${JSON.stringify(s.stats)}`);
});

test("createClient at global scope rejects with E_GLOBAL_SCOPE and says what to do", async (t) => {
  const c = await collector(t);
  const w = await worker(t, c);
  const g = JSON.parse(await w.get("/global"));
  assert.equal(g.code, "E_GLOBAL_SCOPE", JSON.stringify(g));
  assert.equal(g.name, "BatchwireError");
  assert.equal(g.batchwire, true);
  assert.match(g.message, /inside the handler/);
  assert.match(g.message, /ctx\.waitUntil\(client\.flush\(\)\)/);
});

test("events the server refuses are reported failed, even from a client whose first request returned at once", async (t) => {
  const c = await collector(t);
  const w = await worker(t, c, { writeKey: "uk_live_unknown" });
  const refused = ids("e", 3);
  // The client is created by this request, which returns without waiting for anything.
  await w.track(refused, { flush: "none" });
  await w.track([]); // a later request flushes, in ctx.waitUntil
  let s;
  await waitFor(async () => (s = await w.seen()).failed.length >= refused.length,
    { timeout: 20_000, what: () => `${refused.length} failed reports (${JSON.stringify(s)})` });
  assert.deepEqual(s.failed.map((f) => f.messageId).sort(), [...refused].sort());
  assert.ok(s.failed.every((f) => f.code === "E_HTTP"), JSON.stringify(s.failed));
  assert.equal(s.stats.failed, refused.length);
  assert.deepEqual(await stored(c, refused), []);
});

test("events of a send cut short by its request's end are reported failed once past giveUpAfterMs", async (t) => {
  const c = await collector(t);
  await c.faults({ script: [{ delay_ms: 6000 }] });
  const w = await worker(t, c, { giveUpAfterMs: 500 });
  const cut = ids("h", 2);
  await w.track(cut, { flush: "float" });
  let s;
  // Later requests (each a look at /seen) find the cut send and report its events.
  await waitFor(async () => (s = await w.seen()).failed.length >= cut.length,
    { timeout: 20_000, interval: 200, what: () => `${cut.length} failed reports (${JSON.stringify(s)})` });
  assert.deepEqual(s.failed.map((f) => f.messageId).sort(), [...cut].sort());
  assert.ok(s.failed.every((f) => f.code === "E_RETRY_HORIZON"), JSON.stringify(s.failed));
  assert.equal(s.stats.inFlight, 0);
});

test("debug: true in workerd: extras.js loads beside the entry and the client delivers as before", async (t) => {
  const c = await collector(t);
  const w = await worker(t, c, { debug: true });
  const all = ids("dbg", 4);
  await w.track(all, {});
  await exactlyOnce(c, await delivered(w, all), all);
});
