// Helpers of the Node suites: the built package (pkg/) installed by its name in a temp directory,
// so that `import "batchwire"` resolves through package.json's `node` export condition exactly as
// in an application, and child Node processes that run a script there. The collector helpers are
// the end-to-end harness's (tests/e2e/harness.mjs).
import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { ROOT, startCollector, waitFor } from "../e2e/harness.mjs";

export { startCollector, waitFor };
export { WRITE_KEY } from "../e2e/harness.mjs";
export { AMP_KEY } from "../e2e/amplitude.mjs";

// The package under test: pkg/, or BATCHWIRE_PKG (a copy, e.g. with a mutation in it).
const PKG = process.env.BATCHWIRE_PKG ?? join(ROOT, "pkg");

/** Miniflare's modules for a Worker whose module `app` imports "batchwire": the package as a
 * bundler resolves it under the workerd condition (its entry as /batchwire, with the files it
 * imports beside it: index.js, extras.js and the compiled wasm module). */
export function workerModules(app) {
  const file = (f) => readFileSync(join(PKG, f));
  const entry = JSON.parse(file("package.json")).exports["."].workerd;
  return [
    { type: "ESModule", path: "/app.mjs", contents: app },
    { type: "ESModule", path: "/batchwire", contents: file(entry) },
    { type: "ESModule", path: "/index.js", contents: file("index.js") },
    { type: "ESModule", path: "/extras.js", contents: file("extras.js") },
    { type: "CompiledWasm", path: "/web/batchwire_all_bg.wasm", contents: file("web/batchwire_all_bg.wasm") },
  ];
}

/** A temp directory whose node_modules/batchwire is the package; removed after the test. */
export function app(t) {
  const dir = mkdtempSync(join(tmpdir(), "batchwire-node-"));
  mkdirSync(join(dir, "node_modules"));
  symlinkSync(PKG, join(dir, "node_modules", "batchwire"), "dir");
  writeFileSync(join(dir, "package.json"), JSON.stringify({ name: "app", private: true, type: "module" }));
  // The test imports the package through this file, from inside the app directory.
  writeFileSync(join(dir, "entry.mjs"), 'export * from "batchwire";\n');
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return { dir, load: () => import(pathToFileURL(join(dir, "entry.mjs")).href) };
}

/** The collector (its own process, on a free port) for one test; stopped after it. */
export async function collector(t, args = []) {
  const c = await startCollector(args);
  t.after(() => c.stop());
  return c;
}

/** Runs `source` as an ES module in `dir` with `node`; resolves to { code, signal, stdout,
 * stderr, ms }. `child.ready` resolves once the script printed "ready". Killed after `killAfter`. */
export function run(dir, source, { env = {}, killAfter = 30_000 } = {}) {
  const file = join(dir, `child-${Math.random().toString(36).slice(2)}.mjs`);
  writeFileSync(file, source);
  const start = Date.now();
  const child = spawn(process.execPath, [file], { cwd: dir, env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "", stderr = "";
  let ready;
  child.ready = new Promise((r) => (ready = r));
  child.stdout.setEncoding("utf8").on("data", (d) => {
    stdout += d;
    if (/^ready$/m.test(stdout)) ready();
  });
  child.stderr.setEncoding("utf8").on("data", (d) => (stderr += d));
  const killer = setTimeout(() => child.kill("SIGKILL"), killAfter);
  child.done = new Promise((ok) =>
    child.once("exit", (code, signal) => {
      clearTimeout(killer);
      ok({ code, signal, stdout, stderr, ms: Date.now() - start });
    }));
  return child;
}

/** The stored events of the collector whose messageId (or insert_id) is in `ids`. */
export async function stored(c, ids) {
  const want = new Set(ids);
  return (await c.events()).filter((e) => want.has(e.messageId ?? e.insert_id));
}

/** Waits until every id of `ids` is stored; returns those events. */
export async function waitStored(c, ids, timeout = 20_000) {
  let got = [];
  await waitFor(async () => (got = await stored(c, ids)).length >= ids.length,
    { timeout, what: () => `${ids.length} events stored (${got.length} so far)` });
  return got;
}
