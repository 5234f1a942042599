// Loading the wasm module: a download that fails is an E_LOAD BatchwireError naming the cause,
// never a hang or a half-made client, and a later createClient tries again and works.
import test from "node:test";
import assert from "node:assert/strict";
import { assertExactlyOnce, setup, waitForIds } from "./harness.mjs";

test("a failed wasm download is E_LOAD, and the next createClient loads it", { timeout: 60_000 }, async (t) => {
  const env = await setup(t);
  const page = await env.open();
  let asked = 0;
  await page.route("**/batchwire_bg.wasm", (route) => {
    asked++;
    return route.fulfill({ status: 404, body: "gone" });
  });
  const failed = await page.evaluate(async (o) => {
    try {
      await window.bw.createClient(o);
      return "created";
    } catch (e) {
      return [e instanceof window.bw.BatchwireError, e.code, e.message];
    }
  }, env.options());
  assert.equal(asked, 1);
  assert.equal(failed[0], true, `not a BatchwireError: ${failed}`);
  assert.equal(failed[1], "E_LOAD");
  assert.match(failed[2], /^the batchwire wasm module did not load: HTTP 404 for http:\/\/127\.0\.0\.1:\d+\/pkg\/web\/batchwire_bg\.wasm$/);

  await page.unroute("**/batchwire_bg.wasm");
  await page.evaluate((o) => make(o), env.options());
  const ids = await page.evaluate(() => trackMany(3, "After Load Retry"));
  await page.evaluate(() => client.flush());
  assertExactlyOnce(assert, await waitForIds(env, ids), ids);
  assert.match(await page.evaluate(() => window.bw.version()), /^\d+\.\d+\.\d+$/);
});
