//! The stores (`openStore`, `IdbStore`, `memoryStore` in src/web/js/store.js) in real Chromium:
//! records survive a reopen and load oldest first, numbered per key, a tick's writes are ONE
//! transaction and ONE record per record, taking events out rewrites their record and deletes it
//! once empty (a record the store wrote, without reading it),
//! records of the one-event format an earlier release wrote still load and are removed, the
//! memory store keeps nothing (the driver never writes to it), and failures surface once, as an Error with its DOM name.
#![cfg(target_arch = "wasm32")]

use js_sys::futures::JsFuture;
use js_sys::Promise;
use wasm_bindgen::prelude::*;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

#[wasm_bindgen(module = "/src/web/js/store.js")]
extern "C" {
    #[wasm_bindgen(thread_local_v2, js_name = openStore)]
    static OPEN: JsValue;
    #[wasm_bindgen(thread_local_v2, js_name = IdbStore)]
    static IDB: JsValue;
    #[wasm_bindgen(thread_local_v2, js_name = memoryStore)]
    static MEMORY: JsValue;
}

#[wasm_bindgen(inline_js = r#"
const sleep = (ms) => new Promise((ok) => setTimeout(ok, ms));
const drop = (name) => new Promise((ok) => { const r = indexedDB.deleteDatabase(name); r.onsuccess = r.onerror = ok; });
// A value as the driver writes it: 8 bytes time, 4 bytes sequence, then the event.
const value = (at, seq, text) => {
  const v = new Uint8Array(12 + text.length);
  new DataView(v.buffer).setBigUint64(0, BigInt(at));
  new DataView(v.buffer).setUint32(8, seq);
  v.set(new TextEncoder().encode(text), 12);
  return v;
};
const text = (v) => new TextDecoder().decode(v.subarray(12));
// What load() gives, readable: [record number, messageId, text] per event.
// A key the store made for the driver's record n (its random prefix "high.low-", then n), as "r-n".
const nice = (k) => (typeof k === "string" ? k.replace(/^\d+\.\d+-/, "r-") : k);
const events = (l) => { const out = []; for (let i = 0; i < l.length; i += 3) out.push([l[i], l[i + 1], text(l[i + 2])]); return out; };
// Events [[messageId, value], ...] into record `n` in one call, as the driver makes it: the
// values one after the other, and where each ends.
function put(store, n, events, share) {
  const ends = [0], values = new Uint8Array(events.reduce((t, [, v]) => t + v.length, 0));
  events.forEach(([, v]) => (values.set(v, ends.at(-1)), ends.push(ends.at(-1) + v.length)));
  store.put(n, events.map(([m]) => m).join("\0"), values, new Uint32Array(ends), share);
}
// Takes events `ids` out of record `n` in one call, as the driver does (the ids as a function:
// the store asks for them only if it needs them).
const rm = (store, n, ...ids) => store.remove(n, () => ids, ids.length);
// No request worker here (net.js): every batch is written from the page.
const page = [() => false, () => undefined];
// Opens an IdbStore and records what it reports: per commit, the shared records' keys.
async function open(io, name) {
  await drop(name);
  const db = await io.openStore(name, 5000);
  const log = { commits: [], failures: [] };
  const store = new io.IdbStore(db, (puts) => log.commits.push(puts.map((p) => nice(p[0]))), (e) => log.failures.push(e.name), ...page);
  return { db, store, log };
}
// The raw records: [key, what it holds (the messageIds of [messageId, value, ...], or "one" for
// the one-event format)].
const raw = (db) => new Promise((ok) => {
  const s = db.transaction("events").objectStore("events");
  const k = s.getAllKeys(), v = s.getAll();
  v.onsuccess = () => ok(k.result.map((key, i) => [nice(key), Array.isArray(v.result[i]) ? v.result[i].filter((_, j) => j % 2 === 0) : "one"]));
});

export async function survivesReopen(io) {
  const { store, log } = await open(io, "bw-test-reopen");
  // Two records, written newest first: loading gives the events back oldest first.
  put(store, 2, [["m-c", value(3000, 3, "c")], ["m-b2", value(2000, 2, "b2")]], true);
  put(store, 1, [["m-a", value(1000, 0, "a")]], false);
  put(store, 1, [["m-b1", value(2000, 1, "b1")]], false);
  await sleep(50);
  store.close();
  const again = await io.openStore("bw-test-reopen", 5000);
  const s = new io.IdbStore(again, () => {}, () => {}, ...page);
  // Numbered below 0, one number per record, in the order of their keys.
  const loaded = events(await s.load());
  rm(s, -1, "m-b1");
  await sleep(50);
  const after = events(await s.load()).map((e) => e[1]);
  again.close();
  return JSON.stringify({ commits: log.commits, loaded, after });
}

export async function removingRewritesThenDeletes(io) {
  const { db, store } = await open(io, "bw-test-remove");
  let gets = 0;
  const get = IDBObjectStore.prototype.get;
  IDBObjectStore.prototype.get = function (...a) { gets++; return get.apply(this, a); };
  put(store, 1, ["m-1", "m-2", "m-3", "m-4"].map((m) => [m, value(1, 0, m)]), false);
  await sleep(50);
  const one = await raw(db);
  rm(store, 1, "m-2");
  rm(store, 1, "m-4");
  await sleep(50);
  const two = await raw(db);
  // The last two, in one call: a record the store wrote is deleted without being read, or its
  // ids asked for.
  const read = gets;
  let asked = 0;
  store.remove(1, () => (asked++, ["m-1", "m-3"]), 2);
  await sleep(50);
  const three = await raw(db);
  const readLast = gets - read;
  // Taking out what a loaded record does not hold, or of a record that is gone, changes nothing.
  put(store, 2, [["m-5", value(1, 0, "m-5")]], false);
  await sleep(50);
  const [s] = await store.load();
  rm(store, s, "m-9");
  rm(store, -99, "m-1");
  await sleep(50);
  const four = await raw(db);
  IDBObjectStore.prototype.get = get;
  db.close();
  return JSON.stringify({ one, two, three, readLast, asked, four, ok: store.ok });
}

export async function oneEventRecordsOfAnEarlierReleaseLoad(io) {
  const { db, store } = await open(io, "bw-test-upgrade");
  // An earlier release: one record per event, keyed by messageId, the driver's value as it is;
  // and a key that is no record of ours.
  await new Promise((ok) => {
    const tx = db.transaction("events", "readwrite");
    tx.objectStore("events").put(value(2000, 0, "old-b"), "m-old-b");
    tx.objectStore("events").put(value(1000, 0, "old-a"), "m-old-a");
    tx.objectStore("events").put("something else", 42);
    tx.oncomplete = ok;
  });
  put(store, 1, [["m-new", value(1500, 0, "new")]], false);
  await sleep(50);
  const loaded = events(await store.load());
  rm(store, loaded[0][0], "m-old-a");
  rm(store, 1, "m-new");
  await sleep(50);
  const after = await raw(db);
  db.close();
  return JSON.stringify({ loaded, after });
}

export async function oneTransactionPerTick(io) {
  const { db, store, log } = await open(io, "bw-test-tick");
  put(store, 1, [["m-0", value(0, 0, "e0")]], false);
  await sleep(50);
  let transactions = 0;
  const real = db.transaction.bind(db);
  db.transaction = (...a) => (transactions++, real(...a));
  // 500 puts into two records and a removal in one synchronous run, like track() in a loop
  // with a delivery beside it.
  for (let i = 1; i <= 500; i++) put(store, i % 2 ? 2 : 3, [["m-" + i, value(i, i, "e" + i)]], i % 2 === 1);
  rm(store, 1, "m-0");
  await sleep(100);
  db.transaction = real;
  const stored = (await store.load()).length / 3;
  const records = await raw(db);
  db.close();
  return JSON.stringify({ transactions, commits: log.commits, stored, records: records.map((r) => [r[0], r[1].length]) });
}

// A tick writing more than 1 MiB of values goes in batches of about that much, in order: five
// records of 100 events of 3,000 bytes (300 KB each), then a removal, in one synchronous run.
export async function aLargeTickGoesInBatches(io) {
  const { db, store } = await open(io, "bw-test-large");
  put(store, 9, [["m-0", value(0, 0, "e0")]], false);
  await sleep(50);
  let transactions = 0;
  const real = db.transaction.bind(db);
  db.transaction = (...a) => (transactions++, real(...a));
  const body = "x".repeat(2988);
  for (let r = 1; r <= 5; r++) put(store, r, Array.from({ length: 100 }, (_, i) => ["m-" + r + "-" + i, value(r, i, body)]), false);
  rm(store, 9, "m-0");
  await sleep(200);
  db.transaction = real;
  const loaded = await store.load(), records = await raw(db);
  let whole = 0;
  for (let i = 2; i < loaded.length; i += 3) whole += text(loaded[i]) === body;
  db.close();
  return JSON.stringify({ transactions, whole, records: records.map((r) => [r[0], r[1].length, r[1][0], r[1][99]]) });
}

export async function valuesAreCopied(io) {
  // The driver passes views of wasm memory, which are reused: the store must copy the values
  // and the ends at put().
  const { db, store } = await open(io, "bw-test-copy");
  const view = value(1, 0, "first"), ends = new Uint32Array([0, view.length]);
  store.put(1, "m-1", view, ends, false);
  view.fill(0);
  ends.fill(0);
  await sleep(50);
  const loaded = events(await store.load());
  db.close();
  return loaded[0][2];
}

export async function failureIsReportedOnce(io) {
  const { store, log } = await open(io, "bw-test-fail");
  // Another connection upgrading the database closes ours (onversionchange), as after a storage
  // eviction: every later transaction throws InvalidStateError.
  await new Promise((ok) => { const r = indexedDB.open("bw-test-fail", 2); r.onsuccess = () => { r.result.close(); ok(); }; });
  put(store, 1, [["a", value(1, 0, "a")]], true);
  await sleep(50);
  put(store, 2, [["b", value(2, 0, "b")]], true);
  rm(store, 1, "a");
  await sleep(50);
  return JSON.stringify({ failures: log.failures, ok: store.ok, commits: log.commits });
}

// Not durable, a client leads alone and its driver writes no record: the memory store takes what
// it is given and keeps nothing.
export async function theMemoryStoreKeepsNothing(io) {
  const store = io.memoryStore;
  put(store, 1, [["m-a", value(1000, 0, "a")]], false);
  rm(store, 1, "m-a");
  await sleep(10);
  return JSON.stringify({ loaded: await store.load(), left: store.leave() });
}

// A record the store numbered keeps its number while it is stored, and is forgotten once deleted
// (its key numbered anew if it ever comes back).
export async function deletedRecordsAreForgotten(io) {
  const out = [];
  {
    const keys = [];
    const told = (puts) => keys.push(...puts.map((p) => p[0]));
    const opened = await open(io, "bw-test-forget");
    const store = new io.IdbStore(opened.db, told, () => {}, ...page);
    put(store, 1, [["m-a", value(1, 0, "a")]], true);
    await sleep(50);
    const [n] = await store.load();
    const again = store.num(keys[0]);
    rm(store, n, "m-a");
    await sleep(50);
    out.push([n, again, (await store.load()).length, store.num(keys[0])]);
    opened.db.close();
  }
  return JSON.stringify(out);
}

export async function openFailures(io) {
  await drop("bw-test-version");
  await new Promise((ok) => { const r = indexedDB.open("bw-test-version", 2); r.onsuccess = () => { r.result.close(); ok(); }; });
  const version = await io.openStore("bw-test-version", 5000);
  // A browser whose open never answers: give up after the timeout.
  const real = indexedDB.open;
  IDBFactory.prototype.open = function () { return {}; };
  let timeout;
  try { timeout = await io.openStore("bw-test-hang", 50); } finally { IDBFactory.prototype.open = real; }
  // No indexedDB at all (some workers, some privacy modes).
  const had = Object.getOwnPropertyDescriptor(globalThis, "indexedDB");
  Object.defineProperty(globalThis, "indexedDB", { value: undefined, configurable: true });
  let missing;
  try { missing = await io.openStore("bw-test-none", 50); } finally { delete globalThis.indexedDB; if (had && !("indexedDB" in globalThis)) Object.defineProperty(globalThis, "indexedDB", had); }
  return JSON.stringify([version.name, timeout.name, missing.name]);
}
"#)]
extern "C" {
    #[wasm_bindgen(js_name = survivesReopen)]
    fn survives_reopen(io: &JsValue) -> Promise;
    #[wasm_bindgen(js_name = removingRewritesThenDeletes)]
    fn removing_rewrites_then_deletes(io: &JsValue) -> Promise;
    #[wasm_bindgen(js_name = oneEventRecordsOfAnEarlierReleaseLoad)]
    fn one_event_records_of_an_earlier_release_load(io: &JsValue) -> Promise;
    #[wasm_bindgen(js_name = oneTransactionPerTick)]
    fn one_transaction_per_tick(io: &JsValue) -> Promise;
    #[wasm_bindgen(js_name = aLargeTickGoesInBatches)]
    fn a_large_tick_goes_in_batches(io: &JsValue) -> Promise;
    #[wasm_bindgen(js_name = valuesAreCopied)]
    fn values_are_copied(io: &JsValue) -> Promise;
    #[wasm_bindgen(js_name = failureIsReportedOnce)]
    fn failure_is_reported_once(io: &JsValue) -> Promise;
    #[wasm_bindgen(js_name = theMemoryStoreKeepsNothing)]
    fn the_memory_store_keeps_nothing(io: &JsValue) -> Promise;
    #[wasm_bindgen(js_name = deletedRecordsAreForgotten)]
    fn deleted_records_are_forgotten(io: &JsValue) -> Promise;
    #[wasm_bindgen(js_name = openFailures)]
    fn open_failures(io: &JsValue) -> Promise;
}

async fn run(scenario: fn(&JsValue) -> Promise) -> String {
    let io = js_sys::Object::new();
    for (name, value) in [
        ("openStore", OPEN.with(JsValue::clone)),
        ("IdbStore", IDB.with(JsValue::clone)),
        ("memoryStore", MEMORY.with(JsValue::clone)),
    ] {
        js_sys::Reflect::set(&io, &name.into(), &value).unwrap();
    }
    let seen = JsFuture::from(scenario(&io)).await.unwrap();
    seen.as_string().unwrap()
}

#[wasm_bindgen_test]
async fn records_survive_a_reopen_and_load_oldest_first() {
    assert_eq!(
        run(survives_reopen).await,
        r#"{"commits":[["r-2"]],"loaded":[[-1,"m-a","a"],[-1,"m-b1","b1"],[-2,"m-b2","b2"],[-2,"m-c","c"]],"after":["m-a","m-b2","m-c"]}"#
    );
}

#[wasm_bindgen_test]
async fn one_tick_of_writes_is_one_transaction() {
    assert_eq!(
        run(one_transaction_per_tick).await,
        r#"{"transactions":1,"commits":[["r-2"]],"stored":500,"records":[["r-2",250],["r-3",250]]}"#
    );
}

#[wasm_bindgen_test]
async fn a_tick_of_over_a_mebibyte_of_writes_goes_in_batches_of_about_that_much() {
    // 1.5 MB of values: the fourth record's put passes 1 MiB and commits the first four; the
    // fifth and the removal (which deletes record 9) go in the tick's own commit.
    assert_eq!(
        run(a_large_tick_goes_in_batches).await,
        r#"{"transactions":2,"whole":500,"records":[["r-1",100,"m-1-0","m-1-99"],["r-2",100,"m-2-0","m-2-99"],["r-3",100,"m-3-0","m-3-99"],["r-4",100,"m-4-0","m-4-99"],["r-5",100,"m-5-0","m-5-99"]]}"#
    );
}

#[wasm_bindgen_test]
async fn taking_events_out_rewrites_their_record_and_the_last_deletes_it() {
    assert_eq!(
        run(removing_rewrites_then_deletes).await,
        r#"{"one":[["r-1",["m-1","m-2","m-3","m-4"]]],"two":[["r-1",["m-1","m-3"]]],"three":[],"readLast":0,"asked":0,"four":[["r-2",["m-5"]]],"ok":true}"#
    );
}

#[wasm_bindgen_test]
async fn records_of_the_one_event_format_load_with_the_new_and_are_removed() {
    assert_eq!(
        run(one_event_records_of_an_earlier_release_load).await,
        r#"{"loaded":[[-2,"m-old-a","old-a"],[-1,"m-new","new"],[-3,"m-old-b","old-b"]],"after":[["m-old-b","one"]]}"#
    );
}

#[wasm_bindgen_test]
async fn values_are_copied_when_put() {
    assert_eq!(run(values_are_copied).await, "first");
}

#[wasm_bindgen_test]
async fn a_failed_write_is_reported_once_and_shared_records_still_go_to_the_leader() {
    // The failed batch and the later shared record still reach `committed` (to be handed over);
    // the store is no longer ok, so the driver falls back to memory.
    assert_eq!(
        run(failure_is_reported_once).await,
        r#"{"failures":["InvalidStateError"],"ok":false,"commits":[["r-1"],["r-2"]]}"#
    );
}

#[wasm_bindgen_test]
async fn the_memory_store_takes_writes_and_keeps_nothing() {
    assert_eq!(
        run(the_memory_store_keeps_nothing).await,
        r#"{"loaded":[],"left":[]}"#
    );
}

#[wasm_bindgen_test]
async fn a_record_the_store_numbered_is_forgotten_once_deleted() {
    // Numbered -1, the same number asked again, nothing left after its one event is taken out,
    // and its key numbered anew.
    assert_eq!(run(deleted_records_are_forgotten).await, "[[-1,-1,0,-2]]");
}

#[wasm_bindgen_test]
async fn opening_fails_as_a_named_error_value_never_a_throw_or_a_hang() {
    assert_eq!(
        run(open_failures).await,
        r#"["VersionError","TimeoutError","TypeError"]"#
    );
}
