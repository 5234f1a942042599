// The guides' code runs: every fenced block of docs/guides/*.md whose info string marks it
// (```js run=node, ```js run=browser, ```js run=worker, ```sh run=cli) is run for real against the
// reference collector, and the collector must have stored exactly the events the block says.
//
// The conventions a guide follows (docs/guides/README.md says the same for writers):
// - The collector's address in a block is `http://127.0.0.1:8787` (where `make collector`
//   listens), replaced here by the address of this test's collector (its own, on a free port).
// - Each marked block states what it sends in a line `// expect: N events` (`# expect: N events`
//   in shell): the number of distinct events the collector must have stored once it ran.
// - `faults=<JSON>` in the info string (in single quotes if it holds spaces) is POSTed to the
//   collector's /_faults before the block runs (failures, dropped answers, scripted 429s);
//   `requests=N` (run=worker) is how many requests the Worker gets (default 1).
// - run=node: an ES module in a temp app whose node_modules/batchwire is pkg/, run with node; it
//   must exit 0. run=browser: a module script of a page whose import map maps `batchwire` to
//   /pkg/index.js, in headless Chromium; it must finish without an error. run=worker: the module
//   of a Worker in workerd (Miniflare), `batchwire` resolving to the package's workerd entry,
//   with the binding BATCHWIRE_WRITE_KEY = uk_live_demo. run=cli: a bash script (-euo pipefail)
//   in a temp directory with the backfill CLI on PATH as `batchwire`; it must exit 0.
//
// Needs pkg/ built (python3 scripts/package.py), COLLECTOR_BIN (cargo build -p collector); the CLI
// is BATCHWIRE_CLI, else built here (cargo build -p batchwire-cli, quick when up to date).
// DOCS_GUIDES points at another guides directory (a copy with a block broken on purpose, say).
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { after, before, test } from "node:test";
import { Miniflare } from "miniflare";
import { launchBrowser, ROOT, startWeb, waitFor } from "../e2e/harness.mjs";
import { app, collector, run, workerModules, WRITE_KEY } from "./helpers.mjs";

const GUIDES = process.env.DOCS_GUIDES ?? join(ROOT, "docs/guides");
const PLACEHOLDER = "http://127.0.0.1:8787";
const KINDS = ["node", "browser", "worker", "cli"];

/** Every marked block of every guide: { file, line, lang, kind, attrs, code, expect }. */
function extractBlocks(dir) {
  const blocks = [];
  for (const name of readdirSync(dir).filter((n) => n.endsWith(".md")).sort()) {
    const path = join(dir, name);
    const lines = readFileSync(path, "utf8").split("\n");
    for (let i = 0; i < lines.length; i++) {
      const open = /^(\s*)(`{3,}|~{3,})\s*(\S*)\s*(.*)$/.exec(lines[i]);
      if (!open) continue;
      const fence = open[2];
      let end = i + 1;
      while (end < lines.length && !lines[end].trimStart().startsWith(fence)) end++;
      // key=value or key='value with spaces'
      const attrs = Object.fromEntries([...open[4].matchAll(/([\w-]+)=(?:'([^']*)'|(\S+))/g)]
        .map((m) => [m[1], m[2] ?? m[3]]));
      const code = lines.slice(i + 1, end).join("\n") + "\n";
      if (attrs.run !== undefined) {
        const m = /^\s*(?:\/\/|#)\s*expect:\s*(\d+)\s+events?\s*$/m.exec(code);
        blocks.push({ file: relative(ROOT, path), line: i + 1, lang: open[3], kind: attrs.run, attrs, code,
          expect: m ? Number(m[1]) : undefined });
      }
      i = end;
    }
  }
  return blocks;
}

const blocks = extractBlocks(GUIDES);
let browser, web, cli;
const scratch = mkdtempSync(join(tmpdir(), "batchwire-docs-"));

before(async () => {
  if (blocks.some((b) => b.kind === "browser")) {
    web = await startWeb([["/docs/", scratch]]);
    browser = await launchBrowser();
  }
  if (blocks.some((b) => b.kind === "cli")) cli = cliBinary();
});
after(async () => {
  await browser?.close();
  await web?.close();
  rmSync(scratch, { recursive: true, force: true });
});

function cliBinary() {
  if (process.env.BATCHWIRE_CLI) return process.env.BATCHWIRE_CLI;
  const r = spawnSync("cargo", ["build", "-q", "-p", "batchwire-cli"], { cwd: ROOT, encoding: "utf8" });
  if (r.status !== 0) throw new Error(`cargo build -p batchwire-cli failed:\n${r.error?.message ?? r.stderr}`);
  return join(ROOT, "target/debug/batchwire");
}

const RUNNERS = {
  async node(t, code) {
    const r = await run(app(t).dir, code).done;
    assert.equal(r.code, 0, `node exited ${r.code ?? r.signal}:\n${r.stderr}${r.stdout}`);
    return r.stdout;
  },

  async browser(t, code) {
    const n = Math.random().toString(36).slice(2);
    writeFileSync(join(scratch, `block-${n}.js`), code);
    writeFileSync(join(scratch, `page-${n}.html`), `<!doctype html><meta charset="utf-8">
<script type="importmap">{"imports":{"batchwire":"/pkg/index.js"}}</script>
<script type="module">
try { await import("./block-${n}.js"); window.docsDone = "ok"; }
catch (e) { window.docsDone = "error: " + (e && e.stack || e); }
</script>`);
    const context = await browser.newContext();
    t.after(() => context.close());
    const page = await context.newPage();
    const logs = [];
    page.on("console", (m) => logs.push(`[console.${m.type()}] ${m.text()}`));
    page.on("pageerror", (e) => logs.push(`[pageerror] ${e.message}`));
    await page.goto(`${web.url}/docs/page-${n}.html`);
    const done = await page.waitForFunction(() => window.docsDone, null, { timeout: 30_000 }).then((h) => h.jsonValue());
    assert.equal(done, "ok", logs.join("\n"));
    assert.deepEqual(logs.filter((l) => l.startsWith("[pageerror]")), []);
    return logs.join("\n");
  },

  async worker(t, code, c, b) {
    const mf = new Miniflare({
      modulesRoot: "/",
      modules: workerModules(code),
      compatibilityDate: "2026-01-01",
      bindings: { BATCHWIRE_WRITE_KEY: WRITE_KEY },
    });
    t.after(() => mf.dispose());
    const bodies = [];
    for (let i = 0; i < Number(b.attrs.requests ?? 1); i++) {
      const r = await mf.dispatchFetch(`http://worker/?request=${i}`);
      const text = await r.text();
      assert.equal(r.status, 200, `request ${i}: ${r.status} ${text.slice(0, 500)}`);
      bodies.push(text);
    }
    return bodies.join("\n");
  },

  async cli(t, code) {
    const dir = mkdtempSync(join(tmpdir(), "batchwire-docs-cli-"));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    symlinkSync(cli, join(dir, "batchwire"));
    writeFileSync(join(dir, "block.sh"), code);
    const proc = spawn("bash", ["-euo", "pipefail", "block.sh"], {
      cwd: dir, env: { ...process.env, PATH: `${dir}:${process.env.PATH}` }, stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    proc.stdout.setEncoding("utf8").on("data", (d) => (out += d));
    proc.stderr.setEncoding("utf8").on("data", (d) => (out += d));
    const killer = setTimeout(() => proc.kill("SIGKILL"), 30_000);
    const status = await new Promise((ok) => proc.once("exit", (code, signal) => ok(code ?? signal)));
    clearTimeout(killer);
    assert.equal(status, 0, `the script exited ${status}:\n${out}`);
    return out;
  },
};

test("the guides have runnable blocks, each with an expectation and a known kind", () => {
  assert.ok(blocks.length > 0, `no marked block in ${GUIDES}`);
  for (const b of blocks) {
    assert.ok(KINDS.includes(b.kind), `${b.file}:${b.line}: run=${b.kind} is not one of ${KINDS}`);
    assert.ok(b.expect !== undefined, `${b.file}:${b.line}: no "expect: N events" line`);
    assert.ok(b.code.includes(PLACEHOLDER),
      `${b.file}:${b.line}: the block does not name the collector (${PLACEHOLDER})`);
  }
});

for (const b of blocks) {
  test(`${b.file}:${b.line} (run=${b.kind}) stores ${b.expect} events`, { timeout: 45_000 }, async (t) => {
    try {
      const c = await collector(t);
      if (b.attrs.faults) await c.faults(JSON.parse(b.attrs.faults));
      const code = b.code.replaceAll(PLACEHOLDER, c.url);
      const output = await RUNNERS[b.kind]?.(t, code, c, b);
      if (output?.trim()) t.diagnostic(output.trim());
      // Stored events are de-duplicated by messageId: N distinct events, no more, no fewer.
      let events = [];
      await waitFor(async () => (events = await c.events()).length >= b.expect,
        { timeout: 15_000, what: () => `${b.expect} events stored (${events.length} so far)\n${output ?? ""}` });
      assert.equal(events.length, b.expect, `stored ${events.length} events, the block expects ${b.expect}`);
    } catch (e) {
      e.message = `${b.file}:${b.line} (run=${b.kind}): ${e.message}`;
      throw e;
    }
  });
}
