// The package has two wasm modules for browsers: web/batchwire_bg.wasm (/v1-batch only, the smaller) and
// web/batchwire_all_bg.wasm (every protocol). A page fetches the one its first client's protocol
// needs, and the other only when a client needs it; clients of both live side by side, each
// delivering to its own endpoint.
import test from "node:test";
import assert from "node:assert/strict";
import { assertExactlyOnce, setup, waitFor, waitForIds } from "./harness.mjs";

const BATCH_KEY = "amp_e2e_batch";

/** The wasm files the page requested, by file name, in order. */
function wasmRequests(page) {
  const seen = [];
  page.on("request", (r) => {
    const m = /\/([^/]+\.wasm)$/.exec(new URL(r.url()).pathname);
    if (m) seen.push(m[1]);
  });
  return seen;
}

/** Waits until every insert_id in `ids` is stored at the collector under `path`; returns them. */
async function waitForInsertIds(env, path, ids) {
  let events = [];
  await waitFor(async () => {
    events = (await env.collector.events()).filter((e) => e._path === path);
    const have = new Set(events.map((e) => e.insert_id));
    return ids.every((id) => have.has(id));
  }, { timeout: 30_000, what: () => `${ids.length} insert_ids at ${path} (${events.length} stored)\n${env.diagnostics()}` });
  return events;
}

test("an Amplitude client loads the module with every protocol and delivers to /2/httpapi", { timeout: 60_000 }, async (t) => {
  const env = await setup(t);
  const page = await env.open();
  const wasm = wasmRequests(page);
  await page.evaluate((o) => make(o), env.options({ protocol: "amplitude-http-v2", writeKey: "amp_demo_key" }));
  const ids = await page.evaluate(() => trackMany(5, "Amplitude Event", {}, 0));
  await page.evaluate(() => client.flush());
  const events = await waitForInsertIds(env, "/2/httpapi", ids);
  assert.equal(events.length, 5);
  assert.ok(events.every((e) => e.event_type === "Amplitude Event"));
  assert.deepEqual(wasm, ["batchwire_all_bg.wasm"]);
  assert.equal(await page.evaluate(() => window.notes.failed.count), 0);
});

test("/v1-batch and Amplitude clients on one page: each module fetched once, as needed", { timeout: 60_000 }, async (t) => {
  const env = await setup(t, { collectorArgs: ["--amp-api-key", BATCH_KEY] });
  const page = await env.open();
  const wasm = wasmRequests(page);
  await page.evaluate((o) => make(o), env.options());
  const v1 = await page.evaluate(() => trackMany(4, "V1 Event"));
  await page.evaluate(() => client.flush());
  assertExactlyOnce(assert, await waitForIds(env, v1), v1);
  assert.deepEqual(wasm, ["batchwire_bg.wasm"], "a /v1-batch page fetched more than its module");

  // Two Amplitude clients (two keys: a key is one queue): the module with every protocol is
  // fetched once; then the first client, in the first instance, still delivers.
  const [v2, batch] = await page.evaluate(async ([o, key]) => {
    const track = async (options, name) => {
      const c = await window.bw.createClient(options);
      const ids = [0, 1, 2].map((i) => c.track(name, { i }));
      await c.flush();
      return ids;
    };
    return [
      await track({ ...o, protocol: "amplitude-http-v2", writeKey: "amp_demo_key" }, "Http V2 Event"),
      await track({ ...o, protocol: "amplitude-batch", writeKey: key }, "Batch Event"),
    ];
  }, [env.options({ storage: "memory" }), BATCH_KEY]);
  const again = await page.evaluate(() => trackMany(2, "V1 Again", {}, 10));
  await page.evaluate(() => client.flush());
  assert.equal((await waitForInsertIds(env, "/2/httpapi", v2)).length, 3);
  assert.equal((await waitForInsertIds(env, "/batch", batch)).length, 3);
  assertExactlyOnce(assert, await waitForIds(env, [...v1, ...again]), [...v1, ...again]);
  assert.deepEqual(wasm, ["batchwire_bg.wasm", "batchwire_all_bg.wasm"]);
});
