// batchwire for Cloudflare Workers (workerd): the wasm module with every protocol is imported as a
// compiled WebAssembly.Module, which workerd allows, and handed to index.js's init() on first use
// (inside a request, never at global scope), so no URL is ever built or fetched.
//
// workerd binds every timer, fetch and promise continuation to the request that created it, and
// ends them with that request: a timer set in a request that has returned its response (and has
// no ctx.waitUntil still pending) never fires, a fetch it started is cancelled and neither
// resolves nor rejects, and a continuation it registered is dropped even when another request
// resolves the promise. A client kept at module scope, the normal pattern, outlives every request
// that uses it, so this entry wraps it:
// - Timers are lazy: when the driver arms its one timer, the time is noted as well, and every call
//   (from any request) first fires it if it is due: a flush interval that ran out while no request
//   was there is acted on by the next one.
// - Every request in flight beats, from a timer of the request that sent it, while it waits for
//   its answer. A request that has not beaten for STALE_MS ended with the request that sent it (a
//   live one beats on time): the next call reports it to the driver as a network failure, which
//   sends its events again with the same messageIds (the server de-duplicates them) instead of
//   waiting forever with `inFlight` stuck.
// - flush() and shutdown() return a promise that keeps the request calling them busy (a timer of
//   its own) until the client has settled what they wait for, with the same checks each beat, and
//   until no request this request sent is still in flight: given to ctx.waitUntil, it leaves no
//   I/O behind when the request ends.
// - createClient at global scope, where workerd allows no timer, I/O or random value, rejects at
//   once with E_GLOBAL_SCOPE and what to do instead.
// What index.js and src/web/js do for every runtime stays there: this file only interposes, so a
// page's download does not grow for it.
import module from "./web/batchwire_all_bg.wasm";
import { BatchwireError, createClient as create, init as load, version as read } from "./index.js";

export { BatchwireError };

// The driver's inputs this entry gives it itself, as src/web/js/abi.js numbers them.
const TIMER = 1;
const FAILURE = 11;
// A request in flight beats this often from its own request's timers; one that has not beaten for
// STALE_MS is taken as ended with that request (one still running beats on time, unless the
// isolate was kept busy longer than that: then its events are only sent twice, and de-duplicated).
const BEAT_MS = 500;
const STALE_MS = 2000;

const fail = (code, message) => {
  throw new BatchwireError(code, message);
};

// True when `signal` (an AbortSignal, which workerd binds to the request that created it) belongs
// to the request running now: workerd refuses to read one of another request.
const here = (signal) => {
  try {
    return signal.aborted || true;
  } catch {
    return false;
  }
};

// Each client's driver, as index.js hands it to Client.prototype.start, which is wrapped once.
const drivers = new WeakMap();
let ready;

/** Instantiates the imported module once; later calls share the same promise. */
export function init() {
  return (ready ??= load(module).then((Client) => {
    const { start } = Client.prototype;
    Client.prototype.start = function (d) {
      drivers.set(this, d);
      return start.call(this, d);
    };
  }));
}

export async function version() {
  await init();
  return read();
}

/** Creates a client; call it inside a handler (see the README's "Cloudflare Workers"). */
export async function createClient(options) {
  // workerd throws a plain Error for the first random value createClient would draw.
  try {
    crypto.getRandomValues(new Uint8Array(1));
  } catch (e) {
    fail("E_GLOBAL_SCOPE", "createClient was called at global scope, where Workers allow no I/O, timers or random " +
      "values: create the client inside the handler on first use and keep it at module scope " +
      "(`let client;` ... in fetch(): `client ??= await createClient({...})`), then " +
      `\`ctx.waitUntil(client.flush())\` before returning (${e?.message ?? e})`);
  }
  if (options === null || typeof options !== "object") fail("E_CONFIG", "options must be an object (field: options)");
  // workerd has no IndexedDB: the queue is in memory, as long as the isolate lives.
  if ((options.storage ?? "memory") !== "memory") {
    fail("E_CONFIG", 'workerd has no IndexedDB: storage must be "memory" (field: storage)');
  }
  await init();
  // One client serves every visitor of the isolate: no session is theirs, and the runtime's
  // locale, timezone and user agent are not: the context is the library alone unless asked.
  const c = await create({
    context: { page: false, userAgent: false, locale: false, timezone: false, screen: false },
    sessionTimeoutMs: 0,
    ...options,
    storage: "memory",
  });
  // The client lets its listeners hear of anything only after a timer of this request has run
  // (Client.start): wait for it here, while this request is sure to be running.
  await new Promise((ok) => setTimeout(ok));
  return new WorkerClient(c, drivers.get(c));
}

// Every method of the client, each first catching up with what was due while no request ran
// (#touch); flush() and shutdown() hold their request until what they started is answered.
class WorkerClient {
  #c;
  #on; // the driver's own `on`, past the interposition below
  #sends = new Map(); // requests in flight: id -> { beat: last heartbeat (ms), signal: of its request }
  #due = Infinity; // when the driver's timer is due
  #wake = new Set(); // pumps waiting: { ok, signal: of its request, at: since when (ms) }

  constructor(c, d) {
    this.#c = c;
    const { on, response } = d;
    const { send, arm } = Object.getPrototypeOf(c);
    this.#on = on;
    // The driver's methods, as the client calls them: a request's answer or failure settles it.
    d.on = (input, arg) => {
      if (input === FAILURE) this.#settled(arg);
      if (input === TIMER) this.#due = Infinity;
      return on(input, arg);
    };
    d.response = (id, ...rest) => {
      this.#settled(id);
      return response(id, ...rest);
    };
    // What the driver asks of the client: a request (its fetch, and its heartbeat, both in the
    // request running now), the timer (noted, then armed in the request running now).
    c.send = (id, path, body, keepalive) => {
      const s = { beat: Date.now(), signal: new AbortController().signal };
      this.#sends.set(id, s);
      const beat = () => {
        if (this.#sends.get(id) !== s) return;
        s.beat = Date.now();
        setTimeout(beat, BEAT_MS);
      };
      setTimeout(beat, BEAT_MS);
      send.call(c, id, path, body, keepalive);
    };
    c.arm = (ms) => {
      this.#due = ms < 0 ? Infinity : Date.now() + ms;
      arm.call(c, ms);
    };
  }

  // A request was answered or failed: the pumps of the request it was sent from (where this
  // runs) look again at once. Those of other requests look at their next beat: resolving their
  // promises from here would be lost, with a warning, if their request has ended.
  #settled(id) {
    if (!this.#sends.delete(id)) return;
    for (const w of this.#wake) if (here(w.signal)) w.ok();
  }

  // What a timer would have done while no request was running: requests in flight whose request
  // ended fail (their events are sent again), and a due timer fires.
  #touch() {
    const now = Date.now();
    for (const [id, s] of this.#sends) {
      if (now - s.beat > STALE_MS) {
        this.#sends.delete(id);
        this.#on(FAILURE, id);
      }
    }
    if (now >= this.#due) {
      this.#due = Infinity;
      this.#on(TIMER);
    }
    // A pump waits one beat at most: one waiting longer ended with its request.
    for (const w of this.#wake) if (now - w.at > STALE_MS) this.#wake.delete(w);
  }

  // Resolves as `p` does, once it has settled and no request sent from this request is in
  // flight; meanwhile a timer of this request checks, every beat and when the driver's timer is
  // due, what #touch checks, so that a flush needs no other request to find a send cut short or a
  // timer due. The timer also keeps workerd from taking the request for hung: it cancels one that
  // waits on a promise when no pending I/O anywhere could resolve it, as when `p` waits for a send
  // whose request has ended.
  async #pump(p) {
    let settled = false;
    const end = p.then(
      () => (settled = true),
      () => (settled = true),
    );
    const signal = new AbortController().signal;
    for (;;) {
      this.#touch();
      let mine = false;
      for (const s of this.#sends.values()) mine ||= here(s.signal);
      if (settled && !mine) return p;
      const w = { signal, at: Date.now() };
      const beat = new Promise((ok) => {
        w.ok = ok;
        w.timer = setTimeout(ok, Math.max(0, Math.min(BEAT_MS, this.#due - w.at)));
      });
      this.#wake.add(w);
      await (settled ? beat : Promise.race([end, beat]));
      clearTimeout(w.timer);
      this.#wake.delete(w);
    }
  }

  track(event, properties, options) {
    this.#touch();
    return this.#c.track(event, properties, options);
  }
  identify(userId, traits, options) {
    this.#touch();
    return this.#c.identify(userId, traits, options);
  }
  page(name, properties, options) {
    this.#touch();
    return this.#c.page(name, properties, options);
  }
  screen(name, properties, options) {
    this.#touch();
    return this.#c.screen(name, properties, options);
  }
  group(groupId, traits, options) {
    this.#touch();
    return this.#c.group(groupId, traits, options);
  }
  alias(userId, previousId, options) {
    this.#touch();
    return this.#c.alias(userId, previousId, options);
  }
  /** Resolves once every event queued before the call is delivered or has failed, and no request
   * sent from this request is in flight: give it to ctx.waitUntil, or await it. */
  flush() {
    this.#touch();
    return this.#pump(this.#c.flush());
  }
  stats() {
    this.#touch();
    return this.#c.stats();
  }
  user() {
    return this.#c.user();
  }
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
  shutdown() {
    this.#touch();
    return this.#pump(this.#c.shutdown());
  }
}
