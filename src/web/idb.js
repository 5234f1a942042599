// IndexedDB, reduced to the four calls the durable queue needs. Smaller than web-sys's IDB
// bindings and easier to read: each returns a Promise that rejects with the original
// DOMException, so the Rust side keeps its `name` (QuotaExceededError, InvalidStateError, ...).
// One object store of out-of-line keys (messageIds) to byte values (stored events).

const STORE = "events";

const settle = (r) =>
  new Promise((ok, fail) => {
    r.onsuccess = () => ok(r.result);
    r.onerror = () => fail(r.error);
  });

const commit = (tx) =>
  new Promise((ok, fail) => {
    tx.oncomplete = () => ok();
    tx.onerror = tx.onabort = () => fail(tx.error || new DOMException("transaction aborted", "AbortError"));
  });

// Some browsers leave `open` pending forever (blocked upgrades, broken private modes): give up
// after `ms` so the client falls back to memory instead of never starting. A missing
// `indexedDB` or a SecurityError (sandboxed frames) throws inside the executor: a rejection too.
export function idbOpen(name, ms) {
  return new Promise((ok, fail) => {
    const r = indexedDB.open(name, 1);
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
      // Another version wants the database (a newer build in another tab): step aside.
      db.onversionchange = () => db.close();
      ok(db);
    };
    r.onerror = () => {
      clearTimeout(t);
      fail(r.error);
    };
  });
}

// Resolves to [keys, values] in the order the events were first queued. Values start with a
// big-endian enqueue time and sequence number (src/web/driver.rs), so comparing those 12 bytes
// compares the events' ages; sorting here keeps a sort implementation out of the wasm.
export function idbLoad(db) {
  const s = db.transaction(STORE).objectStore(STORE);
  return Promise.all([settle(s.getAllKeys()), settle(s.getAll())]).then(([keys, values]) => {
    const order = keys.map((_, i) => i).sort((a, b) => {
      const x = values[a], y = values[b];
      for (let i = 0; i < 12; i++) if (x[i] !== y[i]) return (x[i] ?? -1) - (y[i] ?? -1);
      return 0;
    });
    return [order.map((i) => keys[i]), order.map((i) => values[i])];
  });
}

// One transaction for a tick's worth of writes: `puts` is [key, value, key, value, ...].
export function idbWrite(db, puts, deletes) {
  const tx = db.transaction(STORE, "readwrite");
  const s = tx.objectStore(STORE);
  for (let i = 0; i < puts.length; i += 2) s.put(puts[i + 1], puts[i]);
  for (const k of deletes) s.delete(k);
  return commit(tx);
}

export function idbClose(db) {
  db.close();
}
