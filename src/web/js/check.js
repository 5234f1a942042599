// What the application passes in, checked: createClient's options and each event's fields,
// and the error type every refusal throws. Checks run here because a typeof check is free in
// JavaScript but a boundary crossing plus code in wasm, and JSON.stringify is native.
import { DERIVE_ANONYMOUS_ID, DURABLE, HOSTS, OPTIONS, ZERO_FROM, PROTOCOL, PROTOCOLS, SEED_HIGH, SEED_LOW, SKIP_USER_PROPERTIES_SYNC, ZONES } from "./abi.js";
import { anonymousId, kept } from "./ids.js";
import { CONTEXT } from "./page.js";

/** Every error batchwire throws: `code` is stable, `message` names the field. */
export class BatchwireError extends Error {
  constructor(code, message) {
    super(message);
    this.name = "BatchwireError";
    this.code = code;
  }
}

export const fail = (code, message) => {
  throw new BatchwireError(code, message);
};
export const invalid = (message) => fail("E_INVALID_EVENT", message);
/** Throws what every call of a shut-down client throws. */
export const shutDown = () => fail("E_SHUTDOWN", "the client was shut down");
/** `skipUserPropertiesSync`, as an option or per event: absent is false, anything but a boolean
 * throws `code`. */
export const skipSync = (v, code) =>
  v == null || typeof v === "boolean" ? !!v : fail(code, "skipUserPropertiesSync must be a boolean (field: skipUserPropertiesSync)");
const config = (field, what) => fail("E_CONFIG", `${field} must be ${what} (field: ${field})`);

/** A core configuration error, its Rust field names (max_batch_bytes) as option names. */
export const configError = (message) =>
  new BatchwireError("E_CONFIG", message.replace(/[a-z]+(_[a-z]+)+/g, (m) => m.replace(/_(.)/g, (_, c) => c.toUpperCase())));

/** Checks createClient's options; src/js.rs reads the plain object returned. */
export function parseOptions(o) {
  if (o === null || typeof o !== "object") config("options", "an object");
  const text = (k) => {
    const v = o[k];
    if (typeof v !== "string" || !v) config(k, "a non-empty string");
    return v;
  };
  const writeKey = text("writeKey");
  const protocol = PROTOCOLS.indexOf(o.protocol ?? "v1-batch");
  if (protocol < 0) config("protocol", PROTOCOLS.join(" or "));
  const zone = ZONES.indexOf(o.serverZone ?? "US");
  if (zone < 0) config("serverZone", '"US" or "EU"');
  // Amplitude's host for the zone when no apiHost is given; /v1-batch has no default host.
  let apiHost = (protocol && o.apiHost === undefined ? HOSTS[zone] : text("apiHost")).replace(/\/+$/, "");
  try {
    apiHost = new URL(apiHost, globalThis.location?.href).href.replace(/\/+$/, "");
  } catch {
    config("apiHost", "a URL");
  }
  const storage = o.storage ?? "indexeddb";
  if (storage !== "indexeddb" && storage !== "memory") config("storage", '"indexeddb" or "memory"');
  const numbers = OPTIONS.map((k, i) => {
    const v = o[k];
    if (v === undefined) return -1;
    // flushIntervalMs 0 means "no waiting" and a pacing budget (requestsPerWindow,
    // identityEventsPer*) 0 means "not paced"; every other knob must be positive.
    const zero = i === 1 || i >= ZERO_FROM;
    if (typeof v !== "number" || !(v >= (zero ? 0 : 1)) || v > 2 ** 52) {
      config(k, zero ? "a number >= 0" : "a number >= 1");
    }
    return Math.floor(v);
  });
  // Server mode (the Node entry's default, which checks the option and the storage): identity per
  // event only, nothing shared or kept.
  const server = +(o.mode === "server");
  // Consent: what optIn() / optOut() kept for this browser and write key wins over the option.
  let consent = o.consent ?? "granted";
  if (consent !== "granted" && consent !== "pending") config("consent", '"granted" or "pending"');
  consent = (!server && kept("consent", writeKey)) || consent;
  let anon = o.anonymousId;
  if (anon === undefined) anon = server ? "" : anonymousId(writeKey, 0, consent === "granted");
  else if (typeof anon !== "string" || !anon) config("anonymousId", "a non-empty string");
  const seed = crypto.getRandomValues(new Uint32Array(2));
  const durable = storage === "indexeddb";
  // number(i), as abi.js numbers them: OPTIONS' values, then protocol, durable (0/1) and the
  // two 32-bit halves of the seed.
  const all = numbers;
  all[PROTOCOL] = protocol;
  all[DURABLE] = +durable;
  all[SEED_HIGH] = seed[0];
  all[SEED_LOW] = seed[1];
  all[SKIP_USER_PROPERTIES_SYNC] = +skipSync(o.skipUserPropertiesSync, "E_CONFIG");
  all[DERIVE_ANONYMOUS_ID] = server;
  const beforeSend = o.beforeSend;
  if (beforeSend !== undefined && typeof beforeSend !== "function") config("beforeSend", "a function");
  // The context each event gets: every field of page.js CONTEXT on (browser mode's default), off
  // (server mode's), or as an object turns them off one by one ({ userAgent: false }).
  let context = o.context ?? !server;
  if (typeof context !== "boolean") {
    if (!context || typeof context !== "object") config("context", "a boolean or an object of booleans");
    for (const k in context) if (!CONTEXT.includes(k) || typeof context[k] !== "boolean") config("context." + k, `a boolean, for one of ${CONTEXT}`);
  }
  context &&= Object.fromEntries(CONTEXT.map((k) => [k, context[k] ?? true]));
  const sessionTimeoutMs = o.sessionTimeoutMs ?? (server ? 0 : 1800000);
  if (!(sessionTimeoutMs >= 0)) config("sessionTimeoutMs", "a number >= 0");
  for (const k of ["debug", "autoPageViews"]) if (o[k] != null && typeof o[k] !== "boolean") config(k, "a boolean");
  return { writeKey, apiHost, durable, server, anonymousId: anon, beforeSend, debug: o.debug, context, sessionTimeoutMs, autoPageViews: o.autoPageViews, consent, number: (i) => all[i] };
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
// many servers reject as a whole request. They become U+FFFD, as TextEncoder (src/web/index.js)
// makes them in names and ids.
// An odd run of backslashes before "u" means the last one starts the escape.
const lone = (s) => s.replace(/(\\+)ud[89a-f][0-9a-f]{2}/g, (m, b) => (b.length % 2 ? b.slice(1) + "\\ufffd" : m));

/** JSON text of an object argument (properties, traits, context), or undefined when absent. */
export function json(v, field, max) {
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

// Names and ids cross into the wasm joined by U+0000 (src/js.rs `enqueue`), so none may hold one
// (no analytics backend keeps one intact either).
export function text(v, field) {
  if (typeof v !== "string") invalid(`${field} must be a string, not ${v === null ? "null" : typeof v} (field: ${field})`);
  if (v.includes("\0")) invalid(`${field} must not contain U+0000 (field: ${field})`);
  return v;
}
export const id = (v, field) => (v == null ? "" : text(v, field));

/** The event's time, epoch ms: now when none is given. */
export function time(t) {
  if (t == null) return Date.now();
  const ms = t instanceof Date ? t.getTime() : typeof t === "string" ? Date.parse(t) : t;
  if (typeof ms !== "number" || !Number.isFinite(ms) || ms < 0) {
    invalid("timestamp must be a Date, an ISO 8601 string or epoch milliseconds (field: timestamp)");
  }
  return ms;
}

/** Anything thrown while reading caller input becomes a BatchwireError. */
export function wrap(e) {
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
