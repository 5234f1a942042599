// What the front and the Durable Object share: the engine with its configuration, loaded once
// per isolate, and a body read with a running count.
import { Engine, EdgeConfigError } from "./engine.js";
import wasm from "../../target/edge/batchwire_edge.wasm";

// ---------------------------------------------------------------------------------------------
// The engine and its configuration: loaded once per isolate.

let booting = null;
let loaded = null; // the engine `booting` resolved to

/**
 * { engine, cfg } or { engine, error } (an invalid configuration); cached per isolate. An engine
 * a wasm trap broke (engine.broken) is replaced by a new one at the next call.
 */
export function boot(env) {
  if (loaded?.broken) booting = loaded = null;
  booting ??= (async () => {
    const engine = await Engine.load(wasm);
    try {
      loaded = engine;
      return { engine, cfg: engine.configure(env) };
    } catch (e) {
      if (e instanceof EdgeConfigError) {
        console.error(`batchwire edge: invalid configuration: ${e.message}`);
        return { engine, error: e };
      }
      throw e;
    }
  })().catch((e) => {
    booting = null; // a failed load is tried again by the next request
    throw e;
  });
  return booting;
}

// ---------------------------------------------------------------------------------------------
// Bodies.

/** The body, read with a running count; null once it passes `cap` (the rest is not read). */
export async function readCapped(request, cap) {
  if (request.body === null) return new Uint8Array(0);
  const reader = request.body.getReader();
  const chunks = [];
  let n = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    n += value.byteLength;
    if (n > cap) {
      reader.cancel().catch(() => {});
      return null;
    }
    chunks.push(value);
  }
  if (chunks.length === 1) return chunks[0];
  const body = new Uint8Array(n);
  let at = 0;
  for (const c of chunks) {
    body.set(c, at);
    at += c.byteLength;
  }
  return body;
}
