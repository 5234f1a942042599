// batchwire for bundlers with ES-module WebAssembly integration (webpack 5 asyncWebAssembly):
// the bundler instantiates the wasm when this module is imported.
import * as wasm from "./bundler/batchwire.js";

export { BatchwireError } from "./bundler/batchwire.js";

export async function init() {}

export async function createClient(options) {
  return wasm.createClient(options);
}

export async function version() {
  return wasm.version();
}
