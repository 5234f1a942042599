// The edge Worker's engine: the only JavaScript that touches its wasm (edge/src/abi.rs).
// Values cross as numbers and bytes in the module's memory; structured answers as JSON text, and
// the bytes they carry (parts, request bodies, storage values) as [pointer, length] pairs that are
// copied out once, before the next call.
//
// How a Durable Object drives its shard (one per object, created in its constructor):
//   at start   for each stored [key, value] in key order: shard.restore(key, value, now)
//   on append  const { puts } = shard.append(part.events, now); write every put, THEN answer
//   then       loop: step = shard.poll(now); write step.puts, delete step.deletes (dead letters
//              come out as a delete of "q:..." plus a put of "d:..." in the same step); fetch each
//              step.sends[i] (POST, redirect: "manual", aborted after its timeoutMs) and give its
//              end to shard.response(id, status, retryAfter, body, now[, location]) or
//              shard.failure(id, now), then poll again; arm the alarm at step.alarm (null: none)
//   on alarm   shard.timeout(now), then poll.
// restore, response, failure and timeout return nothing: the storage work they decide comes out
// of the next poll, so poll after each of them.

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** The configuration is invalid; `.field` is the path of the member at fault. */
export class EdgeConfigError extends Error {
  constructor(field, message) {
    super(`${field}: ${message}`);
    this.name = "EdgeConfigError";
    this.field = field;
  }
}

const HANDLE = Symbol("batchwire.edge.config");
const FORMS = { batch: 0, webhook: 1 };

/** Bytes from a Uint8Array, an ArrayBuffer, a view, or a string (UTF-8); null/undefined: none. */
function bytesOf(v, what) {
  if (v == null) return new Uint8Array(0);
  if (v instanceof Uint8Array) return v;
  if (typeof v === "string") return encoder.encode(v);
  if (v instanceof ArrayBuffer) return new Uint8Array(v);
  if (ArrayBuffer.isView(v)) return new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
  throw new TypeError(`${what} must be a Uint8Array, an ArrayBuffer or a string`);
}

export class Engine {
  /** Instantiates the module (a WebAssembly.Module, or its bytes) once. */
  static async load(module) {
    const r = await WebAssembly.instantiate(module, {});
    return new Engine((r.instance ?? r).exports);
  }

  constructor(exports) {
    // A trap (a bug, or memory exhausted) leaves the module's state unusable: every later call
    // throws at once, and `broken` says why, so the Worker can load a new Engine.
    this.broken = null;
    const w = { memory: exports.memory };
    for (const [name, f] of Object.entries(exports)) {
      if (typeof f !== "function") continue;
      w[name] = (...args) => {
        if (this.broken) throw new Error(`batchwire edge engine is broken (${this.broken}); load a new Engine`);
        try {
          return f(...args);
        } catch (e) {
          if (e instanceof WebAssembly.RuntimeError) this.broken = String(e.message);
          throw e;
        }
      };
    }
    this.w = w;
    this.cache = new Map(); // configuration inputs -> cfg, so configure(env) per request is cheap
    this.shards = new Map(); // name -> the live Shard of that Durable Object in this isolate
    this.registry =
      typeof FinalizationRegistry === "function"
        ? new FinalizationRegistry((h) => this.w.bw_shard_free(h))
        : null;
  }

  // --- the boundary ---

  /** Copies `bytes` into a block the next export takes: [pointer, length, capacity]. */
  put(bytes) {
    const p = this.w.bw_alloc(bytes.length);
    new Uint8Array(this.w.memory.buffer, p, bytes.length).set(bytes);
    return [p, bytes.length, bytes.length];
  }

  /** A string straight into a block (no intermediate copy). */
  putString(s) {
    const cap = s.length * 3;
    const p = this.w.bw_alloc(cap);
    const { written } = encoder.encodeInto(s, new Uint8Array(this.w.memory.buffer, p, cap));
    return [p, written, cap];
  }

  /** The answer of the last export, parsed; its blobs ([pointer, length]) are copied out by `blob`. */
  out() {
    const w = this.w;
    const text = decoder.decode(new Uint8Array(w.memory.buffer, w.bw_out_ptr(), w.bw_out_len()));
    return text ? JSON.parse(text) : null;
  }

  blob([p, n]) {
    return new Uint8Array(this.w.memory.buffer, p, n).slice();
  }

  done() {
    this.w.bw_release();
  }

  writes(o) {
    return {
      puts: (o.puts ?? []).map(([k, b]) => [k, this.blob(b)]),
      deletes: o.deletes ?? [],
    };
  }

  // --- the API ---

  /**
   * The configuration from env.BATCHWIRE_EDGE_CONFIG (a string or an object; absent: the default
   * one) and the secrets it names; throws EdgeConfigError naming the field when invalid.
   */
  configure(env) {
    env = env ?? {};
    const raw = env.BATCHWIRE_EDGE_CONFIG;
    const config = raw == null ? null : typeof raw === "string" ? raw : JSON.stringify(raw);
    const strings = {};
    for (const [k, v] of Object.entries(env)) if (typeof v === "string") strings[k] = v;
    const input = JSON.stringify({ config, env: strings });
    const cached = this.cache.get(input);
    if (cached) return cached;
    const h = this.w.bw_configure(...this.putString(input));
    const o = this.out();
    this.done();
    if (h < 0) throw new EdgeConfigError(o.field, o.message);
    const cfg = Object.freeze({
      shards: o.shards,
      maxBodyBytes: o.maxBodyBytes,
      cors: Object.freeze(o.cors),
      perIp: Object.freeze(o.perIp),
      adminKey: o.adminKey ?? null,
      destinations: Object.freeze(o.destinations),
      requestTimeoutMs: o.requestTimeoutMs,
      [HANDLE]: h,
    });
    // A few configurations at most (one per distinct env); the oldest is released past that.
    // Shards keep their own copy of their destination, so releasing one never breaks a shard.
    if (this.cache.size >= 8) {
      const [k, old] = this.cache.entries().next().value;
      this.cache.delete(k);
      this.w.bw_config_free(old[HANDLE]);
    }
    this.cache.set(input, cfg);
    return cfg;
  }

  /**
   * The front: reads, maps, validates and routes a posted body. `key`: the source write key the
   * caller gave; `form`: "batch" or "webhook". Returns { status, body, parts: [{ shard, events }] }.
   */
  ingest(cfg, key, form, bodyBytes, now) {
    const h = handleOf(cfg);
    const f = FORMS[form];
    if (f === undefined) throw new TypeError(`form must be "batch" or "webhook", not ${form}`);
    const k = this.putString(typeof key === "string" ? key : "");
    const b = this.put(bytesOf(bodyBytes, "body"));
    const status = this.w.bw_ingest(h, ...k, f, ...b, Number(now));
    const o = this.out();
    try {
      if (status < 0) throw new Error(o.error);
      return {
        status,
        body: o.body,
        parts: o.parts.map(([shard, events]) => ({ shard, events: this.blob(events) })),
      };
    } finally {
      this.done();
    }
  }

  /**
   * The shard of Durable Object `name` ("destination#n"); `seed` from a real entropy source.
   * Create it once per object (in its constructor). A new shard of a name releases the previous
   * one of that name in this isolate: a Durable Object exists once, so that one belonged to an
   * instance that was reset or evicted, and workerd has no FinalizationRegistry to free it.
   */
  shard(cfg, name, seed) {
    const h = handleOf(cfg);
    if (seed === undefined) {
      const r = new Uint32Array(2);
      crypto.getRandomValues(r);
      seed = r[0] * 2 ** 21 + (r[1] >>> 11);
    }
    const sh = this.w.bw_shard_new(h, ...this.putString(String(name)), Number(seed));
    if (sh < 0) {
      const o = this.out();
      this.done();
      throw new Error(o.error);
    }
    const shard = new Shard(this, sh, String(name));
    this.shards.get(shard.name)?.free();
    this.shards.set(shard.name, shard);
    this.registry?.register(shard, sh, shard);
    return shard;
  }
}

function handleOf(cfg) {
  const h = cfg?.[HANDLE];
  if (typeof h !== "number") throw new TypeError("cfg must come from engine.configure(env)");
  return h;
}

/** One Durable Object's delivery (see edge/src/shard.rs). */
class Shard {
  constructor(engine, h, name) {
    this.e = engine;
    this.h = h;
    this.name = name;
  }

  #check(rc) {
    if (rc < 0) throw new Error("this shard was released");
  }

  /** A stored entry ("q:..." or "d:..."), in key order, at start. */
  restore(key, value, now) {
    const e = this.e;
    const k = e.putString(String(key));
    const v = e.put(bytesOf(value, "value"));
    this.#check(e.w.bw_shard_restore(this.h, ...k, ...v, Number(now)));
  }

  /** Queues a part's events: { puts } to write before the front is answered. */
  append(events, now) {
    const e = this.e;
    const rc = e.w.bw_shard_append(this.h, ...e.put(bytesOf(events, "events")), Number(now));
    const o = e.out();
    try {
      if (rc < 0) throw new Error(o.error);
      return { puts: e.writes(o).puts };
    } finally {
      e.done();
    }
  }

  /**
   * { sends, puts, deletes, alarm, log }: fetch each send (abort it after its `timeoutMs`, then
   * `failure`), apply the storage work, arm the alarm.
   */
  poll(now) {
    const e = this.e;
    const rc = e.w.bw_shard_poll(this.h, Number(now));
    const o = e.out();
    try {
      if (rc < 0) throw new Error(o.error);
      const { puts, deletes } = e.writes(o);
      return {
        sends: o.sends.map((s) => ({
          id: s.id,
          url: s.url,
          headers: s.headers,
          body: e.blob(s.body),
          timeoutMs: s.timeoutMs,
        })),
        puts,
        deletes,
        alarm: o.alarm ?? null,
        log: o.log,
      };
    } finally {
      e.done();
    }
  }

  /** The answer to send `id` (a redirect's Location may be given after `now`). */
  response(id, status, retryAfter, body, now, location = null) {
    const e = this.e;
    const header = (v) => (v == null ? [0, -1, 0] : e.putString(String(v)));
    const ra = header(retryAfter);
    const loc = header(location);
    const b = e.put(bytesOf(body, "body"));
    this.#check(e.w.bw_shard_response(this.h, Number(id), status | 0, ...ra, ...loc, ...b, Number(now)));
  }

  /** Send `id` got no answer (network error, or requestTimeoutMs passed). */
  failure(id, now) {
    this.#check(this.e.w.bw_shard_failure(this.h, Number(id), Number(now)));
  }

  /** The alarm fired; call poll next. */
  timeout(now) {
    this.#check(this.e.w.bw_shard_timeout(this.h, Number(now)));
  }

  stats() {
    const e = this.e;
    this.#check(e.w.bw_shard_stats(this.h));
    const o = e.out();
    e.done();
    return o;
  }

  /** A dead letter back into the queue with its messageId: { puts, deletes }. */
  replay(deadKey, deadValue, now) {
    const e = this.e;
    const k = e.putString(String(deadKey));
    const v = e.put(bytesOf(deadValue, "value"));
    const rc = e.w.bw_shard_replay(this.h, ...k, ...v, Number(now));
    const o = e.out();
    try {
      if (rc < 0) throw new Error(o.error);
      return e.writes(o);
    } finally {
      e.done();
    }
  }

  /** Frees the shard's memory now (otherwise when it is garbage-collected). */
  free() {
    if (this.h < 0) return;
    this.e.registry?.unregister(this);
    if (this.e.shards.get(this.name) === this) this.e.shards.delete(this.name);
    this.e.w.bw_shard_free(this.h);
    this.h = -1;
  }
}
