// The public Client: listeners, the promises the driver resolves by number, and the IO the
// driver asks for, carried out with the wrappers beside it. src/web/driver.rs decides; this
// carries out.
import {
  ABANDON, ALIAS, DRIVE, EVENTS, SKIP_SYNC, FAILURE, FLUSH, FLUSH_NOW, GROUP, HIDDEN, IDENTIFY, LEAD, LEADER_CHANGED, LEAVE, LOADED,
  PAGE, SCREEN, SHUTDOWN, STAT, STATS, STORE_FAILED, TIMER, TRACK, TYPES,
} from "./abi.js";
import { BatchwireError, fail, id, invalid, json, shutDown, skipSync, text, time, wrap } from "./check.js";
import { anonymousId, held, kept, session, uuid } from "./ids.js";
import { request, starting, Timer, toWorker } from "./net.js";
import { fixedContext, pageFields } from "./page.js";
import { IdbStore, memoryStore, openStore } from "./store.js";
import { lead, onHide } from "./tabs.js";

const strings = (a) => (Array.isArray(a) ? a.filter((x) => typeof x === "string") : []);
const describe = (e) => `${e?.name ?? "Error"}: ${e?.message ?? e}`;
const FAILED = 1, WARNING = 4; // their indexes in EVENTS

/** What createClient resolves to. Every method is safe to call with anything. */
export class Client {
  #d; // the Rust driver: its exports, bound to it by index.js
  #o;
  #max;
  #timeout;
  #user;
  #traits = {};
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
  #consent; // "granted", "pending" (events wait in #held, in memory) or "denied"
  #held; // consent "pending": extras.js waiting()
  #session; // ids.js session()
  #fixed; // the context fields that do not change (page.js fixedContext)
  #ctx = []; // the last context made without the caller's: [its key, its JSON]
  #unview; // stops autoPageViews
  #consented; // hears another tab's optIn() / optOut()
  #say; // debug: extras.js say()
  // Browser mode: events tracked, for the engine in this tick's microtask (#hand), or in the call
  // that makes them 256: a burst's strings held until the task ends outlived the young
  // generation's collections, which copied each of them (2-3 µs of main-thread CPU per event at
  // 10,000 events, bench/README.md); handed over by 256 they die young. (By 32 measured the
  // same, but then every 100 calls paid for about 100 events of the engine's work.)
  #q = [];
  #closed; // shutdown() was called

  /** `o` comes from parseOptions; the rest is what the driver's `setup` reported: `headers`, JSON
   * [name, value, ...] for every request, the largest request and the request timeout. */
  constructor(o, headers, max, timeout) {
    this.#o = o;
    this.#consent = o.consent;
    if (o.debug) this.#say = o.extras.say;
    if (o.consent === "pending") this.#held = o.extras.waiting(o, (m) => this.#note(FAILED, m), this.#say);
    this.#fixed = o.context && fixedContext(o.context, o.version);
    // Browser mode: the identity identify() gave on an earlier page ({u: userId, t: traits}).
    try {
      const k = !o.server && JSON.parse(kept("user", o.writeKey));
      if (k) (this.#user = k.u ?? undefined), (this.#traits = k.t ?? {});
    } catch {}
    this.#max = max;
    this.#timeout = timeout;
    headers = JSON.parse(headers);
    for (let i = 0; i < headers.length; i += 2) this.#headers[headers[i]] = headers[i + 1];
  }

  /** Called once by createClient (src/js.rs) with the driver; resolves to this client. */
  async start(d) {
    // Browser mode hands events to the engine after track() has returned (#hand); every input
    // of `on` (flush, stats, the page hidden or left, a timer, shutdown) hands those over first,
    // so it sees them queued, in order. The others need not: a restored or settled event, or an
    // answer, is unaffected by events queued later.
    const on = d.on;
    d.on = (...a) => (this.#hand(), on(...a));
    this.#d = d;
    this.#say?.("watch", this, d); // debug: each request and the engine's wait after it
    this.#timer = new Timer(() => d.on(TIMER));
    const name = "batchwire:" + this.#o.writeKey;
    const db = this.#o.durable && (await openStore(name, 3000));
    const share = (puts) => this.#share(puts);
    if (db instanceof Error) this.#broke(db);
    // Memory only when IndexedDB is not wanted or did not open: then nobody can share the queue.
    this.#store = db && !(db instanceof Error) ? new IdbStore(db, share, (e) => this.#broke(e), toWorker, starting) : memoryStore;
    if (this.#store.ok) {
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
      this.#share(this.#store.leave());
      this.#unlock?.();
      this.#unlock = undefined;
    };
    this.#unhide = onHide(() => d.on(HIDDEN), leave, () => this.#join());
    // Another tab's optIn() or optOut() applies here at once (localStorage's storage event).
    const k = "batchwire:consent:" + this.#o.writeKey;
    this.#consented = (e) => e.key === k && (e.newValue === "denied" ? this.optOut() : e.newValue && this.optIn());
    globalThis.addEventListener?.("storage", this.#consented);
    if (this.#o.autoPageViews) {
      this.page();
      this.#unview = this.#o.extras.onNavigate(() => this.page());
    }
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
    const r = await this.#store.load();
    if (turn !== this.#turn) return; // the page was left meanwhile: this lead is over
    if (r instanceof Error) this.#broke(r);
    else {
      // With the time before which each may not be sent, for those a left page had in flight:
      // the driver holds them back until then.
      const h = held(this.#o.writeKey);
      for (let i = 0; i < r.length; i += 3) d.restore(r[i], r[i + 1], r[i + 2], true, h[r[i + 1]] || 0);
    }
    d.on(LOADED);
    this.#post(["lead"]); // followers still waiting in flush() ask this tab again
  }

  // The store failed: the client keeps going in memory, and says so once.
  #broke(e) {
    if (this.#d.on(STORE_FAILED)) this.#note(WARNING, ["W_STORAGE", `IndexedDB failed (${describe(e)}); events are kept in memory only`]);
  }

  #post(m) {
    try {
      this.#channel?.postMessage(m);
    } catch {}
  }

  // Committed records a follower hands to the leader ([record, [messageId, value, ...]]),
  // one message each: ["put", flush now?, record, messageId, value, ...].
  #share(puts) {
    for (const [k, l] of puts) this.#post(["put", this.#flushAfter, k, ...l]);
    if (puts.length) this.#flushAfter = false;
  }

  #message(m) {
    const d = this.#d;
    if (!Array.isArray(m)) return;
    if (m[0] === "put") {
      // A follower's record: the leader's driver now keeps account of it too, and rewrites or
      // deletes it as its events settle.
      for (let i = 3; i + 1 < m.length && typeof m[2] === "string"; i += 2) {
        typeof m[i] === "string" && m[i + 1] instanceof Uint8Array && d.restore(this.#store.num(m[2]), m[i], m[i + 1], false, 0);
      }
      d.on(m[1] ? FLUSH_NOW : DRIVE);
    } else if (m[0] === "flush") d.on(FLUSH_NOW);
    else if (m[0] === "lead") d.on(LEADER_CHANGED);
    else if (m[0] === "done") {
      // The leader updated their records: this tab only forgets them.
      for (const id of strings(m[1])) d.settled(id, "", "");
      const f = strings(m[2]);
      for (let i = 0; i + 2 < f.length; i += 3) d.settled(f[i], f[i + 1], f[i + 2]);
      d.on(DRIVE);
    }
  }

  // The IO the driver asks for (src/js.rs); each returns at once and never calls back into the
  // driver before returning.
  send(id, path, body, keepalive) {
    body = body.slice(); // a view of wasm memory, valid only during this call
    const go = () =>
      request(this.#o.apiHost + path, this.#headers, body, keepalive, this.#timeout).then((r) =>
        Array.isArray(r) ? this.#d.response(id, r[0], r[1] ?? "", r[2]) : this.#d.on(FAILURE, id, r));
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
  put(record, keys, values, ends, share) {
    this.#store.put(record, keys, values, ends, share);
  }
  rm(record, keys, n) {
    this.#store.remove(record, keys, n);
  }
  reload() {
    // After the export that asks returns: the load starts by calling into the driver.
    queueMicrotask(() => (this.#loading = this.#lead(this.#turn)));
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
    this.#unview?.();
    globalThis.removeEventListener?.("storage", this.#consented);
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
    this.#say?.("note", type, s, until);
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
    return this.#add(TRACK, event, properties, options);
  }
  identify(userId, traits, options) {
    const messageId = this.#add(IDENTIFY, undefined, traits, options, userId);
    // Server mode: one client serves many users, so identity is per event only. In a browser the
    // user and their traits (merged while the user stays the same) are kept for later pages.
    if (!this.#o.server) {
      if (typeof userId === "string" && userId && userId !== this.#user) (this.#user = userId), (this.#traits = {});
      this.#traits = { ...this.#traits, ...traits };
      this.#keepUser();
    }
    return messageId;
  }
  // Kept for later pages once consent is granted; optIn() keeps it then.
  #keepUser() {
    if (this.#consent === "granted") kept("user", this.#o.writeKey, JSON.stringify({ u: this.#user, t: this.#traits }));
  }
  /** Who later events are from: { userId, anonymousId, traits } (browser mode). */
  user() {
    return { userId: this.#user ?? null, anonymousId: this.#o.anonymousId || null, traits: { ...this.#traits } };
  }
  /** Logout: forgets the user and their traits, here and for later pages, and starts a new
   * anonymousId. Events already queued keep the identity they were tracked with. */
  reset() {
    if (this.#o.server) return;
    this.#user = undefined;
    this.#traits = {};
    this.#session = undefined;
    kept("user", this.#o.writeKey, null);
    kept("session", this.#o.writeKey, null);
    this.#o.anonymousId = anonymousId(this.#o.writeKey, 1, this.#consent === "granted");
  }

  /** Consent given: events are stored and sent, and the identity kept, from now on; events
   * tracked while consent was pending are queued now, with the time they were tracked at. Kept
   * for later pages (browser mode). */
  optIn() {
    const o = this.#o;
    if (!o.server) kept("consent", o.writeKey, "granted"), kept("anonymousId", o.writeKey, o.anonymousId);
    this.#consent = "granted";
    this.#keepUser();
    this.#held?.release(this.#q);
    this.#hand();
  }
  /** Consent refused or withdrawn: from now on nothing is stored or sent (each call still
   * validates its input and returns a messageId), events waiting for consent are dropped, and the
   * identity kept in this browser is removed. Events queued before, with consent, are still
   * delivered. Kept for later pages (browser mode). */
  optOut() {
    const o = this.#o;
    if (!o.server) for (const k of ["anonymousId", "user", "session"]) kept(k, o.writeKey, null);
    if (!o.server) kept("consent", o.writeKey, "denied");
    this.#consent = "denied";
    this.#held?.clear();
  }
  /** "granted", "pending" (events wait in memory for optIn()) or "denied". */
  consent() {
    return this.#consent;
  }
  /** In a document, with context.page on, the page's fields (path, referrer, search, title, url)
   * are the default properties. */
  page(name, properties, options) {
    const p = this.#o.context?.page && (properties ?? {}).constructor === Object && pageFields();
    return this.#add(PAGE, name, p ? { ...p, ...properties } : properties, options);
  }
  screen(name, properties, options) {
    return this.#add(SCREEN, name, properties, options);
  }
  group(groupId, traits, options) {
    return this.#add(GROUP, undefined, traits, options, undefined, groupId ?? null);
  }
  /** Links `previousId` (default: this client's anonymousId) to the new `userId`. */
  alias(userId, previousId, options) {
    if (userId == null) throw new BatchwireError("E_INVALID_EVENT", "alias needs the new userId (field: userId)");
    return this.#add(ALIAS, undefined, undefined, options, userId, undefined, previousId ?? this.#o.anonymousId);
  }

  // kind: TRACK ... ALIAS (abi.js). userId, groupId and previousId given as arguments win over
  // the options object.
  #add(kind, name, payload, options, userId, groupId, previousId) {
    try {
      if (options != null && typeof options !== "object") invalid("options must be an object (field: options)");
      let o = options ?? {};
      const max = this.#max, f = this.#o.beforeSend, names = kind ? "name" : "event";
      const traits = kind === IDENTIFY || kind === GROUP ? "traits" : "properties";
      // The id is made here, not in wasm: returning a string from wasm costs a TextDecoder call.
      let messageId = id(o.messageId, "messageId") || uuid(); // "" counts as absent, as in the core
      let user = userId ?? o.userId ?? this.#user, anon = o.anonymousId ?? this.#o.anonymousId;
      if (groupId === undefined) groupId = o.groupId;
      previousId ??= o.previousId;
      if (f) {
        // The event as it would be queued; what beforeSend returns is what is validated and
        // queued (its `type` excepted), null drops it, and an error it throws is reported.
        let r;
        try {
          r = f({ ...o, type: TYPES[kind], [names]: name, [traits]: payload, context: this.#context(o.context, max, 1), userId: user,
            anonymousId: anon, groupId, previousId, messageId });
        } catch (x) {
          this.#note(FAILED, [messageId, "E_BEFORE_SEND", `beforeSend threw ${describe(x)}; the event was not queued`]);
          return messageId;
        }
        if (r === null) return this.#say?.("event", TYPES[kind], name, messageId, "dropped"), messageId;
        if (typeof r !== "object") invalid("beforeSend must return the event or null (field: beforeSend)");
        ({ userId: user, anonymousId: anon, groupId, previousId, [names]: name, [traits]: payload } = o = r);
        messageId = id(r.messageId, "messageId") || messageId;
      }
      if (kind === TRACK || name != null) text(name, kind === TRACK ? "event" : "name");
      // One string for the wasm, in the order src/js.rs `enqueue` reads; "" is absent.
      const k = kind + (skipSync(o.skipUserPropertiesSync, "E_INVALID_EVENT") ? SKIP_SYNC : 0), fields = (name ?? "") + "\0" +
        (json(payload, traits, max) ?? "") + "\0" + ((f ? json(o.context, "context", max) : this.#context(o.context, max)) ?? "") + "\0" + id(user, "userId") + "\0" +
        id(anon, "anonymousId") + "\0" + id(groupId, "groupId") + "\0" + id(previousId, "previousId") + "\0" + messageId;
      // With the time it was tracked at. Server mode queues it now, so that the engine's refusal
      // (its rules, a full queue) throws; a page hands it over in a microtask (or in the call that
      // makes 256 wait, #q), which reports a refusal through `failed`, and consent "pending" keeps
      // it in memory only.
      let e = [k, fields, time(o.timestamp), messageId], c = this.#consent;
      if (this.#closed) shutDown();
      c === "granted" ? (this.#o.server ? (e = this.#d.enqueue(e)) && fail(...e.split("\0")) : (this.#q.push(e) > 1 ? this.#q.length < 256 || this.#hand() : queueMicrotask(() => this.#hand()))) : c === "pending" && this.#held.add(e);
      this.#say?.("event", TYPES[kind], name, messageId, c);
      return messageId;
    } catch (e) {
      throw wrap(e);
    }
  }

  // A page's events, to the engine; what it refuses is reported (what server mode throws):
  // failed: "E_INVALID_EVENT", "E_QUEUE_FULL", "E_TOO_LARGE", "E_UNSUPPORTED", "E_SHUTDOWN"
  #hand() {
    for (const e of this.#q.splice(0)) {
      const r = this.#d.enqueue(e);
      r && this.#note(FAILED, [e[3], ...r.split("\0")]);
    }
  }

  // The event's context, JSON: the caller's `given` over what this client adds (the fixed fields,
  // the page's, the session id). Without `given` the same page and session give the same text,
  // made once. `fresh`: the object instead, new (for beforeSend, which may change it).
  #context(given, max, fresh) {
    const o = this.#o, d = o.context?.page && globalThis.document, t = o.sessionTimeoutMs;
    const sid = t && (this.#session = session(this.#session, o.writeKey, t, this.#consent === "granted"))[0];
    if (!this.#fixed && !sid) return fresh ? given : json(given, "context", max);
    // The URL and title are all of the page that may change (the referrer is the document's).
    // document.URL, not location.href: the same URL, but read in 0.07 µs rather than 0.7-2 µs
    // (Chromium), less than the rest of a track().
    const key = sid + (d ? "\0" + d.URL + "\0" + d.title : "");
    if (!fresh && given == null && this.#ctx[0] === key) return this.#ctx[1];
    const p = d && pageFields(), c = fresh ? fixedContext(o.context, o.version) : { ...this.#fixed };
    if (p) c.page = p;
    if (sid) c.sessionId = sid;
    if (fresh) return given == null ? c : (json(given, "context", max), { ...c, ...given });
    if (given != null) return json(given, "context", max) && json({ ...c, ...given }, "context", max);
    return (this.#ctx = [key, json(c, "context", max)])[1];
  }

  /** Resolves once every event queued before the call is delivered or has failed. */
  flush() {
    return this.#wait((w) => this.#d.on(FLUSH, w) || shutDown());
  }

  stats() {
    const s = {};
    STATS.forEach((k, i) => (s[k] = this.#d.on(STAT + i)));
    s.rateLimitedUntil ||= null;
    s.quotaHeldUntil ||= null;
    s.stored = s.stored === 1;
    return s;
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
    this.#closed = 1;
    return this.#wait((w) => this.#d.on(SHUTDOWN, w));
  }

  /** Server mode (the Node entry's closeAndFlush at its timeout): everything still queued or in
   * flight fails with E_SHUTDOWN, reported through `failed`. */
  abandon() {
    this.#d.on(ABANDON);
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

