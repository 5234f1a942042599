// The JavaScript face of batchwire: option and argument checks, JSON encoding, listeners and the
// error type. The Rust driver (src/js.rs, src/web/driver.rs) does everything else. This part is
// JavaScript because JSON.stringify is native, and a typeof check is free here but a boundary
// crossing plus code in wasm.

/** Every error batchwire throws: `code` is stable, `message` names the field. */
export class BatchwireError extends Error {
  constructor(code, message) {
    super(message);
    this.name = "BatchwireError";
    this.code = code;
  }
}

const fail = (code, message) => {
  throw new BatchwireError(code, message);
};
const invalid = (message) => fail("E_INVALID_EVENT", message);
const config = (field, what) => fail("E_CONFIG", `${field} must be ${what} (field: ${field})`);

const PROTOCOLS = ["v1-batch", "amplitude-http-v2", "amplitude-batch"];
// Order matters: src/js.rs reads them by index. Unset ones go as -1 (keep the core's default).
const NUMBERS = ["flushAt", "flushIntervalMs", "maxBatchBytes", "maxInFlight", "maxQueueEvents", "maxQueueBytes",
  "backoffBaseMs", "backoffMaxMs", "giveUpAfterMs", "quotaProbeMs"];
const EVENTS = ["delivered", "failed", "rateLimited", "quotaHeld", "warning"];

const uuid = () =>
  crypto.randomUUID?.() ?? // missing outside secure contexts (plain http pages)
  "10000000-1000-4000-8000-100000000000".replace(/[018]/g, (c) =>
    (c ^ (crypto.getRandomValues(new Uint8Array(1))[0] & (15 >> (c / 4)))).toString(16));

// One anonymousId per browser and write key, kept in localStorage; where that throws (sandboxed
// frames, disabled storage, workers) the id lives as long as the client.
function anonymousId(writeKey) {
  const key = "batchwire:anonymousId:" + writeKey;
  let id;
  try {
    id = localStorage.getItem(key);
  } catch {}
  if (!id) {
    id = uuid();
    try {
      localStorage.setItem(key, id);
    } catch {}
  }
  return id;
}

/** Checks createClient's options; src/js.rs reads the plain object returned. */
export function parseOptions(o) {
  if (o === null || typeof o !== "object") config("options", "an object");
  const text = (k) => {
    const v = o[k];
    if (typeof v !== "string" || !v) config(k, "a non-empty string");
    return v;
  };
  const writeKey = text("writeKey");
  let apiHost = text("apiHost").replace(/\/+$/, "");
  try {
    apiHost = new URL(apiHost, globalThis.location?.href).href.replace(/\/+$/, "");
  } catch {
    config("apiHost", "a URL");
  }
  const protocol = PROTOCOLS.indexOf(o.protocol ?? "v1-batch");
  if (protocol < 0) config("protocol", PROTOCOLS.join(" or "));
  const storage = o.storage ?? "indexeddb";
  if (storage !== "indexeddb" && storage !== "memory") config("storage", '"indexeddb" or "memory"');
  const numbers = NUMBERS.map((k) => {
    const v = o[k];
    if (v === undefined) return -1;
    // flushIntervalMs 0 means "no waiting"; every other knob must be positive.
    if (typeof v !== "number" || !(v >= (k === "flushIntervalMs" ? 0 : 1)) || v > 2 ** 52) {
      config(k, k === "flushIntervalMs" ? "a number >= 0" : "a number >= 1");
    }
    return Math.floor(v);
  });
  let anon = o.anonymousId;
  if (anon === undefined) anon = anonymousId(writeKey);
  else if (typeof anon !== "string" || !anon) config("anonymousId", "a non-empty string");
  const seed = crypto.getRandomValues(new Uint32Array(2));
  return { writeKey, apiHost, protocol, durable: storage === "indexeddb", anonymousId: anon,
    debug: !!o.debug, numbers: new Float64Array(numbers), seedHi: seed[0], seedLo: seed[1] };
}

// Where in `v` JSON.stringify gave up, and why: only run after it threw, so track() pays nothing
// for it. Mirrors JSON.stringify's walk (own enumerable keys, toJSON) and stops at the first
// BigInt, cycle or throwing getter/toJSON/trap.
function blame(v) {
  const stack = [];
  const walk = (x, path) => {
    try {
      if (typeof x === "bigint") return [path, "is a BigInt (convert it to a string or number)"];
      if (!x || typeof x !== "object") return;
      if (typeof x.toJSON === "function") return walk(x.toJSON(), path);
      if (stack.includes(x)) return [path, "refers back to an object containing it (a cycle)"];
      if (stack.length > 500) return [path, "is nested too deeply"];
      stack.push(x);
      const arr = Array.isArray(x);
      for (const k of Object.keys(x)) {
        const r = walk(x[k], arr ? `${path}[${k}]` : `${path}.${k}`);
        if (r) return r;
      }
      stack.pop();
    } catch (e) {
      return [path, `threw ${e?.name ?? "an error"}`];
    }
  };
  return walk(v, "") ?? ["", "cannot be encoded as JSON"];
}

// JSON.stringify escapes lone UTF-16 surrogates as \udXXX (valid pairs are written raw), which
// many servers reject as a whole request. They become U+FFFD, as wasm-bindgen does for strings.
// An odd run of backslashes before "u" means the last one starts the escape.
const lone = (s) => s.replace(/(\\+)ud[89a-f][0-9a-f]{2}/g, (m, b) => (b.length % 2 ? b.slice(1) + "\\ufffd" : m));

/** JSON text of an object argument (properties, traits, context), or undefined when absent. */
function json(v, field, max) {
  if (v == null) return;
  if (typeof v !== "object" || Array.isArray(v)) {
    invalid(`${field} must be an object, not ${Array.isArray(v) ? "an array" : typeof v} (field: ${field})`);
  }
  let s;
  try {
    s = JSON.stringify(v);
  } catch {
    let [path, why] = blame(v);
    if (path.length > 80) path = "…" + path.slice(-80);
    invalid(`${field}${path} ${why} (field: ${field}${path})`);
  }
  if (s === undefined) return; // a toJSON() that returned undefined: nothing to send
  // UTF-8 is never shorter than the UTF-16 length, so this refuses without copying into wasm.
  if (s.length > max) fail("E_TOO_LARGE", `${field} is over ${max} bytes of JSON, more than one request may carry (field: ${field})`);
  return s.includes("\\ud") ? lone(s) : s;
}

function id(v, field) {
  if (v == null || typeof v === "string") return v ?? undefined;
  invalid(`${field} must be a string, not ${typeof v} (field: ${field})`);
}

function time(t) {
  if (t == null) return;
  const ms = t instanceof Date ? t.getTime() : typeof t === "string" ? Date.parse(t) : t;
  if (typeof ms !== "number" || !Number.isFinite(ms) || ms < 0) {
    invalid("timestamp must be a Date, an ISO 8601 string or epoch milliseconds (field: timestamp)");
  }
  return ms;
}

/** What createClient resolves to. Every method is safe to call with anything. */
export class Client {
  #d;
  #max;
  #user;
  #anon;
  #debug;
  #on = {};

  constructor(driver, max, anon, debug) {
    this.#d = driver;
    this.#max = max;
    this.#anon = anon;
    this.#debug = debug;
  }

  track(event, properties, options) {
    return this.#add(0, event, properties, options);
  }
  identify(userId, traits, options) {
    const messageId = this.#add(1, undefined, traits, options, userId);
    if (typeof userId === "string" && userId) this.#user = userId;
    return messageId;
  }
  page(name, properties, options) {
    return this.#add(2, name, properties, options);
  }
  screen(name, properties, options) {
    return this.#add(3, name, properties, options);
  }
  group(groupId, traits, options) {
    return this.#add(4, undefined, traits, options, undefined, groupId ?? null);
  }
  /** Links `previousId` (default: this client's anonymousId) to the new `userId`. */
  alias(userId, previousId, options) {
    if (userId == null) throw new BatchwireError("E_INVALID_EVENT", "alias needs the new userId (field: userId)");
    return this.#add(5, undefined, undefined, options, userId, undefined, previousId ?? this.#anon);
  }

  // kind: track, identify, page, screen, group, alias (src/js.rs has the same order). userId,
  // groupId and previousId given as arguments win over the options object.
  #add(kind, name, payload, options, userId, groupId, previousId) {
    try {
      if (options != null && typeof options !== "object") invalid("options must be an object (field: options)");
      const o = options ?? {};
      const field = kind === 0 ? "event" : "name";
      if ((kind === 0 || name != null) && typeof name !== "string") {
        invalid(`${field} must be a string, not ${name === null ? "null" : typeof name} (field: ${field})`);
      }
      const max = this.#max;
      return this.#d.enqueue(kind, name ?? undefined,
        json(payload, kind === 1 || kind === 4 ? "traits" : "properties", max), json(o.context, "context", max),
        id(userId ?? o.userId ?? this.#user, "userId"), id(o.anonymousId ?? this.#anon, "anonymousId"),
        id(groupId === undefined ? o.groupId : groupId, "groupId"), id(previousId ?? o.previousId, "previousId"),
        id(o.messageId, "messageId"), time(o.timestamp));
    } catch (e) {
      throw wrap(e);
    }
  }

  /** Resolves once every event queued before the call is delivered or has failed. */
  flush() {
    return this.#d.flush();
  }

  stats() {
    const s = this.#d.stats();
    return { queued: s[0], inFlight: s[1], delivered: s[2], failed: s[3], retried: s[4],
      rateLimitedUntil: s[5] || null, quotaHeldUntil: s[6] || null, stored: s[7] === 1 };
  }

  /** Adds a listener; returns a function that removes it. */
  on(type, listener) {
    if (!EVENTS.includes(type)) fail("E_INVALID_ARGUMENT", `unknown event type ${String(type)}; one of ${EVENTS.join(", ")} (field: type)`);
    if (typeof listener !== "function") fail("E_INVALID_ARGUMENT", "listener must be a function (field: listener)");
    (this.#on[type] ??= new Set()).add(listener);
    return () => this.off(type, listener);
  }
  off(type, listener) {
    this.#on[type]?.delete(listener);
  }

  /** Stops taking events, sends what is queued, waits for the requests in flight, lets go. */
  shutdown() {
    return this.#d.shutdown();
  }

  /** Called by the driver: (delivered, messageIds) (failed, messageId, code, reason)
   * (rateLimited | quotaHeld, until) (warning, code, message, messageId?). */
  emit(type, a, b, c) {
    const p = type === "delivered" ? { messageIds: a }
      : type === "failed" ? { messageId: a, code: b, reason: c }
      : type === "warning" ? (c ? { code: a, message: b, messageId: c } : { code: a, message: b })
      : { until: a };
    if (this.#debug) console.debug("[batchwire]", type, p);
    for (const f of this.#on[type] ?? []) {
      try {
        f(p);
      } catch (e) {
        // A broken listener must not stop the others or the driver; the page still sees it.
        setTimeout(() => {
          throw e;
        });
      }
    }
  }
}

/** Anything thrown while reading caller input becomes a BatchwireError. */
function wrap(e) {
  if (e instanceof BatchwireError) return e;
  let m;
  try {
    m = String(e?.message ?? e);
  } catch {
    m = "unreadable input";
  }
  // A wasm trap is our bug, not the caller's: say so rather than blame their event.
  return new BatchwireError(e instanceof WebAssembly.RuntimeError ? "E_INTERNAL" : "E_INVALID_EVENT", m);
}
