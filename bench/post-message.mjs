// What handing a request to the worker costs the page (src/web/js/net.js: request), in headless
// Chromium: postMessage of [url, headers, an 83,000-byte body, keepalive, timeout] to a dedicated
// worker, with a MessageChannel per request or a request number, the body copied or its buffer
// transferred. Milliseconds per call, medians of 5 rounds of 200 calls each.
// usage: node bench/post-message.mjs
import { launchBrowser } from "../tests/e2e/harness.mjs";

const browser = await launchBrowser();
const page = await browser.newPage();
await page.goto("data:text/html,<title>post-message</title>");
const rounds = await page.evaluate(async () => {
  const w = new Worker(URL.createObjectURL(new Blob(["onmessage=()=>{}"])));
  const a = () => ["http://127.0.0.1/v1/batch", { "content-type": "application/json" }, new Uint8Array(83_000), false, 10_000];
  const ways = {
    "MessageChannel, body copied": (x) => { const c = new MessageChannel(); c.port1.onmessage = () => {}; w.postMessage(x, [c.port2]); },
    "MessageChannel, body transferred": (x) => { const c = new MessageChannel(); c.port1.onmessage = () => {}; w.postMessage(x, [c.port2, x[2].buffer]); },
    "request number, body copied": (x, i) => w.postMessage([i, x]),
    "request number, body transferred": (x, i) => w.postMessage([i, x], [x[2].buffer]),
  };
  const out = [];
  for (let r = 0; r < 5; r++) {
    const round = {};
    for (const [name, post] of Object.entries(ways)) {
      const t = performance.now();
      for (let i = 0; i < 200; i++) post(a(), i);
      round[name] = (performance.now() - t) / 200;
      await new Promise((ok) => setTimeout(ok, 100)); // the worker drains its queue
    }
    out.push(round);
  }
  return out;
});
await browser.close();
for (const name of Object.keys(rounds[0])) {
  const v = rounds.map((r) => r[name]).sort((x, y) => x - y);
  console.log(`${name.padEnd(34)} ${v[2].toFixed(3)} ms per request (median of 5 rounds; ${v.map((x) => x.toFixed(3)).join(", ")})`);
}
