// The stores: where the driver's records are kept, and nothing else. The driver
// (src/web/records.rs) decides which record holds which event, and when an event leaves its
// record or a record is deleted; a store carries that out. The driver names a record by a
// number: above 0, one it made, whose key is this store's random prefix (64 random bits) and the
// number; below 0, one this store numbered (`num`: loaded, or handed over by a follower), kept
// until it is deleted. Both stores have one interface:
// - put(record, messageIds, values, ends, share): events into record number `record` (the
//   driver's own), written in this tick: event i is (the i-th of `messageIds`, joined by U+0000,
//   the bytes of `values` from ends[i] to ends[i + 1]; ends[0] is 0). One call per record, so a burst's events cross from
//   the driver a record at a time. `share`: once committed, the record is reported to
//   `committed` (a follower hands it to the leader).
// - remove(record, messageIds, k): k events out of the record, `messageIds()` their ids (a
//   function: called, at once, only if they are needed). The record is rewritten without them
//   (read and written back in the tick's transaction), or deleted if nothing is left (as a
//   record of the one-event format always is). The store is what knows everything a record
//   holds, so it alone deletes; a record it wrote itself is deleted without being read, or its
//   ids looked at, once every event it wrote there is taken out.
// - load(): every event stored, as [record number, messageId, value, ...] oldest first, or the
//   Error; num(key): the number of record `key`; leave(): commit now, and return the shared
//   records written but not yet reported as committed (a page being left hands them over
//   itself); close().
// A tick's writes are ONE transaction (one per MiB of values, for a tick that writes more): the
// first of a tick queues a microtask that commits them.
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

// A record's list in a batch (each put's messageIds joined by U+0000, and where each value ends
// in the batch's buffer), as the record's value: [messageId, value, ...]. Self-contained, as
// write() is.
export const values = (l, buf) => {
  const v = [];
  for (let j = 0; j < l.length; j += 2) l[j].split("\0").forEach((id, i, e) => v.push(id, buf.slice((e = l[j + 1])[i], e[i + 1])));
  return v;
};

// One batch (Ticks) into IndexedDB database `db`, in one transaction; a record to take events out
// of is read once, after the batch's writes. `done(error or 0, the records deleted as emptied)`,
// once durable or on the first failure (maybe twice: error and abort). Self-contained: the request
// worker runs its text too (net.js), and is given `values` (above) as this module's callers are.
export function write(db, w, rm, buf, done, values) {
  const gone = [];
  try {
    const tx = db.transaction("events", "readwrite"), s = tx.objectStore("events");
    for (const [k, l] of w) l ? s.put(values(l, buf), k) : s.delete(k);
    for (const [k, ids] of rm)
      s.get(k).onsuccess = (e) => {
        const x = e.target.result, v = [];
        if (Array.isArray(x)) for (let i = 0; i < x.length; i += 2) ids.includes(x[i]) || v.push(x[i], x[i + 1]);
        v.length ? s.put(v, k) : (s.delete(k), gone.push(k));
      };
    tx.oncomplete = () => done(0, gone);
    tx.onerror = tx.onabort = () => done(tx.error ?? new DOMException("transaction aborted", "AbortError"), gone);
    // Unless a rewrite waits for its read, commit now rather than when the task ends, which
    // narrows the window in which closing the page loses the transaction.
    rm.size || tx.commit?.();
  } catch (e) {
    done(e, gone);
  }
}

// Memory only (the storage option "memory", or no IndexedDB): nothing to keep. The driver keeps
// the events; not durable, it writes no record while it leads, and with no store to share a queue
// through, this client leads alone from the start.
export const memoryStore = { put() {}, remove() {}, leave: () => [], load: async () => [], close() {} };

// IndexedDB. A tick's writes are noted (put, remove, del) and committed as one batch in one
// transaction: `w`, a Map of record -> [messageIds joined by U+0000, where each value ends in
// `buf` (a Uint32Array, the first entry where the first starts), ...] (one pair per put), or 0 to
// delete it (also a key that is no record of ours); `rm`, a Map of record -> [messageId,
// ...] to take out of it; `sh`, the records to report to `committed` once durable.
//
// `failed(error)` gets the first failure, after which no record is written (the events stay in
// memory, and shared records are still reported) but deletes and removals are still tried, so
// delivered events do not linger. Should a transaction fail, a later page resends events already
// delivered, with their messageIds, which the server de-duplicates.
//
// Once the request worker runs (net.js), every batch is written from there: IndexedDB's clone of
// the values and its transactions then cost the page nothing, where on the page they were about
// a third of its work per event. The page hands over a copy of the batch's buffer and keeps the
// batch until the worker has said it is durable; from then on every batch goes that way, so that
// the worker's transactions keep the batches' order (IndexedDB orders readwrite transactions by
// when they were created, whichever connection made them). A batch of more than about three
// requests' worth starts the worker (its requests would), and waits until it runs, as every batch
// after it (at most 1 s, then they are written from the page). When the page is left, it writes
// the batches not yet confirmed once more itself, in order: the page may be gone before the
// worker gets to them. Writing a batch again after it is done changes nothing the later batches
// do not write again too; only a worker stopped between two of its batches after that can leave
// a record the later one deleted, whose events (delivered) a later page sends again with their
// messageIds, which the server de-duplicates. A load waits (at most 3 s) until the last batch is
// confirmed, so that it reads what the worker wrote.
export class IdbStore {
  #db;
  #broken = false;
  #failed;
  #committed;
  #w = new Map();
  #rm = new Map();
  #sh = new Set();
  // The tick's values, one after the other: one copy each out of wasm memory (which moves when
  // it grows), and one buffer a batch hands over (twice what it needs when it grows).
  #buf = new Uint8Array();
  #len = 0;
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
  #open = new Set(); // batches committed and not yet done, in order
  #last; // resolves once the last batch is done
  #held; // the batches waiting for the worker to run, in order
  #toWorker;
  #starting;
  // toWorker, starting: net.js's (passed in, so that this module imports nothing).
  constructor(db, committed, failed, toWorker, starting) {
    this.#db = db;
    this.#committed = committed;
    this.#failed = failed;
    this.#toWorker = toWorker;
    this.#starting = starting;
  }
  get ok() {
    return !this.#broken;
  }
  num(key) {
    const m = this.#names;
    let n = m.get(key);
    n || m.set((n = --this.#n), key).set(key, n);
    return n;
  }
  // Record `key` (maybe one this store numbered) was deleted.
  #forget(key) {
    this.#names.delete(this.#names.get(key));
    this.#names.delete(key);
  }
  put(n, ids, values, ends, share) {
    this.#soon();
    const record = this.#pre + n, a = this.#len, b = (this.#len += values.length), w = this.#w;
    let buf = this.#buf;
    if (b > buf.length) (this.#buf = new Uint8Array(2 * b)).set(buf.subarray(0, a)), (buf = this.#buf);
    buf.set(values, a);
    // The ids as they came, and the ends moved to the buffer (a copy: `ends` is a view of wasm
    // memory): what is split, read and cloned per event is left to write(), in the worker.
    (w.get(record) ?? w.set(record, []).get(record)).push(ids, ends.map((e) => e + a));
    share ? this.#sh.add(record) : this.#mine.set(n, (this.#mine.get(n) ?? 0) + ends.length - 1);
    // A tick's writes of over 1 MiB go in batches of about that much: a burst's buffer then
    // stays small (grown by doubling and copied once for the worker, the buffer of a whole
    // 100,000-event burst cost the page as much as the rest of its work per event).
    b > 1 << 20 && this.#commit();
  }
  remove(n, keys, k) {
    const c = this.#mine.get(n), record = n > 0 ? this.#pre + n : this.#names.get(n);
    if (c === k) return this.#mine.delete(n), this.#del(record);
    c && this.#mine.set(n, c - k);
    // A number this store does not know (its record deleted) names nothing to change.
    if (!record) return;
    this.#soon();
    (this.#rm.get(record) ?? this.#rm.set(record, []).get(record)).push(...keys());
  }
  #del(record) {
    this.#soon();
    this.#w.set(record, 0);
    this.#rm.delete(record);
  }
  leave() {
    this.#commit();
    this.#hurry();
    const left = [];
    for (const b of this.#open) b.again(), left.push(...this.#tell(b));
    return left;
  }
  // Called before each note: the first of a tick queues the commit.
  #soon() {
    this.#w.size || this.#rm.size || queueMicrotask(() => this.#commit());
  }
  #commit() {
    const b = { w: this.#w, rm: this.#rm, sh: this.#sh, buf: this.#buf.subarray(0, this.#len) };
    if (!b.w.size && !b.rm.size) return;
    this.#w = new Map();
    this.#rm = new Map();
    this.#sh = new Set();
    this.#buf = new Uint8Array();
    this.#len = 0;
    this.#open.add(b);
    let once = 0, up; // a failed transaction may report both error and abort
    this.#last = new Promise((fin) => {
      const end = (e, gone) => {
        if (once++) return;
        gone.forEach((k) => this.#forget(k));
        if (e && !this.#broken) {
          this.#broken = true;
          this.#failed(e);
        }
        // If failed, not durable, but a follower still hands them over.
        this.#open.delete(b);
        const puts = this.#tell(b);
        puts.length && this.#committed(puts);
        fin();
      };
      b.go = () => {
        // Once failed, only deletes and removals.
        const w = this.#broken ? new Map([...b.w].filter((x) => !x[1])) : b.w;
        const again = (b.again = () => write(this.#db, w, b.rm, b.buf, end, values));
        const r = this.#toWorker(this.#db.name, w, b.rm, b.buf);
        r ? r.then(([e, gone]) => end(e && new DOMException(...e), gone)) : again();
      };
    });
    if (this.#held) this.#held.push(b);
    else if ((up = this.#starting(b.buf.length > 262144))) {
      this.#held = [b];
      up.then(() => this.#hurry()); // within 1 s (net.js)
    } else b.go();
  }
  // The batches waiting for the worker go now (to it if it runs).
  #hurry() {
    const h = this.#held ?? [];
    this.#held = undefined;
    for (const b of h) b.go();
  }
  // The shared records of batch `b` not yet reported, as [record, [messageId, value, ...]]; once.
  #tell(b) {
    const s = [...b.sh];
    b.sh = [];
    return s.map((k) => [k, values(b.w.get(k), b.buf)]);
  }
  // Resolves to the Error if reading fails. Keys that are no record of ours are deleted.
  async load() {
    this.#last && (await Promise.race([this.#last, new Promise((ok) => setTimeout(ok, 3000))]));
    try {
      const s = this.#db.transaction(STORE).objectStore(STORE);
      return await Promise.all([settle(s.getAllKeys()), settle(s.getAll())]).then(
        ([keys, values]) => flatten(keys, values, (k) => this.#del(k), (k) => this.num(k)),
        (e) => e,
      );
    } catch (e) {
      return e;
    }
  }
  close() {
    this.#db.close(); // IndexedDB finishes the transactions already started first
  }
}
