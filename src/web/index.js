// batchwire for browsers, web workers and plain ES modules: loads a wasm module (the one a
// client's protocol needs: see `load`) and is its whole boundary (src/js.rs is the Rust side). No
// bindings generator: every value crossing is a number, or UTF-8 bytes in the module's memory.
// - JavaScript to Rust: `pass` writes a string (or bytes) into a block from the module's `alloc`
//   and gives (pointer, length, capacity): three arguments, read left to right. The export owns
//   the block from then on.
// - Rust to JavaScript: an import gets (pointer, length) of bytes the module owns, valid during
//   the call only; what an export returns as text it leaves with the `text` import.
// - A client is an index into `clients`, the driver a pointer index.js keeps with its client.
//   Once a shut-down client has let go (`release`), its driver is freed and both are forgotten:
//   the Client then answers from what it last knew.
// The rest of the client is in js/ (client.js carries out what the driver decides, with a thin
// wrapper per Web API beside it); scripts/bundle.mjs makes one module of them all.
import { PROTOCOL, SHUTDOWN, STAT, STATS } from "./js/abi.js";
import { BatchwireError, configError, parseOptions, shutDown } from "./js/check.js";
import { Client } from "./js/client.js";

export { BatchwireError };

const loading = []; // per wasm file (see `load`), the promise of its instance
let options; // parseOptions' result while `create` reads it
let said; // the last `text` a module left
let setup; // [headers JSON, largest request, request timeout] from `create`, as the Client takes them
let written, capacity; // of the block `pass` filled last
const clients = [];
const drivers = []; // per client, what the Client calls (see createClient)
const encoder = new TextEncoder();
const decoder = new TextDecoder();

// Instantiates a module (a compiled WebAssembly.Module, or the promise of its bytes) with imports
// of its own; resolves to { wasm: its exports, pass }. Clients of different protocols may live in
// two instances on one page: each reads and writes its own memory, and a client index is unique
// across both.
function link(source) {
  let wasm;
  const bytes = (p, n) => new Uint8Array(wasm.memory.buffer, p, n);
  const str = (p, n) => decoder.decode(bytes(p, n));

  // Writes `s` (a string, or a Uint8Array) into a new block; returns its address, `written` and
  // `capacity` its length and size. A string is tried in as many bytes as it has UTF-16 units (all
  // of them, when it is ASCII), else in three times as many: the most UTF-8 can take.
  function pass(s) {
    let n = s.length, p = wasm.alloc(n), r;
    if (typeof s !== "string") bytes(p, n).set(s), (r = { written: n });
    else if ((r = encoder.encodeInto(s, bytes(p, n))).read < n) {
      wasm.free(p, n);
      r = encoder.encodeInto(s, bytes((p = wasm.alloc((n *= 3))), n));
    }
    written = r.written;
    capacity = n;
    return p;
  }

  // What the driver asks of client `h` (see src/js.rs for each). The time is not among them: every
  // export that needs it is given `Date.now()`.
  const imports = {
    "batchwire": {
      number: (i) => options.number(i),
      text: (p, n) => (said = str(p, n)),
      setup: (p, n, max, timeout) => (setup = [str(p, n), max, timeout]),
      send: (h, id, p, n, b, bn, keepalive) => clients[h].send(id, str(p, n), bytes(b, bn), keepalive),
      arm: (h, ms) => clients[h].arm(ms),
      schedule: (h) => clients[h].schedule(),
      put: (h, r, k, kn, v, vn, e, en, share) =>
        clients[h].put(r, str(k, kn), bytes(v, vn), new Uint32Array(wasm.memory.buffer, e, en), share),
      // The ids are read out of wasm memory only if the store needs them (not for a record it
      // wrote and this empties), and at once if it does.
      rm: (h, r, k, kn, n) => clients[h].rm(r, () => str(k, kn).split("\0"), n),
      reload: (h) => clients[h].reload(),
      done: (h, a, an, b, bn) => clients[h].settled(str(a, an), str(b, bn)),
      askFlush: (h) => clients[h].askFlush(),
      emit: (h, kind, p, n, until) => clients[h].emit(kind, str(p, n), until),
      release: (h) => {
        clients[h].release();
        queueMicrotask(drivers[h].free); // once the export that let go has returned
      },
      resolve: (h, w) => clients[h].resolve(w),
      hold: (h, p, n, until) => clients[h].hold(str(p, n), until),
    },
  };
  return (source instanceof WebAssembly.Module
    ? WebAssembly.instantiate(source, imports)
    : source.then((b) => WebAssembly.instantiate(b, imports))
  ).then((r) => ({ wasm: (wasm = (r.instance ?? r).exports), pass }));
}

// The instance for protocol number `p` (abi.js PROTOCOLS), fetched once (or made of `module`):
// /v1-batch's module has no Amplitude code, which makes it smaller; the other has every protocol.
// Both URLs are written out whole, so bundlers emit both files.
function load(p, module) {
  const all = +(p > 0);
  return (loading[all] ??= link(
    module ??
      fetch(all ? new URL("./web/batchwire_all_bg.wasm", import.meta.url) : new URL("./web/batchwire_bg.wasm", import.meta.url))
        .then((r) => (r.ok ? r.arrayBuffer() : Promise.reject(new Error(`HTTP ${r.status} for ${r.url}`)))),
  ).catch((e) => {
    loading[all] = undefined; // a failed download may be retried
    throw new BatchwireError("E_LOAD", `the batchwire wasm module did not load: ${e?.message ?? e}`);
  }));
}

/** Loads and instantiates the wasm module of /v1-batch once (createClient loads the one its
 * protocol needs); later calls share the same promise. `module` is for runtimes that already hold
 * one compiled (pkg/worker.js): it then serves every protocol. The promise resolves to the Client
 * class, for a runtime's entry to interpose on what each client is given (pkg/worker.js); the
 * types say void, and pkg/worker.js's and pkg/node.js's own init() resolve to nothing. */
export function init(module) {
  if (module) loading[1] ??= load(0, module);
  return load(0).then(() => Client);
}

/** Loads the module if needed and creates a client (see index.d.ts for the options). */
export async function createClient(o) {
  const checked = parseOptions(o);
  const { wasm, pass } = await load(checked.number(PROTOCOL));
  // What only some options need is a module of its own (js/extras.js), fetched for those alone.
  if (checked.debug || checked.autoPageViews || checked.consent === "pending") checked.extras = await import("./js/extras.js");
  options = checked;
  wasm.version();
  checked.version = said; // context.library.version
  const h = clients.length;
  let d = wasm.create(h, pass(options.writeKey), written, capacity);
  if (!d) throw configError(said);
  let last; // stats() when the driver was freed
  const client = (clients[h] = new Client(options, ...setup));
  // The driver's exports, bound to it, as the Client calls them; once it is freed, what a
  // shut-down driver would answer (refusals, the last stats, a shutdown() resolved at once).
  const driver = (drivers[h] = {
    // Event [kind, fields, time, messageId] to the engine: its refusal "CODE\0message", or nothing.
    enqueue: ([kind, fields, time]) =>
      !d ? "E_SHUTDOWN\0the client was shut down" : wasm.enqueue(d, kind, pass(fields), written, capacity, time, Date.now()) ? undefined : said,
    on: (input, arg) =>
      d ? wasm.on(d, input, arg, Date.now()) : input === SHUTDOWN ? client.resolve(arg) : last[input - STAT] ?? 0,
    restore: (record, key, value, fromStore, heldUntil) =>
      d && wasm.restore(d, record, pass(key), written, capacity, pass(value), written,
        capacity, fromStore, heldUntil, Date.now()),
    settled: (id, code, reason) =>
      d && wasm.settled(d, pass(id), written, capacity, pass(code), written, capacity, pass(reason), written, capacity),
    response: (id, status, retryAfter, body) =>
      d && wasm.response(d, id, status, pass(retryAfter), written, capacity, pass(body), written, capacity, Date.now()),
    free: () => {
      if (!d) return;
      last = STATS.map((_, i) => wasm.on(d, STAT + i));
      wasm.destroy(d);
      d = 0;
      clients[h] = drivers[h] = undefined;
    },
  });
  return client.start(driver);
}

/** The version of the batchwire build, after loading it. */
export async function version() {
  (await load(0)).wasm.version();
  return said;
}
