// The stores: where the driver's records are kept.

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
