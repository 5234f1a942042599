// The stores: where the driver's records are kept, and nothing else. The driver
// (src/web/records.rs) decides which record holds which event, and when an event leaves its
// record or a record is deleted; a store carries that out. The driver names a record by a
// number: above 0, one it made, whose key is this store's random prefix (64 random bits) and the
// number; below 0, one this store numbered (`num`: loaded, or handed over by a follower), kept
// until it is deleted. Both stores have one interface:
// - put(record, messageId, value, share): event (messageId, value) into record number `record`
//   (the driver's own), written in this tick. `share`: once committed, the record is reported to
//   `committed` (a follower hands it to the leader).
// - remove(record, messageId): the record is rewritten without that event (read and written
//   back in the tick's transaction), or deleted if nothing is left (as a record of the one-event
//   format always is). The store is what knows everything a record holds, so it alone deletes;
//   a record it wrote itself is deleted without being read once every event it wrote there is
//   taken out.
// - load(): every event stored, as [record number, messageId, value, ...] oldest first, or the
//   Error; num(key): the number of record `key`; leave(): commit now, and return the shared
//   records written but not yet reported as committed (a page being left hands them over
//   itself); close().
// A tick's writes are ONE transaction: the first of a tick queues a microtask that commits them.
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

// A record holds up to a request's worth of a tick's events (flushAt): [messageId, value, ...],
// each value as the driver made it (records.rs: enqueue time, sequence, the event). One record per
// request costs one IndexedDB request and one structured clone, where one record per event cost
// that per event; its ack empties it, so it is read once and deleted, never rewritten, where a
// record per tick was rewritten at each ack (O(n^2) bytes for a burst of n). A record
// an earlier release wrote is one event's value (a Uint8Array) keyed by its messageId: both are
// read, so an upgrade between two pages loses nothing. A value that is not a Uint8Array is passed
// on empty (the driver drops it from its record); a key that is not a string is no record of
// ours, and `gone` is called with it.
//
// Sorted oldest first: each value starts with a big-endian enqueue time and sequence number, so
// comparing those 12 bytes compares ages. Sorting here keeps a sort implementation out of the
// wasm.
function flatten(keys, values, gone, num) {
  const e = [];
  keys.forEach((key, i) => {
    const x = values[i];
    if (typeof key !== "string") gone(key);
    else if (!Array.isArray(x)) e.push([num(key), key, x]);
    else for (let j = 0; j < x.length; j += 2) typeof x[j] === "string" && e.push([num(key), x[j], x[j + 1]]);
  });
  for (const x of e) x[2] instanceof Uint8Array || (x[2] = new Uint8Array());
  const age = (x, i) => (x.length > i ? x[i] : -1);
  return e.sort((a, b) => {
    for (let i = 0; i < 12; i++) {
      const d = age(a[2], i) - age(b[2], i);
      if (d) return d;
    }
    return 0;
  }).flat();
}

// The tick batching both stores share: put/remove/del only note what to do; `commit` hands a
// tick's notes to the store's `apply(writes, removals, done)` (writes: a Map of record ->
// {l: [messageId, value, ...], share}, or 0 to delete, for a key that is no record of ours;
// removals: a Map of record -> [messageId, ...]), which calls `done` once they are durable.
class Ticks {
  #w = new Map();
  #rm = new Map();
  // Per record this store wrote: how many of the events it wrote there are not yet taken out
  // (the driver takes each out once). A record is never written to again under its key, so once
  // none is left it holds nothing, and it is deleted without being read (a record acked whole, the
  // usual case). Records it did not write (loaded, handed over) are read and rewritten as before.
  // A count, not the set of messageIds: that cost about 35 B of JS heap per queued event. Keyed
  // by number. A follower's shared records are not counted: the leader takes their events out.
  #mine = new Map();
  // The records this store numbered, below 0 (the last one #n): number -> key and key -> number
  // in one map, forgotten once deleted.
  #names = new Map();
  #n = 0;
  #pre = crypto.getRandomValues(new Uint32Array(2)).join(".") + "-";
  #open = new Set(); // batches written whose transaction has not completed
  #committed;
  constructor(committed) {
    this.#committed = committed;
  }
  num(key) {
    const m = this.#names;
    let n = m.get(key);
    n || m.set((n = --this.#n), key).set(key, n);
    return n;
  }
  // Record `key` (maybe one this store numbered) was deleted.
  forget(key) {
    this.#names.delete(this.#names.get(key));
    this.#names.delete(key);
  }
  put(n, key, value, share) {
    this.#soon();
    const record = this.#pre + n;
    // `value` is a view of wasm memory, which moves when it grows: copied now.
    this.#w.get(record)?.l.push(key, value.slice()) ?? this.#w.set(record, { l: [key, value.slice()], share });
    share || this.#mine.set(n, (this.#mine.get(n) ?? 0) + 1);
  }
  remove(n, key) {
    const c = this.#mine.get(n), record = n > 0 ? this.#pre + n : this.#names.get(n);
    if (c === 1) return this.#mine.delete(n), this.del(record);
    c && this.#mine.set(n, c - 1);
    // A number this store does not know (its record deleted) names nothing to change.
    if (!record) return;
    this.#soon();
    this.#rm.get(record)?.push(key) ?? this.#rm.set(record, [key]);
  }
  del(record) {
    this.#soon();
    this.#w.set(record, 0);
    this.#rm.delete(record);
  }
  leave() {
    this.commit();
    const left = [];
    for (const b of this.#open) if (!b.told && (b.told = true)) left.push(...b.puts);
    return left;
  }
  // Called before each note: the first of a tick queues the commit.
  #soon() {
    this.#w.size || this.#rm.size || queueMicrotask(() => this.commit());
  }
  commit() {
    const w = this.#w, rm = this.#rm;
    if (!w.size && !rm.size) return;
    this.#w = new Map();
    this.#rm = new Map();
    // The shared records of this batch, as [record, {l}], reported once.
    const b = { puts: [...w].filter((x) => x[1]?.share), told: false };
    this.#open.add(b);
    this.apply(w, rm, () => {
      this.#open.delete(b);
      if (b.puts.length && !b.told && (b.told = true)) this.#committed(b.puts);
    });
  }
}

// Record `x` without the events in `gone`: the list left, or 0 when nothing is.
const strip = (x, gone) => {
  const l = [];
  if (Array.isArray(x)) for (let i = 0; i < x.length; i += 2) gone.includes(x[i]) || l.push(x[i], x[i + 1]);
  return l.length && l;
};

// Memory only (the storage option "memory", or no IndexedDB): what lives as long as the page.
export class MemoryStore extends Ticks {
  #m = new Map();
  apply(w, rm, done) {
    for (const [k, r] of w) r ? this.#m.set(k, r.l) : this.#m.delete(k);
    for (const [k, gone] of rm) {
      const l = strip(this.#m.get(k), gone);
      l ? this.#m.set(k, l) : this.#m.delete(k) && this.forget(k);
    }
    done();
  }
  load() {
    return Promise.resolve(flatten([...this.#m.keys()], [...this.#m.values()], 0, (k) => this.num(k)));
  }
  close() {}
}

// IndexedDB. `failed(error)` gets the first failure, after which no record is written (the
// events stay in memory, and shared records are still reported) but deletes and removals are
// still tried, so delivered events do not linger. Should a transaction fail, a later page
// resends events already delivered, with their messageIds, which the server de-duplicates.
export class IdbStore extends Ticks {
  #db;
  #broken = false;
  #failed;
  constructor(db, committed, failed) {
    super(committed);
    this.#db = db;
    this.#failed = failed;
  }
  get ok() {
    return !this.#broken;
  }
  apply(w, rm, done) {
    let once = 0; // a failed transaction reports both error and abort
    const fail = (e) => {
      if (once++) return;
      if (!this.#broken) {
        this.#broken = true;
        this.#failed(e);
      }
      done(); // not durable, but a follower still hands them over
    };
    try {
      const tx = this.#db.transaction(STORE, "readwrite");
      const s = tx.objectStore(STORE);
      for (const [k, r] of w) r ? this.#broken || s.put(r.l, k) : s.delete(k);
      // A record to rewrite is read once, after this tick's writes.
      for (const [k, gone] of rm) {
        s.get(k).onsuccess = (e) => {
          const l = strip(e.target.result, gone);
          l ? s.put(l, k) : (s.delete(k), this.forget(k));
        };
      }
      tx.oncomplete = done;
      tx.onerror = tx.onabort = () => fail(tx.error ?? new DOMException("transaction aborted", "AbortError"));
      // Unless a rewrite waits for its read, commit now rather than when the task ends, which
      // narrows the window in which closing the page loses the transaction.
      if (!rm.size) tx.commit?.();
    } catch (e) {
      fail(e);
    }
  }
  // Resolves to the Error if reading fails. Keys that are no record of ours are deleted.
  load() {
    try {
      const s = this.#db.transaction(STORE).objectStore(STORE);
      return Promise.all([settle(s.getAllKeys()), settle(s.getAll())]).then(
        ([keys, values]) => flatten(keys, values, (k) => this.del(k), (k) => this.num(k)),
        (e) => e,
      );
    } catch (e) {
      return Promise.resolve(e);
    }
  }
  close() {
    this.#db.close(); // IndexedDB finishes the transactions already started first
  }
}
