// The package by its name in Node: `import "batchwire"` resolves to the `node` condition's entry,
// which reads the wasm from disk (Node's fetch refuses file: URLs: the browser entry alone fails
// with E_LOAD), and a client delivers to the collector.
import test from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { ROOT } from "../e2e/harness.mjs";
import { AMP_KEY, app, collector, run, waitStored, WRITE_KEY } from "./helpers.mjs";

test("import \"batchwire\" resolves to the Node entry, loads the wasm from disk and delivers", { timeout: 60_000 }, async (t) => {
  const c = await collector(t);
  const a = app(t);
  const child = run(a.dir, 'console.log(import.meta.resolve("batchwire"));\n');
  const r = await child.done;
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout.trim(), /\/node\.js$/, "the node export condition");

  const { createClient, version } = await a.load();
  assert.equal(await version(), JSON.parse(readFileSync(join(ROOT, "pkg/package.json"), "utf8")).version);
  const client = await createClient({ writeKey: WRITE_KEY, apiHost: c.url });
  const failed = [];
  client.on("failed", (f) => failed.push(f));
  const ids = [
    client.track("Order Completed", { total: 49.99 }, { userId: "user-1" }),
    client.page("Checkout", { path: "/checkout" }, { anonymousId: "device-1" }),
  ];
  await client.flush();
  const events = await waitStored(c, ids);
  assert.deepEqual(events.map((e) => e.event ?? e.name).sort(), ["Checkout", "Order Completed"]);
  assert.deepEqual(failed, []);
  assert.equal(client.stats().delivered, 2);
  await client.closeAndFlush({ timeoutMs: 5000 });
  assert.throws(() => client.track("Late", {}, { userId: "user-1" }), { code: "E_SHUTDOWN" });
});

test("every protocol loads in Node from the one server module", { timeout: 60_000 }, async (t) => {
  const c = await collector(t);
  const { createClient } = await app(t).load();
  for (const protocol of ["amplitude-http-v2", "amplitude-batch"]) {
    const client = await createClient({ writeKey: AMP_KEY, apiHost: c.url, protocol });
    const id = client.track("Signed Up", {}, { userId: `user-${protocol}` });
    await client.closeAndFlush({ timeoutMs: 5000 });
    assert.equal((await waitStored(c, [id])).length, 1, protocol);
  }
});
