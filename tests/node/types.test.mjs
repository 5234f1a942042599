// The package's types (pkg-template/index.d.ts and node.d.ts, copied into pkg/ as they are):
// they compile strictly as an application uses them (tests/types/usage.ts); a misspelt code does
// not (tests/types/misspelt.ts); the listener and error code unions are exactly the codes the
// sources emit, so a new code without its type fails here; every option the sources read is typed
// and documented.
import test from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { join, relative, sep } from "node:path";
import { OPTIONS } from "../../src/web/js/abi.js";

// The repository (no need for the e2e harness, and the browser it loads, here).
const ROOT = fileURLToPath(new URL("../..", import.meta.url));

const TSC = join(ROOT, "node_modules/.bin/tsc");
const read = (p) => readFileSync(join(ROOT, p), "utf8");

/** Runs tsc on a project of tests/types; resolves to { status, diagnostics: [{ file, line, col, code, text }] }. */
function tsc(project) {
  const r = spawnSync(TSC, ["-p", join(ROOT, "tests/types", project), "--pretty", "false"], {
    cwd: ROOT,
    encoding: "utf8",
    timeout: 120_000,
  });
  assert.equal(r.error, undefined, `tsc did not run (npm install typescript): ${r.error}`);
  const out = r.stdout + r.stderr;
  const diagnostics = [...out.matchAll(/^(.+?)\((\d+),(\d+)\): error (TS\d+): (.*)$/gm)].map((m) => ({
    file: m[1],
    line: +m[2],
    col: +m[3],
    code: m[4],
    text: m[5],
  }));
  return { status: r.status, out, diagnostics };
}

test("tests/types/usage.ts: every option, listener and code of both entries compiles strictly", { timeout: 120_000 }, () => {
  const r = tsc("tsconfig.json");
  assert.equal(r.status, 0, r.out);
  assert.equal(r.out.trim(), "");
});

test("tests/types/misspelt.ts: a misspelt code fails to compile, at the misspelt code", { timeout: 120_000 }, () => {
  const lines = read("tests/types/misspelt.ts").split("\n");
  // 1-based line number -> the misspelt code compared on it.
  const marked = new Map();
  lines.forEach((l, i) => {
    if (l.includes("// MISSPELT")) marked.set(i + 1, l.match(/=== "([EW]_[A-Z_]+)"/)[1]);
  });
  assert.ok(marked.size >= 3, "misspelt.ts marks its misspellings");
  const r = tsc("tsconfig.misspelt.json");
  assert.notEqual(r.status, 0, `misspelt.ts compiled:\n${r.out}`);
  assert.equal(r.diagnostics.length, marked.size, r.out);
  for (const d of r.diagnostics) {
    assert.match(d.file, /tests[\\/]types[\\/]misspelt\.ts$/, r.out);
    const code = marked.get(d.line);
    assert.ok(code, `an error on line ${d.line}, which is not a marked misspelling: ${d.text}`);
    // TS2367: the comparison of a code union with a literal outside it.
    assert.equal(d.code, "TS2367", d.text);
    assert.ok(d.text.includes(`"${code}"`), `the error names ${code}: ${d.text}`);
    // The column (1-based) is in the comparison `x.code === "..."`, inside the `if (...)`.
    const line = lines[d.line - 1];
    const from = line.indexOf("if (") + 5, to = line.indexOf(`"${code}"`) + 1;
    assert.ok(d.col >= from && d.col <= to, `column ${d.col} of "${line.trim()}" is the comparison`);
  }
});

// The package's sources: the Rust crate (its tests left out) and the JavaScript of every entry.
function sources() {
  const files = [];
  const walk = (dir) => {
    for (const e of readdirSync(join(ROOT, dir), { withFileTypes: true })) {
      const p = join(dir, e.name);
      if (e.isDirectory()) {
        if (e.name !== "tests") walk(p);
      } else if (/\.(rs|js)$/.test(e.name) && e.name !== "tests.rs") {
        files.push(p);
      }
    }
  };
  walk("src");
  walk("pkg-template");
  return files.map((p) => {
    let text = read(p);
    if (p.endsWith(".rs")) {
      // An inline `#[cfg(test)] mod x { ... }`: rustfmt closes it with the first `}` at column 0.
      text = text.replace(/^#\[cfg\(test\)\]\nmod \w+ \{\n[\s\S]*?^\}$/gm, "");
    }
    // Comments name codes too (`E_SHUTDOWN` in a doc comment); only code emits them. But for a
    // `// failed: "E_X", ...` line in JavaScript: it lists the codes the next lines report
    // through `failed` from a value the scan cannot follow (a refusal of the wasm's).
    text = text.split("\n").filter((l) => /^\s*\/\/ failed: /.test(l) || !/^\s*(\/\/|\/\*|\*)/.test(l)).join("\n");
    return { path: relative(ROOT, p).split(sep).join("/"), text };
  });
}

/** The quoted codes in `text`: "..." in Rust, "..." or '...' in JavaScript. */
const literals = (path, text) =>
  [...text.matchAll(path.endsWith(".rs") ? /"([EW]_[A-Z][A-Z0-9_]*)"/g : /["']([EW]_[A-Z][A-Z0-9_]*)["']/g)].map((m) => m[1]);

/** The string literals of `export type name = ...;` in a d.ts (comments left out). */
function union(dts, name) {
  const m = read(dts).replace(/\/\*[\s\S]*?\*\//g, "").match(new RegExp(`^export type ${name} =([^;]*);`, "m"));
  assert.ok(m, `${dts} declares ${name}`);
  return [...m[1].matchAll(/"([^"]+)"/g)].map((x) => x[1]).sort();
}

const sorted = (xs) => [...new Set(xs)].sort();

test("the code unions of index.d.ts are exactly the codes the sources emit, each in the README", () => {
  const failure = [], warning = [], thrown = [];
  for (const { path, text } of sources()) {
    let rest = text;
    if (path === "src/core/report.rs") {
      // FailReason::code: what the `failed` listener hears. Every other E_ code is thrown.
      const m = text.match(/impl FailReason \{\n(?:\s*\/\/\/.*\n)*\s*pub fn code\(&self\)[\s\S]*?\n {4}\}\n/);
      assert.ok(m, "src/core/report.rs has FailReason::code");
      failure.push(...literals(path, m[0]));
      rest = text.replace(m[0], "");
    }
    // A JavaScript line that reports to the `failed` listener (`EVENTS.indexOf("failed")` or the
    // FAILED constant made of it, as beforeSend's error does; extras.js's `failed([...])`), or a
    // `// failed:` list, emits
    // failure codes; any other E_ code is thrown.
    for (const line of rest.split("\n")) {
      const reported = path.endsWith(".js") && /indexOf\("failed"\)|#note\(FAILED|\bfailed\(\[|^\s*\/\/ failed: /.test(line);
      for (const code of literals(path, line)) (code.startsWith("W_") ? warning : reported ? failure : thrown).push(code);
    }
  }
  // The scan itself: codes known to be emitted where it looks.
  for (const [list, code] of [[failure, "E_HTTP"], [failure, "E_SHUTDOWN"], [warning, "W_STORAGE"],
    [warning, "W_IDENTITY_PAUSED"], [warning, "W_USER_PROPERTY_LIMIT"], [thrown, "E_GLOBAL_SCOPE"], [thrown, "E_QUEUE_FULL"], [failure, "E_BEFORE_SEND"],
    [failure, "E_QUEUE_FULL"], [failure, "E_EVICTED"]]) {
    assert.ok(list.includes(code), `the source scan finds ${code}`);
  }
  const readme = read("pkg-template/README.md");
  for (const [name, emitted, what] of [["FailureCode", failure, "`failed` listener"], ["WarningCode", warning, "`warning` listener"],
    ["ErrorCode", thrown, "BatchwireError"]]) {
    const typed = union("pkg-template/index.d.ts", name);
    const missing = sorted(emitted).filter((c) => !typed.includes(c));
    assert.deepEqual(missing, [], `${what} codes the sources emit but index.d.ts's ${name} lacks`);
    const stale = typed.filter((c) => !emitted.includes(c));
    assert.deepEqual(stale, [], `index.d.ts's ${name} has codes the sources never emit`);
    for (const c of typed) assert.ok(readme.includes(`\`${c}\``), `pkg-template/README.md documents ${c}`);
  }
  // The listener payloads use the unions, not string.
  const dts = read("pkg-template/index.d.ts");
  assert.match(dts, /failed: \{ messageId: string; code: FailureCode; reason: string \}/);
  assert.match(dts, /warning: \{ code: WarningCode; message: string; messageId\?: string \}/);
  assert.match(dts, /readonly code: ErrorCode;/);
});

/** The properties of `export interface name ... { ... }` in a d.ts, and whether each has a doc
 * comment of its own right above it. */
function members(dts, name) {
  const m = read(dts).match(new RegExp(`^export interface ${name}\\b[^{]*\\{\\n([\\s\\S]*?)^\\}`, "m"));
  assert.ok(m, `${dts} declares ${name}`);
  const lines = m[1].split("\n");
  return lines.flatMap((l, i) => {
    const p = l.match(/^ {2}(\w+)\??:/);
    return p ? [{ name: p[1], documented: i > 0 && /\*\/\s*$/.test(lines[i - 1]) }] : [];
  });
}

test("every option the sources read is typed, documented in the d.ts and in the README", () => {
  const web = members("pkg-template/index.d.ts", "ClientOptions");
  const node = members("pkg-template/node.d.ts", "NodeClientOptions");
  for (const o of [...web, ...node]) assert.ok(o.documented, `the option ${o.name} has its own doc comment`);
  assert.match(read("pkg-template/node.d.ts"), /export interface NodeClientOptions extends ClientOptions/);
  assert.match(read("pkg-template/node.d.ts"), /createClient\(options: NodeClientOptions\): Promise<NodeClient>/);

  // What createClient reads: check.js's parseOptions (plus abi.js's numeric OPTIONS), and the
  // Node entry's own.
  const check = read("src/web/js/check.js");
  const parse = check.slice(check.indexOf("export function parseOptions"));
  const body = parse.slice(0, parse.indexOf("\n}\n"));
  const browserRead = [...OPTIONS, ...[...body.matchAll(/\bo\.(\w+)|\btext\("(\w+)"\)/g)].map((m) => m[1] ?? m[2])];
  // node.js: createClient and NodeClient's constructor (its methods' `o` are event options).
  const nodeJs = read("pkg-template/node.js");
  const create = nodeJs.slice(nodeJs.indexOf("export async function createClient"));
  const ctor = nodeJs.slice(nodeJs.indexOf("  constructor(c, server, o) {"));
  const nodeBodies = create.slice(0, create.indexOf("\n}\n")) + ctor.slice(0, ctor.indexOf("\n  }\n"));
  assert.ok(nodeBodies.includes("o.handleSignals"), "node.js's createClient and constructor found");
  const nodeRead = [...nodeBodies.matchAll(/\bo\.(\w+)/g)].map((m) => m[1]);
  const listed = nodeBodies.match(/for \(const k of \[([^\]]*)\]\)/);
  nodeRead.push(...[...listed[1].matchAll(/"(\w+)"/g)].map((m) => m[1]));
  const typed = [...web, ...node].map((o) => o.name);
  assert.deepEqual(sorted(typed), sorted([...browserRead, ...nodeRead]), "the options typed and the options read");
  assert.deepEqual(node.filter((o) => web.some((w) => w.name === o.name)), [], "NodeClientOptions adds options only");

  // The README's options table lists the browser's; its Node section names the Node entry's.
  const readme = read("pkg-template/README.md");
  const table = readme.slice(readme.indexOf("## Options"));
  const rows = [...table.slice(0, table.indexOf("\n\n")).matchAll(/^\| (`\w+`(?:, `\w+`)*) \|/gm)]
    .flatMap((m) => [...m[1].matchAll(/`(\w+)`/g)].map((x) => x[1]));
  assert.deepEqual(sorted(rows), sorted(web.map((o) => o.name)), "the README's options table and ClientOptions");
  for (const o of node) assert.match(readme, new RegExp(`\`[^\`\\n]*\\b${o.name}\\b[^\`\\n]*\``), `the README names ${o.name}`);
});

// The built package by its name, as an application's compiler resolves it through package.json's
// export conditions: `node` (moduleResolution nodenext) gives node.d.ts, a bundler's gives index.d.ts.
test("import \"batchwire\" types: node.d.ts under Node's resolution, index.d.ts under a bundler's", { timeout: 120_000 }, async (t) => {
  const { app } = await import("./helpers.mjs");
  const { dir } = app(t);
  const options = { strict: true, target: "es2022", lib: ["es2022"], types: [], noEmit: true, skipLibCheck: false };
  writeFileSync(join(dir, "node.ts"), [
    'import { createClient, type NodeClient } from "batchwire";',
    'const client: NodeClient = await createClient({ writeKey: "k", apiHost: "https://api.example.com", handleSignals: true });',
    "await client.closeAndFlush({ timeoutMs: 1000 });",
    "",
  ].join("\n"));
  writeFileSync(join(dir, "web.ts"), [
    'import { createClient } from "batchwire";',
    'const client = await createClient({ writeKey: "k", apiHost: "https://api.example.com" });',
    "// @ts-expect-error the browser and workerd client has no closeAndFlush",
    "await client.closeAndFlush();",
    "",
  ].join("\n"));
  writeFileSync(join(dir, "tsconfig.node.json"), JSON.stringify({
    compilerOptions: { ...options, module: "nodenext", moduleResolution: "nodenext" }, files: ["node.ts"],
  }));
  writeFileSync(join(dir, "tsconfig.web.json"), JSON.stringify({
    compilerOptions: { ...options, module: "esnext", moduleResolution: "bundler" }, files: ["web.ts"],
  }));
  for (const [project, dts] of [["tsconfig.node.json", "node.d.ts"], ["tsconfig.web.json", "index.d.ts"]]) {
    const r = spawnSync(TSC, ["-p", join(dir, project), "--pretty", "false", "--listFiles"], { cwd: dir, encoding: "utf8", timeout: 120_000 });
    assert.equal(r.status, 0, `${project}:\n${r.stdout}${r.stderr}`);
    const listed = r.stdout.split("\n").filter((l) => /[\\/](node|index)\.d\.ts$/.test(l)).map((l) => l.replace(/.*[\\/]/, ""));
    assert.ok(listed.includes(dts), `${project} compiles against ${dts}: ${listed.join(", ")}`);
    if (dts === "index.d.ts") assert.ok(!listed.includes("node.d.ts"), `${project} does not see node.d.ts`);
  }
});
