// Minifies JavaScript files in place with oxc (rolldown's minifier), keeping ES module exports
// and import paths. Used by scripts/package.py on the glue that a browser loads as-is; the
// readable sources stay in src/web and in target/wasm-pack/.
import { readFileSync, writeFileSync } from "node:fs";
import { minifySync } from "rolldown/experimental";

for (const file of process.argv.slice(2)) {
  const source = readFileSync(file, "utf8");
  const { code, errors } = minifySync(file, source, { module: true, compress: true, mangle: { toplevel: true } });
  if (errors?.length) {
    console.error(`minify ${file}: ${errors.map((e) => e.message).join("; ")}`);
    process.exit(1);
  }
  writeFileSync(file, code);
  console.log(`  minified ${file}: ${source.length} -> ${code.length} bytes`);
}
