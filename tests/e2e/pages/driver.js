// The page side of the end-to-end tests: loads the built package as a plain ES module (the way a
// page without a bundler uses it) and exposes small helpers the tests call through page.evaluate.
import * as bw from "/pkg/index.js";

const KINDS = ["delivered", "failed", "rateLimited", "quotaHeld", "warning"];

window.bw = bw;
// What the client told the application, by kind: a count and the first few payloads (as JSON).
window.notes = Object.fromEntries(KINDS.map((k) => [k, { count: 0, samples: [] }]));

function note(kind, payload) {
  const n = window.notes[kind];
  n.count++;
  if (n.samples.length < 5) {
    try {
      n.samples.push(JSON.stringify(payload)?.slice(0, 300) ?? String(payload));
    } catch {
      n.samples.push(String(payload));
    }
  }
}

/** Creates the page's client (window.client) and listens to everything it reports. */
window.make = async (options) => {
  const client = await bw.createClient(options);
  for (const kind of KINDS) client.on(kind, (payload) => note(kind, payload));
  window.client = client;
  return true;
};

/** Tracks n events named `name` with properties {...props, i}; returns their messageIds. */
window.trackMany = (n, name, props = {}, start = 0) => {
  const ids = [];
  for (let i = start; i < start + n; i++) ids.push(window.client.track(name, { ...props, i }));
  return ids;
};

/** Starts a flush without waiting for it; its outcome lands in window.flushed. */
window.flushSoon = () => {
  window.flushed = undefined;
  window.client.flush().then(() => { window.flushed = "ok"; }, (e) => { window.flushed = `error: ${e}`; });
  return true;
};

/** client.stats() as plain data. */
window.stats = () => ({ ...window.client.stats() });

window.bwReady = true;

/** Every IndexedDB database of this origin with the record count of each store, for diagnostics. */
window.idbCensus = async () => {
  const out = {};
  for (const { name } of await indexedDB.databases()) {
    const db = await new Promise((ok, fail) => {
      const r = indexedDB.open(name);
      r.onsuccess = () => ok(r.result);
      r.onerror = () => fail(r.error);
    });
    for (const store of db.objectStoreNames) {
      out[`${name}/${store}`] = await new Promise((ok) => {
        const r = db.transaction(store).objectStore(store).count();
        r.onsuccess = () => ok(r.result);
        r.onerror = () => ok(String(r.error));
      });
    }
    db.close();
  }
  return out;
};
