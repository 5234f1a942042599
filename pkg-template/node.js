// batchwire for Node (the `node` export condition): the wasm module with every protocol and the
// `server` feature is read from disk and compiled here, then handed to index.js's init(), so no
// URL is ever fetched (Node's fetch refuses file: URLs). Clients default to server mode: identity
// per event, closeAndFlush(), an exit that sends what is queued, and opt-in signal handling.
import { readFile } from "node:fs/promises";
import { BatchwireError, createClient as create, init as load, version as read } from "./index.js";

export { BatchwireError };

let compiled;

/** Compiles and instantiates the module once; later calls share the same promise. */
export function init() {
  return (compiled ??= readFile(new URL("./web/batchwire_server_bg.wasm", import.meta.url))
    .then((bytes) => WebAssembly.compile(bytes))
    .then(load)
    .then(() => {})
    .catch((e) => {
      compiled = undefined;
      throw e instanceof BatchwireError ? e : new BatchwireError("E_LOAD", `the batchwire wasm module did not load: ${e?.message ?? e}`);
    }));
}

export async function version() {
  await init();
  return read();
}

const fail = (code, message) => {
  throw new BatchwireError(code, message);
};
const SIGNALS = ["SIGTERM", "SIGINT"];

/** Creates a client; in Node `mode` defaults to "server" (see index.d.ts and the README). */
export async function createClient(options) {
  await init();
  if (options === null || typeof options !== "object") fail("E_CONFIG", "options must be an object (field: options)");
  // Node has no IndexedDB: the queue is in memory in either mode.
  const o = { ...options };
  o.mode ??= "server";
  o.storage ??= "memory";
  if (o.mode !== "server" && o.mode !== "browser") fail("E_CONFIG", 'mode must be "server" or "browser" (field: mode)');
  const server = o.mode === "server";
  if (server && o.anonymousId !== undefined) {
    fail("E_CONFIG", "server mode takes no client-wide anonymousId: give one per event (field: anonymousId)");
  }
  if (server && o.storage !== "memory") fail("E_CONFIG", 'server mode keeps its queue in memory: storage must be "memory" (field: storage)');
  for (const k of ["exitTimeoutMs", "signalTimeoutMs"]) {
    if (o[k] !== undefined && !(typeof o[k] === "number" && o[k] >= 0)) fail("E_CONFIG", `${k} must be a number >= 0 (field: ${k})`);
  }
  const c = await create(o);
  return new NodeClient(c, server, o);
}

// Every method of the browser client, with server mode's identity rule in front of the event
// methods, and the Node lifecycle: closeAndFlush(), the exit hook, signals.
class NodeClient {
  #c;
  #server;
  #closing;
  #exit;
  #signals;
  #exitTimeoutMs;
  #signalTimeoutMs;

  constructor(c, server, o) {
    this.#c = c;
    this.#server = server;
    this.#exitTimeoutMs = o.exitTimeoutMs ?? 10000;
    this.#signalTimeoutMs = o.signalTimeoutMs ?? 5000;
    // A natural exit (the event loop ran dry) sends what is queued first: the flush and backoff
    // timers are unref'd, so they alone never keep the process alive. beforeExit may start async
    // work; closeAndFlush's own timeout keeps the process up until it settles, once.
    this.#exit = () => {
      const s = c.stats();
      if (s.queued + s.inFlight > 0) this.closeAndFlush({ timeoutMs: this.#exitTimeoutMs });
    };
    process.on("beforeExit", this.#exit);
    if (o.handleSignals) this.handleSignals();
  }

  // Server mode: every event names its user or device, given per event.
  #who(options, userId) {
    if (this.#closing) fail("E_SHUTDOWN", "the client was shut down");
    if (!this.#server) return options;
    if (options != null && typeof options !== "object") return options; // the client refuses it
    const o = options ?? {};
    if ((userId ?? o.userId ?? "") === "" && (o.anonymousId ?? "") === "") {
      fail("E_INVALID_EVENT", "server mode needs a userId or an anonymousId on every event (field: userId)");
    }
    return o;
  }

  track(event, properties, options) {
    return this.#c.track(event, properties, this.#who(options));
  }
  identify(userId, traits, options) {
    return this.#c.identify(userId, traits, this.#who(options, userId));
  }
  page(name, properties, options) {
    return this.#c.page(name, properties, this.#who(options));
  }
  screen(name, properties, options) {
    return this.#c.screen(name, properties, this.#who(options));
  }
  group(groupId, traits, options) {
    return this.#c.group(groupId, traits, this.#who(options));
  }
  alias(userId, previousId, options) {
    if (this.#closing) fail("E_SHUTDOWN", "the client was shut down");
    if (this.#server && (previousId ?? options?.previousId ?? options?.anonymousId) == null) {
      fail("E_INVALID_EVENT", "server mode needs the previousId (field: previousId)");
    }
    return this.#c.alias(userId, previousId, options);
  }
  flush() {
    return this.#c.flush();
  }
  stats() {
    return this.#c.stats();
  }
  /** Browser mode's identity ({ userId, anonymousId, traits }); in server mode nothing is kept. */
  user() {
    return this.#c.user();
  }
  /** Browser mode: forgets the user and starts a new anonymousId (in memory: Node has no
   * localStorage). Server mode: nothing to forget. */
  reset() {
    this.#c.reset();
  }
  optIn() {
    this.#c.optIn();
  }
  optOut() {
    this.#c.optOut();
  }
  consent() {
    return this.#c.consent();
  }
  on(type, listener) {
    return this.#c.on(type, listener);
  }
  off(type, listener) {
    this.#c.off(type, listener);
  }

  /** Stops taking events and resolves once everything queued is delivered or reported; what is
   * left after `timeoutMs` (default 10000) fails with `E_SHUTDOWN`, reported through `failed`.
   * Then the client lets go (as shutdown()). Later calls share the first one's promise. */
  closeAndFlush(options) {
    const timeoutMs = options?.timeoutMs ?? 10000;
    if (!(typeof timeoutMs === "number" && timeoutMs >= 0)) fail("E_INVALID_ARGUMENT", "timeoutMs must be a number >= 0 (field: timeoutMs)");
    return (this.#closing ??= (async () => {
      this.#unhook();
      const c = this.#c;
      let timer, flushed = false, f;
      // A referenced timer: the process stays up until the flush settles or the time is out (the
      // client's own timers are unref'd). Intake is already closed (#who); shutdown() is only
      // called at the end, as it would stop the retries.
      const out = new Promise((ok) => (timer = setTimeout(ok, Math.min(timeoutMs, 2147483647))));
      try {
        f = c.flush().then(() => (flushed = true));
      } catch {
        flushed = true; // already shut down
      }
      try {
        await Promise.race([f, out]);
      } finally {
        clearTimeout(timer);
      }
      if (!flushed) c.abandon();
      await c.shutdown();
      this.#unsignal(); // closed: a signal means what it meant before
    })());
  }

  /** Browser mode: as in the browser. Server mode: closeAndFlush() with its default timeout, so
   * nothing queued is left unreported. */
  shutdown() {
    if (this.#server) return this.closeAndFlush();
    this.#unhook();
    return this.#c.shutdown();
  }

  /** On SIGTERM or SIGINT: closeAndFlush({ timeoutMs: signalTimeoutMs }), then the signal is
   * raised again so the process ends as it would have (unless the application listens to it
   * too). Returns a function that removes the handlers. */
  handleSignals() {
    if (!this.#signals) {
      const on = (signal) => {
        this.#unsignal();
        this.closeAndFlush({ timeoutMs: this.#signalTimeoutMs }).finally(() => {
          if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
        });
      };
      this.#signals = SIGNALS.map((s) => [s, () => on(s)]);
      for (const [s, f] of this.#signals) process.on(s, f);
    }
    return () => this.#unsignal();
  }

  #unsignal() {
    for (const [s, f] of this.#signals ?? []) process.off(s, f);
    this.#signals = undefined;
  }
  #unhook() {
    process.off("beforeExit", this.#exit);
  }
}
