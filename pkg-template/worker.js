// batchwire for Cloudflare Workers (workerd): the wasm module with every protocol is imported as a
// compiled WebAssembly.Module, which workerd allows, and handed to index.js's init() on first use
// (inside a request, never at global scope), so no URL is ever built or fetched.
import module from "./web/batchwire_all_bg.wasm";
import { BatchwireError, createClient as create, init as load, version as read } from "./index.js";

export { BatchwireError };

/** Instantiates the imported module once; later calls share the same promise. */
export const init = () => load(module);

export async function createClient(options) {
  await init();
  return create(options);
}

export async function version() {
  await init();
  return read();
}
