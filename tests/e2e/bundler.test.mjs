// The package works through a bundler: tests/vite-app imports `batchwire` by name, `vite build`
// bundles it (both wasm modules emitted as assets), and the built app delivers its events to the collector.
import test from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { assertExactlyOnce, ROOT, setup, waitForIds } from "./harness.mjs";

test("a Vite-built app that imports batchwire delivers its events", { timeout: 120_000 }, async (t) => {
  const { build } = await import("vite");
  const outDir = await mkdtemp(join(tmpdir(), "batchwire-vite-"));
  t.after(() => rm(outDir, { recursive: true, force: true }));
  await build({
    configFile: join(ROOT, "tests/vite-app/vite.config.mjs"),
    build: { outDir },
    logLevel: "error",
  });
  const assets = await readdir(join(outDir, "assets"));
  // Both modules: the entry picks one by protocol at run time.
  for (const name of ["batchwire_bg", "batchwire_all_bg"]) {
    assert.ok(assets.some((f) => f.startsWith(`${name}-`) && f.endsWith(".wasm")), `no ${name} asset emitted: ${assets}`);
  }

  const env = await setup(t, { extraMounts: [["/vite/", outDir]] });
  const page = await env.open(`/vite/index.html?apiHost=${encodeURIComponent(env.apiHost)}&n=25`, {
    readyExpr: "window.trackedIds !== undefined || window.appError !== undefined",
  });
  const error = await page.evaluate(() => window.appError);
  assert.equal(error, undefined, `the bundled app failed: ${error}`);
  const ids = await page.evaluate(() => window.trackedIds);
  assert.equal(ids.length, 25);
  const events = await waitForIds(env, ids);
  assertExactlyOnce(assert, events, ids);
  assert.ok(events.every((e) => e.event === "Vite App Event"));
});
