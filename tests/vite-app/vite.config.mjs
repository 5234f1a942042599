// `batchwire` resolves to the package built into pkg/ (no npm link, no lockfile entry): the app
// imports it by name exactly as an installed dependency, and Vite bundles its wasm as an asset.
import { fileURLToPath } from "node:url";
import { resolve } from "node:path";
import { defineConfig } from "vite";

const here = fileURLToPath(new URL(".", import.meta.url));

export default defineConfig({
  root: here,
  base: "./",
  logLevel: "warn",
  resolve: { alias: { batchwire: resolve(here, "../../pkg/index.js") } },
  build: { emptyOutDir: true, target: "es2022" },
});
