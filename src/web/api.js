// The JavaScript half of batchwire, one module (one request): the public Client (option and
// argument checks, JSON encoding, listeners, the error type) and the IO the driver asks for.
// src/web/driver.rs decides; this carries out. JSON.stringify is native, and a typeof check is
// free here but a boundary crossing plus code in wasm.

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
/** Throws what every call of a shut-down client throws. */
export const shutDown = () => fail("E_SHUTDOWN", "the client was shut down");
const config = (field, what) => fail("E_CONFIG", `${field} must be ${what} (field: ${field})`);

/** A core configuration error, its Rust field names (max_batch_bytes) as option names. */
export const configError = (message) =>
  new BatchwireError("E_CONFIG", message.replace(/[a-z]+(_[a-z]+)+/g, (m) => m.replace(/_(.)/g, (_, c) => c.toUpperCase())));

const PROTOCOLS = ["v1-batch", "amplitude-http-v2", "amplitude-batch"];
// Order matters: src/js.rs reads them by index. Unset ones go as -1 (keep the core's default).
const NUMBERS = ["flushAt", "flushIntervalMs", "maxBatchBytes", "maxInFlight", "maxQueueEvents", "maxQueueBytes",
  "backoffBaseMs", "backoffMaxMs", "giveUpAfterMs", "quotaProbeMs"];
// Order matters: src/js.rs emits notes by index.
const EVENTS = ["delivered", "failed", "rateLimited", "quotaHeld", "warning"];
// The driver's inputs that carry at most one number, as src/js.rs's `on` export numbers them.
// index.js answers SHUTDOWN and STAT itself once a shut-down client's driver is freed.
const DRIVE = 0, TIMER = 1, HIDDEN = 2, LEAVE = 3, LEAD = 4, LOADED = 5, LEADER_CHANGED = 6, FLUSH_NOW = 7,
  STORE_FAILED = 8, FLUSH = 9, FAILURE = 11;
export const SHUTDOWN = 10, STAT = 16;

// A random (version 4) UUID. crypto.randomUUID() costs more than all the rest of a track() in
// Chromium, and is missing outside secure contexts: random bytes are drawn 4 KiB at a time
// instead, and written through a table.
const HEX = Array.from({ length: 256 }, (_, i) => (i + 256).toString(16).slice(1));
let random, drawn = 4096;
const uuid = () => {
  if (drawn > 4080) crypto.getRandomValues((random ??= new Uint8Array(4096))), (drawn = 0);
  const h = (k, v = random[drawn + k]) => HEX[k === 6 ? (v & 15) | 64 : k === 8 ? (v & 63) | 128 : v];
  const id = h(0) + h(1) + h(2) + h(3) + "-" + h(4) + h(5) + "-" + h(6) + h(7) + "-" + h(8) + h(9) + "-" +
    h(10) + h(11) + h(12) + h(13) + h(14) + h(15);
  drawn += 16;
  return id;
};

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

// The messageIds a page had in requests still in flight when it was left, each with the time
// before which nobody sends it again ({messageId: until}): its request may still be on its way
// (a keepalive send outlives its page) or at the server. localStorage, because the page being
// left must write it synchronously and the next page, or another tab taking over, must read it
// at once. Adds `ids` (until `until`) when given; returns what is still held. Where localStorage
// throws, nothing is held (the server still de-duplicates the resend).
function held(writeKey, ids, until) {
  const key = "batchwire:inflight:" + writeKey, now = Date.now(), h = {};
  try {
    const old = JSON.parse(localStorage.getItem(key));
    for (const id in old) if (old[id] > now) h[id] = old[id];
    if (ids) {
      for (const id of ids) h[id] = until;
      localStorage.setItem(key, JSON.stringify(h));
    }
  } catch {}
  return h;
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
  const durable = storage === "indexeddb";
  // number(i): NUMBERS' values, then protocol, durable (0/1) and the two 32-bit halves of the seed.
  const all = [...numbers, protocol, +durable, seed[0], seed[1]];
  return { writeKey, apiHost, durable, anonymousId: anon, debug: !!o.debug, number: (i) => all[i] };
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

// Names and ids cross into the wasm joined by U+0000 (src/js.rs `enqueue`), so none may hold one
// (no analytics backend keeps one intact either).
function text(v, field) {
  if (typeof v !== "string") invalid(`${field} must be a string, not ${v === null ? "null" : typeof v} (field: ${field})`);
  if (v.includes("\0")) invalid(`${field} must not contain U+0000 (field: ${field})`);
  return v;
}
const id = (v, field) => (v == null ? "" : text(v, field));

function time(t) {
  if (t == null) return -1;
  const ms = t instanceof Date ? t.getTime() : typeof t === "string" ? Date.parse(t) : t;
  if (typeof ms !== "number" || !Number.isFinite(ms) || ms < 0) {
    invalid("timestamp must be a Date, an ISO 8601 string or epoch milliseconds (field: timestamp)");
  }
  return ms;
}

// ---- IO. Everything goes through globals (fetch, setTimeout, indexedDB, navigator.locks), never
// `window`, so pages, workers and workerd share one path. Nothing here throws or rejects: a
// failure comes back as a value, and an Error keeps its name (QuotaExceededError, TypeError, ...).

// POST; resolves to [status, Retry-After (as seconds) or null, body text], or to the Error when no HTTP
// response came (offline, DNS, CORS, a keepalive body over the browser's 64 KiB quota).
export async function post(url, headers, body, keepalive) {
  try {
    const r = await fetch(url, { method: "POST", headers, body, keepalive });
    let wait = r.headers.get("retry-after");
    // An HTTP-date becomes the whole seconds left until it (rounded up, so never early), read by
    // the platform's Date.parse: the package's wasm reads only seconds (Cargo feature http-date).
    if (wait && /\D/.test(wait.trim())) {
      const at = Date.parse(wait);
      wait = Number.isNaN(at) ? "" : String(Math.max(0, Math.ceil((at - Date.now()) / 1000)));
    }
    return [r.status, wait, await r.text()];
  } catch (e) {
    return e instanceof Error ? e : new Error(String(e));
  }
}

// One timer, re-armed in place. setTimeout fires at once above 2^31-1 ms, so longer waits are
// clamped (they fire early, and the driver re-arms).
export class Timer {
  #id;
  #fire;
  constructor(fire) {
    this.#fire = fire;
  }
  arm(ms) {
    clearTimeout(this.#id);
    this.#id = ms == null ? undefined : setTimeout(this.#fire, Math.min(ms, 2147483647));
  }
}

const STORE = "events";

const settle = (r) =>
  new Promise((ok, fail) => {
    r.onsuccess = () => ok(r.result);
    r.onerror = () => fail(r.error);
  });

// Opens (creating) the database `name`; resolves to the IDBDatabase or to the Error. Some
// browsers leave `open` pending forever (blocked upgrades, broken private modes): after `ms` it
// gives up with a TimeoutError, so the client falls back to memory instead of never starting.
export function openStore(name, ms) {
  return new Promise((ok, fail) => {
    const r = indexedDB.open(name, 1); // a missing indexedDB throws here: a rejection too
    let late = 0;
    const t = setTimeout(() => {
      late = 1;
      fail(new DOMException("indexedDB.open timed out", "TimeoutError"));
    }, ms);
    r.onupgradeneeded = () => r.result.createObjectStore(STORE);
    r.onsuccess = () => {
      const db = r.result;
      if (late) return db.close();
      clearTimeout(t);
      db.onversionchange = () => db.close(); // a newer build wants it: step aside
      ok(db);
    };
    r.onerror = () => {
      clearTimeout(t);
      fail(r.error);
    };
  }).catch((e) => e);
}

// A record holds the events of one tick: [messageId, value, messageId, value, ...], each value as
// the driver made it (driver.rs: enqueue time, sequence, the event). One record per tick costs one
// request and one structured clone, where one record per event cost that per event. A record an
// earlier release wrote is one event's value (a Uint8Array) keyed by its messageId: both are read,
// so an upgrade between two pages loses nothing.
const each = (r, f) => {
  if (Array.isArray(r)) for (let i = 0; i < r.length; i += 2) f(r[i], r[i + 1]);
};

// Events as [messageIds, values, records], oldest first: each value starts with a big-endian
// enqueue time and sequence number (driver.rs), so comparing those 12 bytes compares ages.
// Sorting here keeps a sort implementation out of the wasm. `records` holds, per event, what
// `Store.adopt` takes: its record, or 0 for the one-event format (keyed by the messageId); what
// is no record of ours is passed on as it is, for the caller to delete. Resolves to the Error if
// reading fails.
export function loadStore(db) {
  try {
    const s = db.transaction(STORE).objectStore(STORE);
    return Promise.all([settle(s.getAllKeys()), settle(s.getAll())]).then(([keys, values]) => {
      const k = [], v = [], r = [];
      keys.forEach((key, i) => {
        const x = values[i], rec = { k: key, n: 0 };
        Array.isArray(x) ? each(x, (m, e) => k.push(m) + v.push(e) + r.push(rec)) : k.push(key) + v.push(x) + r.push(0);
      });
      const age = (x, i) => (x instanceof Uint8Array && x.length > i ? x[i] : -1);
      const order = k.map((_, i) => i).sort((a, b) => {
        for (let i = 0; i < 12; i++) {
          const d = age(v[a], i) - age(v[b], i);
          if (d) return d;
        }
        return 0;
      });
      return [k, v, r].map((l) => order.map((i) => l[i]));
    }, (e) => e);
  } catch (e) {
    return Promise.resolve(e);
  }
}

// Batches a tick's writes into ONE transaction and ONE record: put/del only append, the first of
// a tick queues a microtask that commits them all. `committed(puts, key)` gets the puts written, as
// [messageId, value, share, ...], and their record's key, once each; `failed(error)` the first
// failure, after which no record is written (the events stay in memory) but deletes are still
// tried, so delivered events do not linger. `leave()` commits at once, for a page being torn
// down, and returns the batches not yet reported (a follower hands them over before the page is
// gone; the store no longer reports them).
//
// `del(messageId)` settles an event: its record is deleted once none of its events is left, and
// rewritten without it otherwise (read and written back in that tick's transaction), so a later
// page resends nothing acknowledged. Should that transaction fail, a later page resends events
// already delivered, with their messageIds, which the server de-duplicates.
export class Store {
  #db;
  #puts = [];
  #ops = []; // [key, 0 (delete) or the record to rewrite, ...], in the order asked
  #due = false;
  #broken = false;
  #open = new Set(); // batches written whose transaction has not completed
  #of = new Map(); // messageId -> {k: record key, n: its events unsettled}
  #rec; // this tick's record
  #committed;
  #failed;
  constructor(db, committed, failed) {
    this.#db = db;
    this.#committed = committed;
    this.#failed = failed;
  }
  get ok() {
    return !this.#broken;
  }
  get db() {
    return this.#db;
  }
  put(key, value, share) {
    // `value` may be a view of wasm memory, which moves when it grows: copy it now.
    const v = value.slice();
    if (this.#broken) share && this.#committed([key, v, share]); // memory only, but a follower hands it over
    // A record key of its own: a caller-given messageId may come back once settled.
    else this.#puts.push(key, v, share), this.adopt(key, (this.#rec ??= { k: "b" + Date.now() + Math.random(), n: 0 }));
    this.#soon();
  }
  // Event `key` is held by record `r` (one loaded, or handed over with a follower's events); an
  // event known already stays with the record it is known in.
  adopt(key, r) {
    r && !this.#of.has(key) && this.#of.set(key, r) && r.n++;
  }
  // Another tab settled the event: its record is that tab's to update. Returns the record.
  forget(key) {
    const r = this.#of.get(key);
    this.#of.delete(key);
    if (r) r.n--;
    return r;
  }
  del(key) {
    const r = this.forget(key);
    // A one-event record, an emptied record, or one to rewrite (this tick's is written without
    // the event anyway).
    this.#ops.push(r ? r.k : key, r?.n && r !== this.#rec && r);
    this.#soon();
  }
  leave() {
    this.#commit();
    const left = [];
    for (const b of this.#open) if (!b.told && (b.told = true)) left.push(b);
    return left;
  }
  close() {
    this.#db.close(); // IndexedDB finishes the transactions already started first
  }
  #soon() {
    if (this.#due || (!this.#puts.length && !this.#ops.length)) return;
    this.#due = true;
    queueMicrotask(() => this.#commit());
  }
  #commit() {
    this.#due = false;
    const rec = this.#rec;
    this.#rec = undefined;
    if (!this.#puts.length && !this.#ops.length) return;
    const b = { puts: this.#puts, key: rec?.k, told: false };
    const ops = this.#ops;
    this.#puts = [];
    this.#ops = [];
    this.#open.add(b);
    const tell = () => {
      this.#open.delete(b);
      if (b.puts.length && !b.told && (b.told = true)) this.#committed(b.puts, b.key);
    };
    let once = 0; // a failed transaction reports both error and abort
    const fail = (e) => {
      if (once++) return;
      if (!this.#broken) {
        this.#broken = true;
        this.#failed(e);
      }
      tell(); // not durable, but a follower still hands them over
    };
    let reads = 0, s;
    // Writes record r with those of its events (given as a record) still unsettled; not at all
    // if none is (emptied meanwhile: its delete is queued after this; or not written yet).
    const write = (r, x) => {
      const l = [];
      each(x, (m, v) => this.#of.get(m) === r && l.push(m, v));
      if (r.n && l.length) s.put(l, r.k);
    };
    try {
      const tx = this.#db.transaction(STORE, "readwrite");
      s = tx.objectStore(STORE);
      // In the order asked; a record to rewrite is read once per transaction.
      for (let i = 0; i < ops.length; i += 2) {
        const [k, r] = [ops[i], ops[i + 1]];
        if (!r) s.delete(k);
        else if (r.w !== b) (r.w = b), reads++, (s.get(k).onsuccess = (e) => write(r, e.target.result));
      }
      if (rec) write(rec, b.puts.filter((_, i) => i % 3 < 2));
      tx.oncomplete = tell;
      tx.onerror = tx.onabort = () => fail(tx.error ?? new DOMException("transaction aborted", "AbortError"));
      // Everything is queued (unless a rewrite waits for its read): commit now rather than when
      // the task ends, which narrows the window in which closing the page loses the transaction.
      if (!reads) tx.commit?.();
    } catch (e) {
      fail(e);
    }
  }
}

// Requests the Web Lock `name`; `granted()` runs once this context holds it, and it is held until
// `stop()` is called (or the context goes away). `free` resolves to whether it was free at once,
// so a client knows its role before createClient resolves. Undefined where Web Locks are missing
// or refused (workerd, opaque origins): the caller is then its own leader.
export function lead(name, granted) {
  try {
    const locks = navigator.locks;
    const stop = new AbortController();
    let release;
    const hold = () => {
      granted();
      return new Promise((r) => (release = r));
    };
    const free = new Promise((known) => {
      locks
        .request(name, { ifAvailable: true }, (lock) => {
          if (lock) {
            const held = hold();
            known(true);
            return held;
          }
          known(false);
          locks.request(name, { signal: stop.signal }, hold).catch(() => {}); // withdrawn
        })
        .catch(() => known(false));
    });
    return { free, stop: () => (release ? release() : stop.abort()) };
  } catch {}
}

// Calls `hidden()` when the page is hidden (tab switch, minimise, mobile navigation), `left()`
// when it is left (pagehide, which unlike `unload` keeps the back/forward cache usable) and
// `back()` when it returns from that cache. Returns the undo; inert outside a document.
export function onHide(hidden, left, back) {
  const doc = globalThis.document;
  if (!doc) return () => {};
  const vis = () => doc.visibilityState === "hidden" && hidden();
  const show = (e) => e.persisted && back();
  addEventListener("pagehide", left);
  addEventListener("pageshow", show);
  doc.addEventListener("visibilitychange", vis);
  return () => {
    removeEventListener("pagehide", left);
    removeEventListener("pageshow", show);
    doc.removeEventListener("visibilitychange", vis);
  };
}

// ---- The client.

const strings = (a) => (Array.isArray(a) ? a.filter((x) => typeof x === "string") : []);
const describe = (e) => `${e?.name ?? "Error"}: ${e?.message ?? e}`;

/** What createClient resolves to. Every method is safe to call with anything. */
export class Client {
  #d; // the Rust driver: its exports, bound to it by index.js
  #o;
  #max;
  #user;
  #on = {};
  #early = []; // notes from before createClient resolved: nobody could listen yet
  #headers = {};
  #timer;
  #store;
  #channel;
  #unlock;
  #unhide;
  #flushAfter = false;
  #turn = 0; // counts leadership attempts: a load finishing after the page was left is dropped
  #loading;
  #waits = 0;
  #waiting = new Map();

  /** `o` comes from parseOptions; `headers` is JSON [name, value, ...] for every request. */
  constructor(o, headers) {
    this.#o = o;
    headers = JSON.parse(headers);
    for (let i = 0; i < headers.length; i += 2) this.#headers[headers[i]] = headers[i + 1];
  }

  /** Called once by createClient (src/js.rs) with the driver; resolves to this client. */
  async start(d, max) {
    this.#d = d;
    this.#max = max;
    this.#timer = new Timer(() => d.on(TIMER));
    const name = "batchwire:" + this.#o.writeKey;
    const db = this.#o.durable && (await openStore(name, 3000));
    if (db instanceof Error) this.#broke(db);
    else if (db) {
      this.#store = new Store(db, (puts, key) => this.#share(puts, key), (e) => this.#broke(e));
      try {
        this.#channel = new BroadcastChannel(name);
        this.#channel.onmessage = (e) => this.#message(e.data);
      } catch {}
    }
    await this.#join();
    // Leaving, the page lets the lock go: Chrome keeps no page holding one in the back/forward
    // cache. Back from that cache, it asks again.
    const leave = () => {
      this.#turn++;
      d.on(LEAVE); // the unload send, and this tick's records to the store
      // Commit now, and hand what is not known to be committed to the leader: the page may be
      // gone before either transaction or message would otherwise complete.
      for (const b of this.#store?.leave() ?? []) this.#share(b.puts, b.key);
      this.#unlock?.();
      this.#unlock = undefined;
    };
    this.#unhide = onHide(() => d.on(HIDDEN), leave, () => this.#join());
    setTimeout(() => {
      const early = this.#early;
      this.#early = null;
      for (const n of early) this.#dispatch(...n);
    });
    return this;
  }

  // Asks for the lock (granted: lead); without a channel or Web Locks nobody can share this
  // queue, so it leads alone at once.
  // Resolves once the role is known and, when leading, the stored queue is restored, so that a
  // flush() right after createClient covers what earlier pages left.
  #join() {
    const name = "batchwire:" + this.#o.writeKey;
    const turn = ++this.#turn;
    const l = this.#channel && lead(name, () => (this.#loading = this.#lead(turn)));
    this.#unlock = l?.stop;
    if (!l) return (this.#loading = this.#lead(turn));
    return l.free.then((free) => free && this.#loading);
  }

  async #lead(turn) {
    const d = this.#d;
    d.on(LEAD);
    const r = this.#store && (await loadStore(this.#store.db));
    if (turn !== this.#turn) return; // the page was left meanwhile: this lead is over
    const h = held(this.#o.writeKey), later = [];
    let until = 0;
    if (r instanceof Error) this.#broke(r);
    else if (r) {
      for (let i = 0; i < r[0].length; i++) {
        const [k, v] = [r[0][i], r[1][i] instanceof Uint8Array ? r[1][i] : new Uint8Array()];
        if (typeof k !== "string") this.#store.del(k); // not ours
        else {
          this.#store.adopt(k, r[2][i]);
          // Still in a request of the page that was left: restored once that request may be over.
          if (h[k]) later.push(k, v), (until = Math.max(until, h[k]));
          else d.restore(k, v, true);
        }
      }
    }
    d.on(LOADED);
    if (later.length) {
      setTimeout(() => {
        if (turn !== this.#turn) return; // left meanwhile: they stay stored for the next leader
        for (let i = 0; i < later.length; i += 2) d.restore(later[i], later[i + 1], true);
        d.on(FLUSH_NOW); // they were being sent when their page was left: due at once
      }, until - Date.now());
    }
    this.#post(["lead"]); // followers still waiting in flush() ask this tab again
  }

  // The store failed: the client keeps going in memory, and says so once.
  #broke(e) {
    if (this.#d.on(STORE_FAILED)) this.#note(EVENTS.indexOf("warning"), ["W_STORAGE", `IndexedDB failed (${describe(e)}); events are kept in memory only`]);
  }

  #post(m) {
    try {
      this.#channel?.postMessage(m);
    } catch {}
  }

  // Committed events a follower hands to the leader, with the key of the record that holds them:
  // ["put", flush now?, record key, messageId, value, ...].
  #share(puts, key) {
    const m = ["put", this.#flushAfter, key];
    this.#flushAfter = false;
    for (let i = 0; i < puts.length; i += 3) if (puts[i + 2]) m.push(puts[i], puts[i + 1]);
    if (m.length > 3) this.#post(m);
  }

  #message(m) {
    const d = this.#d;
    if (!Array.isArray(m)) return;
    if (m[0] === "put") {
      // One record for the events of one message: a follower's tick. Known by every tab, so that
      // whichever leads, now or later, updates it as they settle.
      const rec = m[2] && { k: m[2], n: 0 };
      for (let i = 3; i + 1 < m.length; i += 2) {
        if (typeof m[i] === "string" && m[i + 1] instanceof Uint8Array) {
          this.#store?.adopt(m[i], rec);
          d.restore(m[i], m[i + 1], false);
        }
      }
      d.on(m[1] ? FLUSH_NOW : DRIVE);
    } else if (m[0] === "flush") d.on(FLUSH_NOW);
    else if (m[0] === "lead") d.on(LEADER_CHANGED);
    else if (m[0] === "done") {
      // The leader updated their records: this tab only forgets them.
      for (const id of strings(m[1])) d.settled(id, "", ""), this.#store?.forget(id);
      const f = strings(m[2]);
      for (let i = 0; i + 2 < f.length; i += 3) d.settled(f[i], f[i + 1], f[i + 2]), this.#store?.forget(f[i]);
      d.on(DRIVE);
    }
  }

  // The IO the driver asks for (src/js.rs); each returns at once and never calls back into the
  // driver before returning.
  send(id, path, body, keepalive) {
    body = body.slice(); // a view of wasm memory, valid only during this call
    const go = () =>
      post(this.#o.apiHost + path, this.#headers, body, keepalive).then((r) =>
        Array.isArray(r) ? this.#d.response(id, r[0], r[1] ?? "", r[2]) : this.#d.on(FAILURE, id));
    // fetch runs after the driver returns, so an instrumented fetch that tracks an event does not
    // re-enter it; a page being left sends at once, before it can be torn down.
    if (keepalive) go();
    else queueMicrotask(go);
  }
  arm(ms) {
    this.#timer.arm(ms < 0 ? undefined : ms);
  }
  schedule() {
    queueMicrotask(() => this.#d.on(DRIVE));
  }
  put(key, value, share) {
    if (this.#store) this.#store.put(key, value, share);
    else if (share) this.#share([key, value.slice(), share]);
  }
  del(key) {
    this.#store?.del(key);
  }
  settled(delivered, failed) {
    this.#post(["done", JSON.parse(delivered), JSON.parse(failed)]);
  }
  hold(ids, until) {
    held(this.#o.writeKey, JSON.parse(ids), until);
  }
  askFlush() {
    this.#flushAfter = true; // also on the next records this tab hands over
    this.#post(["flush"]);
  }
  release() {
    this.#unlock?.();
    this.#unhide?.();
    this.#channel?.close();
    this.#timer.arm();
    this.#store?.close();
    this.#unlock = this.#unhide = this.#channel = this.#store = undefined;
  }
  /** A note for the listeners: `kind` indexes EVENTS; `text` is the JSON of [messageIds...]
   * (delivered), [messageId, code, reason] (failed), [code, message, messageId?] (warning),
   * `until` the time (rateLimited, quotaHeld). Listeners run in a microtask, never inside the
   * driver. */
  emit(kind, text, until) {
    this.#note(kind, JSON.parse(text), until);
  }
  #note(kind, s, until) {
    if (this.#early) this.#early.push([kind, s, until]);
    else queueMicrotask(() => this.#dispatch(kind, s, until));
  }

  #dispatch(kind, s = [], until) {
    const [a, b, c] = s, type = EVENTS[kind];
    const p = type === "delivered" ? { messageIds: s }
      : type === "failed" ? { messageId: a, code: b, reason: c }
      : type === "warning" ? (c ? { code: a, message: b, messageId: c } : { code: a, message: b })
      : { until };
    if (this.#o.debug) console.debug("[batchwire]", type, p);
    for (const f of this.#on[type] ?? []) {
      try {
        f(p);
      } catch (e) {
        // A broken listener must not stop the others; the page still sees its error.
        setTimeout(() => {
          throw e;
        });
      }
    }
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
    return this.#add(5, undefined, undefined, options, userId, undefined, previousId ?? this.#o.anonymousId);
  }

  // kind: track, identify, page, screen, group, alias (src/js.rs has the same order). userId,
  // groupId and previousId given as arguments win over the options object.
  #add(kind, name, payload, options, userId, groupId, previousId) {
    try {
      if (options != null && typeof options !== "object") invalid("options must be an object (field: options)");
      const o = options ?? {};
      if (kind === 0 || name != null) text(name, kind === 0 ? "event" : "name");
      const max = this.#max;
      // The id is made here, not in wasm: returning a string from wasm costs a TextDecoder call.
      const messageId = id(o.messageId, "messageId") || uuid(); // "" counts as absent, as in the core
      // One string for the wasm, in the order src/js.rs `enqueue` reads; "" is absent.
      const e = this.#d.enqueue(kind, (name ?? "") + "\0" +
        (json(payload, kind === 1 || kind === 4 ? "traits" : "properties", max) ?? "") + "\0" +
        (json(o.context, "context", max) ?? "") + "\0" + id(userId ?? o.userId ?? this.#user, "userId") + "\0" +
        id(o.anonymousId ?? this.#o.anonymousId, "anonymousId") + "\0" +
        id(groupId === undefined ? o.groupId : groupId, "groupId") + "\0" + id(previousId ?? o.previousId, "previousId") +
        "\0" + messageId, time(o.timestamp));
      if (e) fail(e.slice(0, e.indexOf("\0")), e.slice(e.indexOf("\0") + 1));
      return messageId;
    } catch (e) {
      throw wrap(e);
    }
  }

  /** Resolves once every event queued before the call is delivered or has failed. */
  flush() {
    return this.#wait((w) => this.#d.on(FLUSH, w) || shutDown());
  }

  stats() {
    const s = [0, 1, 2, 3, 4, 5, 6, 7].map((i) => this.#d.on(STAT + i));
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
    return this.#wait((w) => this.#d.on(SHUTDOWN, w));
  }

  // A promise the driver resolves by number (`resolve`): no JS function crosses into the wasm.
  #wait(f) {
    return new Promise((ok) => {
      const w = this.#waits++;
      this.#waiting.set(w, ok);
      try {
        f(w);
      } catch (e) {
        this.#waiting.delete(w);
        throw e;
      }
    });
  }
  resolve(w) {
    this.#waiting.get(w)?.();
    this.#waiting.delete(w);
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
