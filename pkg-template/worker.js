// batchwire for Cloudflare Workers (workerd): the wasm module is imported as a compiled
// WebAssembly.Module, which workerd allows, and instantiated synchronously at module load.
import { initSync, version as wasmVersion } from "./web/batchwire.js";
import module from "./web/batchwire_bg.wasm";

initSync({ module });

export async function init() {}

export async function version() {
  return wasmVersion();
}
