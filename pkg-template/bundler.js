// batchwire for bundlers with ES-module WebAssembly integration (webpack 5 asyncWebAssembly).
import * as wasm from "./bundler/batchwire.js";

export async function init() {
  return wasm;
}

export async function version() {
  return wasm.version();
}
