// Bundles the browser entry into ONE minified ES module: src/web/index.js (the wasm boundary)
// with the modules of src/web/js (client, store, tabs, net, ids, checks, abi) inlined. A page then makes one request for the JS instead of two, and one
// gzip stream compresses all of it (module boundaries cost bytes: each file's own header, and
// names that could not be mangled across files). The wasm modules stay separate files, found
// through `new URL("./web/batchwire_bg.wasm", import.meta.url)` and its twin for
// batchwire_all_bg.wasm, which bundlers such as Vite rewrite to the emitted assets.
//
// usage: node scripts/bundle.mjs <entry> <output file>
import { readFileSync, writeFileSync } from "node:fs";
import { build } from "rolldown";

const [entry, output] = process.argv.slice(2);
const before = readFileSync(entry, "utf8").length;
const result = await build({
  input: entry,
  write: false,
  treeshake: true,
  // No comments at all: the only ones left would be /* @__PURE__ */ annotations (30 B gzip),
  // which help a later bundler drop unused code, and nothing in this one module is unused.
  output: { format: "esm", minify: true, comments: false },
});
if (result.output.length !== 1) {
  console.error(`bundle: expected one chunk, got ${result.output.map((o) => o.fileName).join(", ")}`);
  process.exit(1);
}
writeFileSync(output, result.output[0].code);
console.log(`  bundled ${entry} and its imports into ${output}: ${before} -> ${result.output[0].code.length} bytes`);
