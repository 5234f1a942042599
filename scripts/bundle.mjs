// Bundles the browser entry into ONE minified ES module: src/web/index.js (the wasm boundary)
// with the modules of src/web/js (client, store, tabs, net, ids, checks, abi) inlined. A page then makes one request for the JS instead of two, and one
// gzip stream compresses all of it (module boundaries cost bytes: each file's own header, and
// names that could not be mangled across files). The wasm modules stay separate files, found
// through `new URL("./web/batchwire_bg.wasm", import.meta.url)` and its twin for
// batchwire_all_bg.wasm, which bundlers such as Vite rewrite to the emitted assets.
//
// Beside the output, its source map (<output>.map, with the sources' text in it), which the
// output names in its last line, `//# sourceMappingURL=<name>.map`: a debugger or an error
// reporter shows the readable code, and only that line is fetched by a page that does not debug.
// Sources are named as in the repository (src/web/index.js, src/web/js/*.js); their text is the
// build's copy, whose wasm import and export names are the minified ones.
//
// usage: node scripts/bundle.mjs <entry> <output file>
import { readFileSync, writeFileSync } from "node:fs";
import { basename, dirname, join, relative, resolve } from "node:path";
import { build } from "rolldown";

const [entry, output] = process.argv.slice(2);
const before = readFileSync(entry, "utf8").length;
const result = await build({
  input: entry,
  write: false,
  treeshake: true,
  // No comments at all: the only ones left would be /* @__PURE__ */ annotations (30 B gzip),
  // which help a later bundler drop unused code, and nothing in this one module is unused.
  // "hidden": the map without the comment, which is written below, so its bytes are known.
  output: {
    format: "esm",
    minify: true,
    comments: false,
    chunkFileNames: "[name].js",
    sourcemap: "hidden",
    sourcemapPathTransform: (source, map) =>
      "src/web/" + relative(dirname(resolve(entry)), resolve(dirname(map), source)).split("\\").join("/"),
  },
});
// The entry, and the one module it imports dynamically (src/web/js/extras.js: what only some
// options need), each with its map.
const chunks = result.output.filter((o) => o.type === "chunk");
if (chunks.length !== 2 || !chunks[0].isEntry || chunks.some((c) => !c.map)) {
  console.error(`bundle: expected the entry and extras.js, each with its map, got ${result.output.map((o) => o.fileName).join(", ")}`);
  process.exit(1);
}
for (const chunk of chunks) {
  const file = chunk.isEntry ? output : join(dirname(output), chunk.fileName);
  const name = basename(file);
  const map = { ...JSON.parse(chunk.map.toString()), file: name };
  if (map.sources.some((s) => s.includes(".."))) {
    console.error(`bundle: a source outside ${dirname(entry)}: ${map.sources.join(", ")}`);
    process.exit(1);
  }
  // The comment as the last line, without a newline after it: each byte is in every page load.
  const code = chunk.code.replace(/\n*$/, "\n") + `//# sourceMappingURL=${name}.map`;
  writeFileSync(file, code);
  writeFileSync(`${file}.map`, JSON.stringify(map));
  console.log(`  bundled ${chunk.isEntry ? `${entry} and its imports` : chunk.fileName} into ${file}: ${chunk.isEntry ? before + " -> " : ""}${code.length} bytes, ` +
    `its source map ${name}.map (${map.sources.length} sources)`);
}
