// batchwire for browsers and plain ES modules. The wasm file sits next to this module and is
// found through import.meta.url, which Vite and other bundlers rewrite to the emitted asset.
import initWasm, * as wasm from "./web/batchwire.js";

let loading;

/** Loads and instantiates the wasm module once; later calls share the same promise. */
export function init() {
  loading ??= initWasm({ module_or_path: new URL("./web/batchwire_bg.wasm", import.meta.url) }).then(() => wasm);
  return loading;
}

/** The version of the batchwire build, after loading it. */
export async function version() {
  return (await init()).version();
}
