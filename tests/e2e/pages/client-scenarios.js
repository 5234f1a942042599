// The scenarios of tests/e2e/client.test.mjs: the whole client in the page, with a stand-in `fetch`
// playing the server: delivery and flush, IndexedDB across a "reload", two clients of one key as
// two tabs (one sends, the other hands over; the lock moves on shutdown), memory fallback, unload,
// shutdown and hostile input. Each export takes `createClient` (and some `BatchwireError`) from the
// built package (window.bw) and returns a JSON string the test compares. They replace
// globalThis.fetch, so the wasm module must be loaded (bw.init()) before one runs.

const sleep = (ms) => new Promise((ok) => setTimeout(ok, ms));
const drop = (name) => new Promise((ok) => { const r = indexedDB.deleteDatabase(name); r.onsuccess = r.onerror = r.onblocked = ok; });
// The server: records every request; answers each with `status(n)` (default 200, all accepted),
// once `gate` (if given) resolves.
function server(status = () => 200, gate) {
  const log = [];
  globalThis.fetch = async (url, init) => {
    const batch = JSON.parse(new TextDecoder().decode(init.body)).batch;
    const n = log.push({ url, ids: batch.map((e) => e.messageId), keepalive: !!init.keepalive, names: batch.map((e) => e.event) });
    await gate;
    const s = status(n);
    return new Response(JSON.stringify(s === 200 ? { success: true, accepted: batch.length, failed: 0, errors: [], warnings: [] } : { success: false, error: "down" }), { status: s });
  };
  return log;
}
const sent = (log) => log.flatMap((r) => r.ids);
const options = (writeKey, extra = {}) => ({ writeKey, apiHost: "https://api.test", flushIntervalMs: 600000, ...extra });
async function storedKeys(writeKey) {
  const db = await new Promise((ok) => { const r = indexedDB.open("batchwire:" + writeKey, 1); r.onupgradeneeded = () => r.result.createObjectStore("events"); r.onsuccess = () => ok(r.result); });
  const keys = await new Promise((ok) => { const r = db.transaction("events").objectStore("events").getAllKeys(); r.onsuccess = () => ok(r.result); });
  db.close();
  return keys;
}

export async function delivers(createClient) {
  await drop("batchwire:uk_live_c1");
  let open;
  const log = server(undefined, new Promise((ok) => (open = ok)));
  const c = await createClient(options("uk_live_c1"));
  const heard = [];
  c.on("delivered", (e) => heard.push(...e.messageIds));
  const ids = [c.track("A", { i: 1 }), c.identify("user-1", { plan: "pro" }), c.page("Home", { path: "/" })];
  await sleep(30);
  // In flight, not yet acked: the tick's three events, in one record.
  const storedBefore = (await storedKeys("uk_live_c1")).length;
  open();
  await c.flush();
  const s = c.stats();
  const storedAfter = (await storedKeys("uk_live_c1")).length;
  await c.shutdown();
  return JSON.stringify({
    requests: log.length, sameIds: JSON.stringify(sent(log)) === JSON.stringify(ids), heard: heard.length === 3 && heard.every((h, i) => h === ids[i]),
    storedBefore, storedAfter, queued: s.queued, delivered: s.delivered, stored: s.stored,
  });
}

export async function reloadKeepsEvents(createClient) {
  await drop("batchwire:uk_live_c2");
  let log = server(() => 503);
  const first = await createClient(options("uk_live_c2", { backoffBaseMs: 600000, backoffMaxMs: 600000 }));
  const ids = [];
  for (let i = 0; i < 5; i++) ids.push(first.track("Kept", { i }));
  await sleep(30);
  await first.shutdown(); // sends, gets a 503, keeps them stored for the next page
  const tried = sent(log).length;
  log = server();
  const next = await createClient(options("uk_live_c2"));
  await next.flush();
  await sleep(30);
  const left = (await storedKeys("uk_live_c2")).length;
  await next.shutdown();
  return JSON.stringify({ tried, resent: JSON.stringify(sent(log)) === JSON.stringify(ids), left });
}

export async function twoTabs(createClient) {
  await drop("batchwire:uk_live_tabs");
  const log = server();
  const a = await createClient(options("uk_live_tabs"));
  await sleep(50); // a takes the lock
  const b = await createClient(options("uk_live_tabs"));
  const heardB = [];
  b.on("delivered", (e) => heardB.push(...e.messageIds));
  const fromB = [];
  for (let i = 0; i < 10; i++) fromB.push(b.track("From B", { i }));
  await b.flush(); // resolves once the leader (a) delivered b's events
  const once = sent(log).filter((id) => fromB.includes(id)).length;
  const statsB = b.stats(); // as a follower: its own 10, settled by the leader
  await a.shutdown(); // the lock moves to b
  await sleep(50);
  const later = [b.track("After takeover"), b.track("After takeover")];
  await b.flush();
  const after = sent(log).filter((id) => later.includes(id)).length;
  await b.shutdown();
  return JSON.stringify({ once, heardB: heardB.length, bDelivered: statsB.delivered, bQueued: statsB.queued, after, total: sent(log).length });
}

export async function memoryFallback(createClient) {
  const log = server();
  const real = IDBFactory.prototype.open;
  IDBFactory.prototype.open = function () { throw new DOMException("no storage here", "SecurityError"); };
  let c;
  try { c = await createClient(options("uk_live_c3")); } finally { IDBFactory.prototype.open = real; }
  const warnings = [];
  c.on("warning", (w) => warnings.push(w.code + " " + w.message));
  const id = c.track("Still works");
  await c.flush();
  await sleep(20);
  const s = c.stats();
  await c.shutdown();
  return JSON.stringify({ warnings, stored: s.stored, delivered: sent(log).includes(id) });
}

export async function unloadSendsWithKeepalive(createClient) {
  await drop("batchwire:uk_live_c4");
  const log = server();
  const c = await createClient(options("uk_live_c4"));
  await sleep(50);
  const ids = [];
  for (let i = 0; i < 5; i++) ids.push(c.track("Leaving", { i }));
  await sleep(10);
  dispatchEvent(new PageTransitionEvent("pagehide", { persisted: false }));
  await sleep(50);
  const s = c.stats();
  await c.shutdown();
  return JSON.stringify({ requests: log.map((r) => [r.keepalive, r.ids.length]), all: ids.every((id) => sent(log).includes(id)), delivered: s.delivered });
}

export async function pagehideLetsTheLockGo(createClient) {
  await drop("batchwire:uk_live_c7");
  const log = server();
  const a = await createClient(options("uk_live_c7"));
  await sleep(50); // a leads
  const b = await createClient(options("uk_live_c7"));
  const held = async () => (await navigator.locks.query()).held.filter((l) => l.name === "batchwire:uk_live_c7").length;
  const before = await held();
  // Leaving for the back/forward cache: no client may keep the page from it by holding the lock.
  // Both hooks fire for both clients (one page); b never held it and keeps waiting its turn.
  dispatchEvent(new PageTransitionEvent("pagehide", { persisted: true }));
  await sleep(50);
  const afterLeaving = await held();
  dispatchEvent(new PageTransitionEvent("pageshow", { persisted: true }));
  await sleep(50);
  const id = b.track("Back");
  const flushed = await Promise.race([b.flush().then(() => "b"), sleep(2000).then(() => "timeout")]);
  const back = await held();

  await a.shutdown();
  await b.shutdown();
  return JSON.stringify({ before, afterLeaving, back, flushed, sent: sent(log).includes(id) });
}

export async function shutdownRefuses(createClient, BatchwireError) {
  server();
  const c = await createClient(options("uk_live_c5", { storage: "memory" }));
  await c.shutdown();
  let track, flush;
  try { c.track("Late"); } catch (e) { track = [e instanceof BatchwireError, e.code]; }
  try { await c.flush(); } catch (e) { flush = [e instanceof BatchwireError, e.code]; }
  return JSON.stringify({ track, flush });
}

export async function hostileInput(createClient, BatchwireError) {
  const log = server();
  const c = await createClient(options("uk_live_c6", { storage: "memory" }));
  const out = [];
  // A page applies the engine's own rules after the call returned: a refusal is then reported
  // through `failed`, with the code and message a throw would carry.
  const refused = {};
  c.on("failed", (f) => (refused[f.messageId] = ["failed", f.code, f.reason]));
  const attempt = (f) => { try { out.push(f()); } catch (e) { out.push([e instanceof BatchwireError, e.code, e.message]); } };
  const cyclic = { a: 1 }; cyclic.self = cyclic;
  attempt(() => c.track("Cyclic", cyclic));
  attempt(() => c.track("BigInt", { cart: { n: 10n } }));
  attempt(() => c.track("n".repeat(201)));
  attempt(() => c.track(42));
  attempt(() => c.track("Huge", { s: "x".repeat(2 * 1024 * 1024) }));
  attempt(() => c.track("Array", [1, 2]));
  attempt(() => c.on("nope", () => {}));
  const ok = c.track("Coerced", { f() {}, d: new Date(0), x: NaN, u: undefined });
  const heard = [];
  c.on("delivered", () => { throw new Error("a broken listener"); });
  c.on("delivered", (e) => heard.push(...e.messageIds));
  await c.flush();
  const body = log.length;
  await c.shutdown();
  return JSON.stringify({ out: out.map((x) => refused[x] ?? (typeof x === "string" ? "accepted" : x)), okDelivered: heard.includes(ok), requests: body });
}
