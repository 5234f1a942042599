// batchwire for browsers and plain ES modules. The wasm file sits next to this module and is
// found through import.meta.url, which Vite and other bundlers rewrite to the emitted asset.
// Named imports only: the glue's other exports (initSync, the WebClient class as an export) are
// then left out of the bundled module.
import initWasm, { BatchwireError, createClient as create, version as read } from "./web/batchwire.js";

export { BatchwireError };

let loading;

/** Loads and instantiates the wasm module once; later calls share the same promise. `input` is
 * for runtimes that already hold the module (pkg/worker.js); pages leave it out. */
export function init(input) {
  loading ??= initWasm(input ?? { module_or_path: new URL("./web/batchwire_bg.wasm", import.meta.url) }).then(
    () => {},
    (e) => {
      loading = undefined; // a failed download may be retried
      throw new BatchwireError("E_LOAD", `the batchwire wasm module did not load: ${e?.message ?? e}`);
    },
  );
  return loading;
}

/** Loads the module if needed and creates a client (see index.d.ts for the options). */
export async function createClient(options) {
  await init();
  return create(options);
}

/** The version of the batchwire build, after loading it. */
export async function version() {
  await init();
  return read();
}
