// What `npm pack` puts in the tarball of the built package (pkg/, or BATCHWIRE_PKG): exactly the
// entries, the files package.json's exports name, the wasm modules of wasm-pack.toml, the types,
// the licenses, the changelog, the README and index.js's source map; nothing else (no tests, no
// stray build files). And the source map is the one index.js names, mapping back to the sources.
import test from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { SourceMap } from "node:module";
import { fileURLToPath } from "node:url";
import { join } from "node:path";

// The repository (no need for the e2e harness, and the browser it loads, here).
const ROOT = fileURLToPath(new URL("../..", import.meta.url));

const PKG = process.env.BATCHWIRE_PKG ?? join(ROOT, "pkg");

function pack() {
  const r = spawnSync("npm", ["pack", "--dry-run", "--json", "--ignore-scripts"], {
    cwd: PKG,
    encoding: "utf8",
    timeout: 60_000,
    env: { ...process.env, npm_config_update_notifier: "false" },
  });
  assert.equal(r.status, 0, `npm pack failed (is pkg/ built? python3 scripts/package.py):\n${r.stderr}`);
  const [tarball] = JSON.parse(r.stdout);
  return tarball;
}

/** The paths package.json's entry fields and export map name, without "./". */
function named(pj) {
  const found = [];
  const walk = (v) => {
    if (typeof v === "string") found.push(v.replace(/^\.\//, ""));
    else if (v && typeof v === "object") Object.values(v).forEach(walk);
  };
  walk(pj.exports);
  for (const k of ["main", "module", "types"]) if (pj[k]) walk(pj[k]);
  return [...new Set(found)];
}

test("npm pack holds exactly the package's files", { timeout: 60_000 }, () => {
  const tarball = pack();
  const packed = tarball.files.map((f) => f.path).sort();
  const pj = JSON.parse(readFileSync(join(PKG, "package.json"), "utf8"));
  assert.equal(tarball.name, "batchwire");

  const wasm = [...readFileSync(join(ROOT, "wasm-pack.toml"), "utf8").matchAll(/^file = "([^"]+\.wasm)"$/gm)].map((m) => `web/${m[1]}`);
  assert.equal(wasm.length, 3, "wasm-pack.toml's three modules");
  const expected = [
    "package.json",
    "index.js",
    "index.js.map",
    "extras.js",
    "extras.js.map",
    "index.d.ts",
    "worker.js",
    "node.js",
    "node.d.ts",
    ...wasm,
    "README.md",
    "CHANGELOG.md",
    "LICENSE-MIT",
    "LICENSE-APACHE",
  ].sort();
  assert.deepEqual(packed, expected);

  // Every file the exports name is in the tarball, and none is empty.
  const exported = named(pj);
  for (const p of ["index.js", "worker.js", "node.js", "index.d.ts", "node.d.ts", "package.json"]) {
    assert.ok(exported.includes(p), `package.json names ${p}`);
  }
  for (const p of exported) assert.ok(packed.includes(p), `${p}, named by package.json, is packed`);
  for (const f of tarball.files) assert.ok(f.size > 0, `${f.path} is not empty`);
  // The licenses are the two package.json's license names.
  assert.equal(pj.license, "MIT OR Apache-2.0");
  assert.match(readFileSync(join(PKG, "LICENSE-MIT"), "utf8"), /^MIT License\n\nCopyright \(c\) the batchwire developers\n/);
  assert.match(readFileSync(join(PKG, "LICENSE-APACHE"), "utf8"), /Apache License\s+Version 2\.0, January 2004/);
  assert.match(readFileSync(join(PKG, "CHANGELOG.md"), "utf8"), /^## Unreleased$/m);
});

test("index.js names its source map, which maps the minified code back to src/web", () => {
  const js = readFileSync(join(PKG, "index.js"), "utf8");
  const lines = js.split("\n");
  assert.equal(lines.at(-1), "//# sourceMappingURL=index.js.map", "the last line names the map");
  const map = JSON.parse(readFileSync(join(PKG, "index.js.map"), "utf8"));
  assert.equal(map.version, 3);
  assert.equal(map.file, "index.js");
  assert.ok(map.sources.includes("src/web/index.js"), map.sources.join(", "));
  assert.ok(map.sources.includes("src/web/js/client.js"), map.sources.join(", "));
  assert.equal(map.sourcesContent?.length, map.sources.length, "the sources' text is in the map");
  for (const s of map.sources) assert.match(s, /^src\/web\/(js\/)?\w+\.js$/, "sources named as in the repository");

  // A text written once in a source: its place in index.js maps to the line that holds it.
  const sourceMap = new SourceMap(map);
  for (const [needle, source] of [["the batchwire wasm module did not load", "src/web/index.js"],
    ["events are kept in memory only", "src/web/js/client.js"]]) {
    const at = lines.findIndex((l) => l.includes(needle));
    assert.ok(at >= 0, `index.js holds "${needle}"`);
    const e = sourceMap.findEntry(at, lines[at].indexOf(needle));
    assert.ok(e.originalSource?.endsWith(source), `"${needle}" maps to ${source}, not ${e.originalSource}`);
    const original = map.sourcesContent[map.sources.indexOf(source)].split("\n")[e.originalLine];
    assert.ok(original.includes(needle), `"${needle}" maps to line ${e.originalLine + 1}: ${original}`);
    // The line of the repository's file, too (the build's copy only renames wasm boundary names).
    assert.ok(readFileSync(join(ROOT, source), "utf8").split("\n")[e.originalLine].includes(needle));
  }
});
