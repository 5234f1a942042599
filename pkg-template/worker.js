// batchwire for Cloudflare Workers (workerd): the wasm module is imported as a compiled
// WebAssembly.Module, which workerd allows, and instantiated synchronously at module load. The
// API is index.js's; its init() then finds the module ready and never builds a URL.
import { initSync } from "./web/batchwire.js";
import module from "./web/batchwire_bg.wasm";
import { init } from "./index.js";

initSync({ module });
init({ module_or_path: module });

export { BatchwireError, createClient, init, version } from "./index.js";
