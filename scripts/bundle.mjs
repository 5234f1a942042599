// Bundles the browser entry into ONE minified ES module: pkg/index.js with the wasm-bindgen glue
// (pkg/web/batchwire.js) and its snippet (src/web/api.js) inlined. A page then makes one request
// for the JS instead of three, and one gzip stream compresses all of it (module boundaries cost
// bytes: each file's own header, and names that could not be mangled across files). The wasm stays
// a separate file beside it, found through `new URL("./web/batchwire_bg.wasm", import.meta.url)`,
// which bundlers such as Vite rewrite to the emitted asset.
//
// usage: node scripts/bundle.mjs <pkg dir>
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { build } from "rolldown";

const pkg = process.argv[2];
const entry = join(pkg, "index.js");
const before = readFileSync(entry, "utf8").length;
const result = await build({
  input: entry,
  write: false,
  treeshake: true,
  plugins: [
    {
      name: "wasm-path",
      // The glue's own default (a wasm next to the glue) would point beside pkg/index.js once
      // inlined, where no wasm is: bundlers that resolve `new URL(..., import.meta.url)` would
      // fail on it. index.js always passes the path, so the default becomes that same path.
      transform(code, id) {
        if (!id.endsWith("/web/batchwire.js")) return;
        const from = "new URL('batchwire_bg.wasm', import.meta.url)";
        if (!code.includes(from)) throw new Error(`bundle: ${id} no longer has ${from}`);
        return code.replace(from, 'new URL("./web/batchwire_bg.wasm", import.meta.url)');
      },
    },
  ],
  output: { format: "esm", minify: true },
});
if (result.output.length !== 1) {
  console.error(`bundle: expected one chunk, got ${result.output.map((o) => o.fileName).join(", ")}`);
  process.exit(1);
}
writeFileSync(entry, result.output[0].code);
console.log(`  bundled ${entry} (glue and snippets inlined): ${before} -> ${result.output[0].code.length} bytes`);
