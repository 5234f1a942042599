// The demo page: tracks events with batchwire against the local collector and shows the queue.
// Query parameters: collector=<url> (default http://127.0.0.1:8787), edge=<url> (the page sends to
// the edge Worker, which stores each event durably and forwards it to the collector), auto=<n>
// tracks n events at load and flushes, then sets window.__demo for the headless run of `make demo`.
import { createClient, version } from "/pkg/index.js";

const params = new URLSearchParams(location.search);
const collector = params.get("collector") ?? "http://127.0.0.1:8787";
const apiHost = params.get("edge") ?? collector;
const $ = (id) => document.getElementById(id);
const log = (kind, text) => {
  const li = document.createElement("li");
  li.className = kind;
  li.textContent = `${new Date().toISOString().slice(11, 23)} ${kind}: ${text}`;
  $("log").prepend(li);
  console.log(`[demo] ${kind}: ${text}`);
};
const table = (el, obj) => {
  el.tBodies[0].replaceChildren(...Object.entries(obj).map(([k, v]) => {
    const tr = document.createElement("tr");
    tr.innerHTML = "<td></td><td></td>";
    tr.cells[0].textContent = k;
    tr.cells[1].textContent = typeof v === "number" && v > 1e12 ? new Date(v).toISOString() : String(v ?? "–");
    return tr;
  }));
};

$("collector").textContent = apiHost === collector ? collector : `${apiHost} (the edge Worker, forwarding to ${collector})`;
$("version").textContent = `v${await version()}`;

const client = await createClient({ writeKey: "uk_live_demo", apiHost, flushIntervalMs: 2000 });
let tracked = 0;
let delivered = 0;
client.on("delivered", (e) => { delivered += e.messageIds.length; log("delivered", `${e.messageIds.length} events acknowledged by the ${apiHost === collector ? "collector" : "edge (stored durably there)"}`); });
client.on("failed", (e) => log("failed", `${e.messageId}: ${e.code} ${e.reason}`));
client.on("rateLimited", (e) => log("rateLimited", `paused until ${new Date(e.until).toISOString()}`));
client.on("quotaHeld", (e) => log("quotaHeld", `held until ${new Date(e.until).toISOString()}`));
client.on("warning", (e) => log("warning", `${e.code} ${e.message}`));

function track(n) {
  const name = $("name").value;
  for (let i = 0; i < n; i++) {
    client.track(name, { index: tracked, plan: "pro", price: 9.99, tags: ["demo"] }, { userId: "demo-user" });
    tracked += 1;
  }
  log("tracked", `${n} × "${name}" (total ${tracked})`);
}

async function refresh() {
  table($("stats"), client.stats());
  try {
    const s = await (await fetch(`${collector}/_stats?log=false`)).json();
    table($("server"), { "events stored": s.events.stored, "duplicates refused": s.events.duplicates, rejected: s.events.rejected, requests: s.requests.total, "by status": JSON.stringify(s.requests.by_status) });
  } catch (e) {
    table($("server"), { status: `unreachable (${e.message})` });
  }
}

$("track1").onclick = () => track(1);
$("track100").onclick = () => track(100);
$("track250").onclick = () => track(250);
$("flush").onclick = async () => { log("flush", "sending everything queued"); await client.flush(); log("flush", "done"); };
$("bad").onclick = () => {
  try {
    client.track("x".repeat(201), {});
  } catch (e) {
    log("rejected", `at track(): ${e.code} ${e.message}`);
  }
};
setInterval(refresh, 500);

const auto = Number(params.get("auto") ?? 0);
if (auto > 0) {
  track(auto);
  client.identify("demo-user", { plan: "pro" });
  client.page("Demo", { path: location.pathname });
  tracked += 2;
  log("tracked", "identify + page");
  $("bad").onclick();
  await client.flush();
  await refresh();
  window.__demo = { tracked, delivered, stats: client.stats() };
}
