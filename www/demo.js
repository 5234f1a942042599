// The demo page: tracks events with batchwire against the local collector, charts the client's
// queue and the collector's answers, and switches the collector's faults on and off.
// Query parameters:
//   collector=<url>  the reference collector (default http://127.0.0.1:8787)
//   edge=<url>       send through the edge Worker, which stores each event durably and forwards it
//                    to the collector (/v1-batch only)
//   protocol=<p>     v1-batch (default), amplitude-http-v2 or amplitude-batch
//   key=<k>          the /v1-batch write key (default uk_live_demo, which the collector accepts
//                    unless started with --no-default-keys); ampkey=<k>: the Amplitude api key
//                    (default amp_demo_key)
//   auto=<n>         tracks n events at load and flushes, then sets window.__demo (make demo)
// window.demo exposes the page's state to the headless run and the end-to-end test.
import { Chart } from "./chart.js";
import { faultsFor, PATHS, requestsOf } from "./faults.js";

const params = new URLSearchParams(location.search);
const collector = (params.get("collector") ?? "http://127.0.0.1:8787").replace(/\/+$/, "");
const edge = params.get("edge")?.replace(/\/+$/, "") || null;
const PROTOCOLS = { "v1-batch": "/v1-batch", "amplitude-http-v2": "Amplitude HTTP V2", "amplitude-batch": "Amplitude Batch" };
const DEFAULT_KEYS = { "v1-batch": "uk_live_demo", amplitude: "amp_demo_key" };
// Short waits, so that a fault's end shows within seconds (the defaults suit production).
const OPTIONS = { flushIntervalMs: 2000, backoffBaseMs: 500, backoffMaxMs: 4000, quotaProbeMs: 2000 };
const EMPTY = { queued: 0, inFlight: 0, delivered: 0, failed: 0, retried: 0, rateLimitedUntil: null, quotaHeldUntil: null, stored: null };
const $ = (id) => document.getElementById(id);
const sleep = (ms) => new Promise((ok) => setTimeout(ok, ms));
const hms = (t) => new Date(t).toISOString().slice(11, 23);
const keyOf = (p) => p === "v1-batch" ? params.get("key") || DEFAULT_KEYS[p] : params.get("ampkey") || DEFAULT_KEYS.amplitude;

let protocol = !edge && PROTOCOLS[params.get("protocol")] ? params.get("protocol") : "v1-batch";
let lib = null; // the batchwire package, once loaded
let client = null; // the client of the current protocol; null while one starts
let faults = [];
let initialConfig = null; // the collector's limits when the page loaded: "back to normal" restores them
const server = { stats: null, faults: null, config: null, error: null };
const last = { rateLimited: null, quotaHeld: null }; // the latest pause and hold the client told of
const chart = new Chart($("chart"));
const demo = window.demo = {
  ready: false, protocol, writeKey: keyOf(protocol), ids: [], tracked: 0, delivered: 0,
  // What the client showed: the most in flight at once, each stretch with requests in flight, the
  // latest pause and hold.
  seen: { maxInFlight: 0, flights: [], rateLimitedUntil: null, quotaHeldUntil: null },
  stats: () => client?.stats() ?? { ...EMPTY },
};

function log(kind, text) {
  const li = document.createElement("li");
  li.className = kind;
  li.textContent = `${hms(Date.now())} ${kind}: ${text}`;
  $("log").prepend(li);
  while ($("log").children.length > 200) $("log").lastChild.remove();
  console.log(`[demo] ${kind}: ${text}`);
}

function table(el, rows) {
  el.tBodies[0].replaceChildren(...rows.map(([key, label, value, cls]) => {
    const tr = document.createElement("tr");
    tr.dataset.key = key;
    if (cls) tr.className = cls;
    tr.innerHTML = "<td></td><td></td>";
    tr.cells[0].textContent = label;
    tr.cells[1].textContent = String(value ?? "–");
    return tr;
  }));
}

// "17:45:02.123 (1.4 s from now)", a date for a far reset (a monthly quota's), or what was last
// seen once the pause is over.
function until(t, lastSeen, now) {
  if (t) {
    const left = t - now;
    const when = left > 86_400_000 ? new Date(t).toISOString().replace("T", " ").slice(0, 19) + " UTC" : hms(t);
    return left > 0 ? `${when} (${fmtMs(left)} from now)` : `${when} (passed)`;
  }
  return lastSeen ? `– (last: until ${hms(lastSeen.until)}, told at ${hms(lastSeen.at)})` : "–";
}
const fmtMs = (ms) => ms >= 86_400_000 ? `${Math.round(ms / 86_400_000)} days` : ms >= 120_000 ? `${Math.round(ms / 60_000)} min` : `${(ms / 1000).toFixed(1)} s`;

function renderClient(now = Date.now()) {
  const s = demo.stats();
  const rows = [
    ["queued", "queued", s.queued],
    ["inFlight", "in flight", s.inFlight],
    ["delivered", "delivered", s.delivered],
    ["failed", "failed", s.failed, s.failed ? "bad" : ""],
    ["retried", "retries (events resent)", s.retried, s.retried ? "warn" : ""],
    ["rateLimitedUntil", "rate limited until", until(s.rateLimitedUntil, last.rateLimited, now), s.rateLimitedUntil > now ? "warn" : ""],
    ["quotaHeldUntil", "quota held until", until(s.quotaHeldUntil, last.quotaHeld, now), s.quotaHeldUntil > now ? "held" : ""],
    ["stored", "queue kept in", s.stored === null ? "–" : s.stored ? "IndexedDB (shared by this origin's tabs)" : "memory only"],
  ];
  if (!client) rows.unshift(["client", "client", lib ? "starting…" : "loading the package…"]);
  table($("stats"), rows);
}

function renderServer() {
  const s = server.stats;
  if (!s) {
    table($("server"), [["collector", "collector", server.error ? `unreachable at ${collector} (${server.error}); make demo starts it` : `asking ${collector}…`, server.error ? "bad" : ""]]);
    return;
  }
  const by = {};
  for (const r of s.log ?? []) {
    const k = r.dropped || r.status === 0 ? "dropped" : String(r.status);
    by[k] = (by[k] ?? 0) + 1;
  }
  const on = faults.filter((f) => isOn(f)).map((f) => f.title);
  table($("server"), [
    ["stored", "events stored", s.events.stored],
    ["duplicates", "duplicates refused", s.events.duplicates],
    ["rejected", "events rejected", s.events.rejected],
    ["requests", "requests", s.requests.total],
    ["byStatus", "answers", Object.entries(by).map(([k, n]) => `${k} × ${n}`).join(", ") || "none yet"],
    ["faults", "faults on", on.join(", ") || "none", on.length ? "warn" : ""],
  ]);
}

function renderTarget() {
  const el = $("target");
  const key = keyOf(protocol);
  const code = (t) => `<code>${t.replace(/[&<>"]/g, (c) => `&#${c.charCodeAt(0)};`)}</code>`;
  const to = edge
    ? `the edge Worker at ${code(edge + PATHS[protocol])}, which stores each event durably and forwards it to the collector at ${code(collector)}`
    : `the collector at ${code(collector + PATHS[protocol])}`;
  let keyNote;
  if (protocol === "v1-batch") {
    keyNote = key === DEFAULT_KEYS["v1-batch"]
      ? "the collector's demo key. The collector prints the keys it accepts when it starts (<code>keys: write uk_live_demo (org demo), …</code>); any other key gets 401 unless it was started with <code>--write-key KEY</code>, then open this page with <code>?key=KEY</code>."
      : `given by <code>?key=</code>; the collector must have been started with ${code(`--write-key ${key}`)} (else every event gets 401).`;
  } else {
    keyNote = key === DEFAULT_KEYS.amplitude
      ? "the collector's default Amplitude api key (<code>--amp-api-key KEY</code> adds one; <code>?ampkey=KEY</code> here)."
      : `given by <code>?ampkey=</code>; the collector must have been started with ${code(`--amp-api-key ${key}`)}.`;
  }
  el.innerHTML = `Sending <b>${PROTOCOLS[protocol]}</b> to ${to}, with ${protocol === "v1-batch" ? "write key" : "api key"} ${code(key)}: ${keyNote}`;
  for (const b of document.querySelectorAll("[data-protocol]")) {
    b.setAttribute("aria-pressed", String(b.dataset.protocol === protocol));
    b.disabled = !!edge && b.dataset.protocol !== "v1-batch";
    b.title = b.disabled ? "the edge Worker takes /v1-batch only" : "";
  }
}

const isOn = (f) => !f.unavailable && !!server.faults && !!server.config && f.active(server.faults, server.config);

function renderFaults() {
  faults = faultsFor(protocol, initialConfig);
  if (edge) {
    $("faults-note").textContent = "This page sends to the edge Worker: these faults hit the edge's forwarding to the collector, and the edge rides them out with its own retries, so this tab's client sees none of them; the collector's panel and the request marks on the chart show them.";
  }
  $("faults").replaceChildren(...faults.map((f) => {
    const card = document.createElement("div");
    card.className = "fault";
    card.dataset.fault = f.id;
    card.innerHTML = `<h3><span></span> <span class="state">off</span></h3><p class="does"></p><p class="watch"></p>
      <div class="buttons"><button data-action="on">make it fail</button><button data-action="off">back to normal</button></div>`;
    card.querySelector("h3 span").textContent = f.title;
    card.querySelector(".does").textContent = f.unavailable ?? `The collector ${f.does}.`;
    card.querySelector(".watch").textContent = f.unavailable ? "" : `Watch: ${f.watch}.`;
    for (const b of card.querySelectorAll("button")) {
      b.disabled = !!f.unavailable;
      b.onclick = () => switchFault(f, b.dataset.action).catch((e) => log("error", `${f.title}: ${e.message}`));
    }
    return card;
  }));
  renderFaultStates();
}

function renderFaultStates() {
  for (const f of faults) {
    const card = document.querySelector(`.fault[data-fault="${f.id}"]`);
    if (!card) continue;
    const on = isOn(f);
    card.classList.toggle("on", on);
    card.querySelector(".state").textContent = f.unavailable ? "n/a" : !server.faults ? "?" : on ? "on" : "off";
  }
}

async function control(method, path, body) {
  const res = await fetch(collector + path, {
    method, headers: body ? { "content-type": "application/json" } : {}, body: body ? JSON.stringify(body) : undefined,
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${text}`);
  return JSON.parse(text);
}

async function switchFault(f, action) {
  const current = await control("GET", "/_faults");
  for (const [path, body] of requestsOf(f, action, current)) await control("POST", path, body);
  chart.mark(Date.now(), action === "on" ? f.title : "back to normal");
  log("fault", action === "on" ? `${f.title}: the collector ${f.does}` : `${f.title}: back to normal`);
  await refreshServer();
}

let refreshing = null;
function refreshServer() {
  refreshing ??= (async () => {
    try {
      const [stats, f, c] = await Promise.all([control("GET", "/_stats"), control("GET", "/_faults"), control("GET", "/_config")]);
      Object.assign(server, { stats, faults: f, config: c, error: null });
      initialConfig ??= c;
      chart.setRequests(stats.log ?? []);
    } catch (e) {
      Object.assign(server, { stats: null, error: e.message });
    } finally {
      refreshing = null;
    }
    renderServer();
    renderFaultStates();
  })();
  return refreshing;
}

function tick() {
  const now = Date.now();
  const s = demo.stats();
  if (client) chart.sample(now, s);
  const seen = demo.seen;
  seen.maxInFlight = Math.max(seen.maxInFlight, s.inFlight);
  const flight = seen.flights.at(-1);
  if (s.inFlight > 0 && (!flight || flight.to)) seen.flights.push({ from: now, to: null, events: s.inFlight });
  else if (s.inFlight > 0) flight.events = Math.max(flight.events, s.inFlight);
  else if (flight && !flight.to) flight.to = now;
  if (seen.flights.length > 100) seen.flights.shift();
  if (s.rateLimitedUntil) seen.rateLimitedUntil = s.rateLimitedUntil;
  if (s.quotaHeldUntil) seen.quotaHeldUntil = s.quotaHeldUntil;
  chart.draw(now);
  renderClient(now);
}

function listen(c) {
  const to = edge ? "the edge (stored durably there)" : "the collector";
  c.on("delivered", (e) => {
    if (c === client) demo.delivered += e.messageIds.length;
    log("delivered", `${e.messageIds.length} events acknowledged by ${to}`);
  });
  c.on("failed", (e) => {
    log("failed", `${e.messageId}: ${e.code} ${e.reason}`);
    if (/\b401\b/.test(e.reason)) log("hint", "401: the collector does not know this key; its startup line `keys: …` lists the ones it accepts (--write-key KEY adds one)");
  });
  c.on("rateLimited", (e) => {
    last.rateLimited = { at: Date.now(), until: e.until };
    demo.seen.rateLimitedUntil = e.until;
    log("rateLimited", `no request before ${hms(e.until)} (${fmtMs(e.until - Date.now())} from now)`);
  });
  c.on("quotaHeld", (e) => {
    last.quotaHeld = { at: Date.now(), until: e.until };
    demo.seen.quotaHeldUntil = e.until;
    log("quotaHeld", `events held until ${new Date(e.until).toISOString()}; probing every ${OPTIONS.quotaProbeMs / 1000} s`);
  });
  c.on("warning", (e) => log("warning", `${e.code} ${e.message}`));
}

async function start(p) {
  const old = client;
  client = null;
  demo.ready = false;
  if (old) {
    log("protocol", `switching to ${PROTOCOLS[p]}: the ${PROTOCOLS[protocol]} client sends what it has queued and stops`);
    await Promise.race([old.shutdown(), sleep(5000)]);
  }
  protocol = p;
  Object.assign(demo, { protocol: p, writeKey: keyOf(p), ids: [], delivered: 0 });
  Object.assign(last, { rateLimited: null, quotaHeld: null });
  const url = new URL(location.href);
  if (p === "v1-batch") url.searchParams.delete("protocol");
  else url.searchParams.set("protocol", p);
  history.replaceState(null, "", url);
  renderTarget();
  renderFaults();
  const c = await lib.createClient({ writeKey: keyOf(p), apiHost: edge ?? collector, protocol: p, ...OPTIONS });
  listen(c);
  client = c;
  if (old) chart.mark(Date.now(), `→ ${PROTOCOLS[p]}`);
  log("client", `${PROTOCOLS[p]} client ready (${Object.entries(OPTIONS).map(([k, v]) => `${k} ${v}`).join(", ")})`);
  demo.ready = true;
}

function track(n) {
  if (!client) return log("wait", "the client is starting; try again in a moment");
  const name = $("name").value;
  for (let i = 0; i < n; i++) {
    demo.ids.push(client.track(name, { index: demo.tracked, plan: "pro", price: 9.99, tags: ["demo"] }, { userId: "demo-user" }));
    demo.tracked += 1;
  }
  log("tracked", `${n} × "${name}" (total ${demo.tracked})`);
}

// The initial state, at once: every panel has its rows before anything loads.
renderTarget();
renderFaults();
renderClient();
renderServer();
chart.draw();
log("page", `loading batchwire; the collector is ${collector}`);
setInterval(tick, 250);
setInterval(refreshServer, 500);
addEventListener("resize", () => chart.draw());

$("track1").onclick = () => track(1);
$("track100").onclick = () => track(100);
$("track250").onclick = () => track(250);
$("flush").onclick = async () => {
  if (!client) return;
  log("flush", "sending everything queued");
  await client.flush();
  log("flush", "done");
};
$("bad").onclick = () => {
  try {
    client?.track("x".repeat(201), {});
  } catch (e) {
    log("rejected", `at track(): ${e.code} ${e.message}`);
  }
};
for (const b of document.querySelectorAll("[data-protocol]")) {
  b.onclick = () => {
    if (b.dataset.protocol !== protocol && client) start(b.dataset.protocol).catch((e) => log("error", e.message));
  };
}

await refreshServer();
renderFaults(); // with the collector's startup limits known
try {
  lib = await import("/pkg/index.js");
  $("version").textContent = `v${await lib.version()}`;
  await start(protocol);
} catch (e) {
  $("version").textContent = "";
  $("target").textContent = `batchwire did not load: ${e.message}`;
  log("error", `batchwire did not load: ${e.message}`);
  throw e;
}

const auto = Number(params.get("auto") ?? 0);
if (auto > 0) {
  track(auto);
  client.identify("demo-user", { plan: "pro" });
  client.page("Demo", { path: location.pathname });
  demo.tracked += 2;
  log("tracked", "identify + page");
  $("bad").onclick();
  await client.flush();
  await refreshServer();
  window.__demo = { tracked: demo.tracked, delivered: demo.delivered, stats: client.stats() };
}
