// What a request and a worker's start cost the page's main thread in headless Chromium, through
// the raw DevTools protocol (no Playwright attached, which adds work of its own to every worker and
// request): Chromium's TaskDuration over each step of a page, after 300 ms of quiet before and
// after. The steps: nothing (the evaluation's own cost), a POST of one event to the collector with
// its answer read (the first of the page, then a second), and a blob-URL worker started and heard
// from (twice); then the same with the workers first. Three pages each. src/web/js/net.js decides
// from these when a page starts its request worker.
// usage: COLLECTOR_BIN=target/release/collector node bench/worker-start.mjs
import { spawn } from "node:child_process";
import WebSocket from "ws";
import { startCollector, startWeb } from "../tests/e2e/harness.mjs";

const collector = await startCollector();
const web = await startWeb();
const chrome = spawn("/usr/bin/chromium", ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
  "--disable-component-update", "--disable-sync", "--no-first-run", "--remote-debugging-port=0", "about:blank"],
{ stdio: ["ignore", "ignore", "pipe"] });
try {
  const wsUrl = await new Promise((ok, fail) => {
    let seen = "";
    const t = setTimeout(() => fail(new Error(`chromium did not start: ${seen}`)), 15_000);
    chrome.stderr.on("data", (d) => {
      seen += d;
      const m = /DevTools listening on (ws:\/\/\S+)/.exec(seen);
      if (m) clearTimeout(t), ok(m[1]);
    });
  });
  const targets = await (await fetch(`http://127.0.0.1:${new URL(wsUrl).port}/json`)).json();
  const ws = new WebSocket(targets.find((t) => t.type === "page").webSocketDebuggerUrl);
  await new Promise((ok) => ws.once("open", ok));
  let n = 0;
  const pending = new Map();
  ws.on("message", (m) => {
    const x = JSON.parse(m);
    if (pending.has(x.id)) pending.get(x.id)(x.result), pending.delete(x.id);
  });
  const send = (method, params = {}) => new Promise((ok) => { pending.set(++n, ok); ws.send(JSON.stringify({ id: n, method, params })); });
  const sleep = (ms) => new Promise((ok) => setTimeout(ok, ms));
  const busy = async () => (await send("Performance.getMetrics")).metrics.find((m) => m.name === "TaskDuration").value * 1000;
  const STEPS = {
    nothing: "0",
    request: `fetch(${JSON.stringify(collector.url + "/v1/batch")}, { method: "POST", headers: { "content-type": "application/json",
      authorization: "Basic " + btoa("uk_live_demo:") }, body: new TextEncoder().encode(JSON.stringify({ batch: [{ type: "track",
      event: "x", messageId: crypto.randomUUID(), anonymousId: "a", timestamp: new Date().toISOString() }] })) }).then((r) => r.text())`,
    worker: `new Promise((ok) => { const w = new Worker(URL.createObjectURL(new Blob(["postMessage(0)"]))); w.onmessage = ok;
      (window.kept ??= []).push(w); })`,
  };
  await send("Performance.enable");
  const seen = {};
  for (const order of [["nothing", "request", "request", "worker", "worker"], ["nothing", "worker", "worker", "request", "request"]]) {
    for (let page = 0; page < 3; page++) {
      await send("Page.navigate", { url: web.url + "/e2e/index.html" });
      await sleep(1500);
      const counts = {};
      for (const step of order) {
        await sleep(300);
        const before = await busy();
        await send("Runtime.evaluate", { expression: `(async () => { await ${STEPS[step]}; return 0; })()`, awaitPromise: true });
        await sleep(300);
        const k = `${step} ${(counts[step] = (counts[step] ?? 0) + 1) === 1 ? "(first)" : "(second)"}${step !== "nothing" ? `, ${order[1]}s first` : ""}`;
        (seen[k] ??= []).push((await busy()) - before);
      }
    }
  }
  for (const [k, v] of Object.entries(seen)) {
    const s = v.sort((a, b) => a - b);
    console.log(`${k.padEnd(34)} ${s[Math.floor(s.length / 2)].toFixed(2)} ms of main thread (median; ${s.map((x) => x.toFixed(2)).join(", ")})`);
  }
} finally {
  chrome.kill();
  await collector.stop();
  await web.close();
}
