// batchwire's edge Worker: the Durable Object class `Shard`. Each one holds one partition of one
// destination's queue in its storage ("q:…" entries, in enqueue order; "d:<messageId>" dead
// letters) and delivers from `alarm()` only: the alarm is the timer, so nothing depends on a
// request staying alive. engine.js is the only code that touches the wasm; this file does the
// I/O around it.
import { DurableObject } from "cloudflare:workers";
import { boot, readCapped } from "./load.js";

const REQUEST_TIMEOUT_MS = 30_000;
const UPSTREAM_BODY_CAP = 1 << 20;
const STORAGE_BATCH = 128; // keys per put/delete call (the storage API's limit)
const LIST_PAGE = 1000;
const WAKE = Symbol("wake");
const ROUTINE = new Set(["send", "delivered"]); // engine log kinds logged only with EDGE_LOG=debug
const DEFAULT_SENDS_PER_ALARM = 40; // one alarm invocation stays under the Free plan's 50 subrequests

// ---------------------------------------------------------------------------------------------
// The Durable Object: one partition of one destination's queue.

export class Shard extends DurableObject {
  constructor(ctx, env) {
    super(ctx, env);
    this.shard = null; // the engine's shard, once this object knows its name
    this.name = null;
    this.delivering = false;
    this.wake = null; // wakes a delivery loop waiting for an answer
    this.alarmAt = null; // the alarm this object has set (read from storage at start)
    this.named = false; // "meta:name" is stored
    this.sendsPerAlarm = Number(env.EDGE_SENDS_PER_ALARM) || DEFAULT_SENDS_PER_ALARM;
    ctx.blockConcurrencyWhile(() => this.#load());
  }

  /** Loads the engine, the name stored at the first append, and the queue into engine.shard. */
  async #load() {
    const booted = await boot(this.env);
    if (booted.error) throw booted.error;
    this.engine = booted.engine;
    this.cfg = booted.cfg;
    this.alarmAt = await this.ctx.storage.getAlarm();
    const name = await this.ctx.storage.get("meta:name");
    if (name === undefined) return;
    await this.#open(name);
    // Entries held but no alarm (or restored entries the engine rewrites at its next poll): deliver.
    if (this.alarmAt === null && this.shard.stats().held > 0) await this.#arm(Date.now());
  }

  /** The engine's shard for `name`, every stored entry restored (dead letters, then the queue). */
  async #open(name) {
    const shard = this.engine.shard(this.cfg, name); // engine.js draws the seed from crypto
    const now = Date.now();
    for (const prefix of ["d:", "q:"]) {
      let startAfter;
      for (;;) {
        const page = await this.ctx.storage.list({ prefix, startAfter, limit: LIST_PAGE });
        for (const [k, v] of page) {
          shard.restore(k, v, now);
          startAfter = k;
        }
        if (page.size < LIST_PAGE) break;
      }
    }
    this.name = name;
    this.shard = shard;
    this.named = true;
  }

  /** The first append names this object (stored with it: an alarm after a restart has no name). */
  #create(name) {
    this.shard = this.engine.shard(this.cfg, name);
    this.name = name;
  }

  /** Issues every put and delete with no await between them: one atomic write. */
  #write(puts, deletes) {
    const st = this.ctx.storage;
    const ops = [];
    for (let i = 0; i < puts.length; i += STORAGE_BATCH) {
      ops.push(st.put(Object.fromEntries(puts.slice(i, i + STORAGE_BATCH))));
    }
    for (let i = 0; i < deletes.length; i += STORAGE_BATCH) ops.push(st.delete(deletes.slice(i, i + STORAGE_BATCH)));
    return Promise.all(ops);
  }

  /**
   * A storage write or the engine failed: memory may be ahead of storage, or the engine's state
   * unusable (a wasm trap). The object is reset, and its next call starts again from storage
   * (an alarm that throws is retried by the runtime). Throws.
   */
  #reset(what, e) {
    console.error(`batchwire edge: shard ${this.name}: ${what}: ${e?.stack ?? e}`);
    this.ctx.abort?.(what);
    throw e;
  }

  #arm(at) {
    this.alarmAt = at;
    return this.ctx.storage.setAlarm(at);
  }

  /**
   * Makes sure an alarm comes now, unless a delivery loop is running (it polls again itself) or
   * one is already due. Issued with the writes it follows, so both go in one storage commit.
   */
  #kick() {
    if (this.delivering) return null;
    const now = Date.now();
    if (this.alarmAt !== null && this.alarmAt <= now) return null;
    return this.#arm(now);
  }

  /** RPC from the front: one part of a request. Resolves once every put is written. */
  async append(name, events) {
    // Fault injection for the tests of the 503 path (never set in a deployment).
    if (Math.random() < Number(this.env.EDGE_TEST_FAIL_APPENDS ?? 0)) throw new Error("append refused (EDGE_TEST_FAIL_APPENDS)");
    if (this.shard === null) this.#create(name);
    let a;
    try {
      a = this.shard.append(events, Date.now());
    } catch (e) {
      this.#reset("the engine failed", e);
    }
    const puts = this.named ? a.puts : [["meta:name", name], ...a.puts];
    const written = this.#write(puts, []);
    const armed = a.puts.length > 0 ? this.#kick() : null;
    try {
      await written;
      await armed;
    } catch (e) {
      this.#reset("a storage write failed", e);
    }
    this.named = true;
    if (a.puts.length > 0) this.wake?.(); // a delivery loop waiting on an answer polls now
    return a.puts.length;
  }

  async alarm() {
    this.alarmAt = null; // this one has fired
    if (this.shard === null) return;
    this.delivering = true;
    try {
      await this.#deliver(this.shard);
    } catch (e) {
      this.#reset("delivery failed", e);
    } finally {
      this.delivering = false;
    }
  }

  /**
   * poll → write → send → response/failure → poll again, until nothing is in flight; then the
   * alarm the engine asks for. After `sendsPerAlarm` requests it stops polling, lets what is in
   * flight finish and sets the alarm to now: one invocation stays under the subrequest limit.
   */
  async #deliver(shard) {
    shard.timeout(Date.now());
    const inFlight = new Map();
    let sent = 0;
    let next = null; // the engine's next timer, from the last poll
    for (;;) {
      if (sent < this.sendsPerAlarm) {
        const step = shard.poll(Date.now());
        next = step.alarm ?? null;
        this.#log(step.log);
        if (step.puts.length > 0 || step.deletes.length > 0) {
          await this.#write(step.puts, step.deletes);
        }
        for (const s of step.sends) {
          inFlight.set(s.id, this.#send(s));
          sent++;
        }
        if (inFlight.size === 0) {
          if (step.alarm !== null && step.alarm !== undefined) await this.#arm(step.alarm);
          return;
        }
      } else if (inFlight.size === 0) {
        await this.#arm(Date.now());
        return;
      }
      // The next answer, or the engine's timer, or an append: whichever comes first.
      let timer;
      const woken = sent >= this.sendsPerAlarm ? [] : [new Promise((resolve) => {
        this.wake = () => resolve(WAKE);
        if (next !== null && next > Date.now()) timer = setTimeout(() => resolve(WAKE), next - Date.now());
      })];
      const r = await Promise.race([...inFlight.values(), ...woken]);
      clearTimeout(timer);
      this.wake = null;
      if (r === WAKE) {
        shard.timeout(Date.now());
        continue;
      }
      inFlight.delete(r.id);
      if (r.status === undefined) shard.failure(r.id, Date.now());
      else shard.response(r.id, r.status, r.retryAfter, r.body, Date.now(), r.location);
    }
  }

  /** One upstream request: POST, redirects not followed, aborted after the timeout. */
  async #send(s) {
    const ctl = new AbortController();
    const timer = setTimeout(() => ctl.abort(), s.timeoutMs ?? this.cfg.requestTimeoutMs ?? REQUEST_TIMEOUT_MS);
    try {
      const res = await fetch(s.url, {
        method: "POST", headers: s.headers, body: s.body, redirect: "manual", signal: ctl.signal,
      });
      const body = await readCapped(res, UPSTREAM_BODY_CAP);
      return {
        id: s.id, status: res.status, retryAfter: res.headers.get("retry-after"),
        location: res.headers.get("location"), body: body ?? new Uint8Array(0),
      };
    } catch (e) {
      if (this.env.EDGE_LOG === "debug") console.log(`batchwire edge: ${this.name}: send ${s.id} failed: ${e}`);
      return { id: s.id };
    } finally {
      clearTimeout(timer);
    }
  }

  #log(entries) {
    if (!entries || entries.length === 0) return;
    const level = this.env.EDGE_LOG ?? "info";
    if (level === "none") return;
    for (const e of entries) {
      if (level === "debug" || !ROUTINE.has(e.kind)) console.log(`batchwire edge: ${this.name}: ${JSON.stringify(e)}`);
    }
  }

  // ---- admin RPCs

  async #deadEntries() {
    const out = [];
    let startAfter;
    for (;;) {
      const page = await this.ctx.storage.list({ prefix: "d:", startAfter, limit: LIST_PAGE });
      for (const [k, v] of page) {
        out.push([k, v]);
        startAfter = k;
      }
      if (page.size < LIST_PAGE) return out;
    }
  }

  async deadLetters(name) {
    if (this.shard === null) return [];
    const dec = new TextDecoder();
    return (await this.#deadEntries()).map(([, v]) => {
      const d = JSON.parse(typeof v === "string" ? v : dec.decode(v));
      return { messageId: d.messageId, code: d.code, reason: d.reason, failedAt: d.failedAt, shard: this.name ?? name };
    });
  }

  /** Puts the dead letters named (all when `ids` is null) back into the queue, same messageIds. */
  async replay(_name, ids) {
    if (this.shard === null) return 0;
    const want = ids === null ? null : new Set(ids);
    const now = Date.now();
    const puts = [];
    const deletes = [];
    let n = 0;
    for (const [k, v] of await this.#deadEntries()) {
      if (want !== null && !want.has(k.slice(2))) continue;
      const r = this.shard.replay(k, v, now);
      puts.push(...r.puts);
      deletes.push(...r.deletes);
      n++;
    }
    if (n === 0) return 0;
    const written = this.#write(puts, deletes);
    const armed = this.#kick();
    try {
      await written;
      await armed;
    } catch (e) {
      this.#reset("a storage write failed", e);
    }
    return n;
  }

  async stats(name) {
    if (this.shard === null) return { shard: name, active: false };
    return { shard: this.name, active: true, ...this.shard.stats() };
  }
}
