//! The durable queue (`openStore`, `loadStore`, `Store` in src/web/js/store.js) in real Chromium:
//! records survive a reopen and load oldest first, a tick's writes are ONE transaction and ONE
//! record, settling events rewrites or deletes their record, records of the one-event format an
//! earlier release wrote still load, and failures surface once, as an Error with its DOM name.
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
    #[wasm_bindgen(thread_local_v2, js_name = loadStore)]
    static LOAD: JsValue;
    #[wasm_bindgen(thread_local_v2, js_name = Store)]
    static STORE: JsValue;
}

#[wasm_bindgen(inline_js = r#"
const sleep = (ms) => new Promise((ok) => setTimeout(ok, ms));
const drop = (name) => new Promise((ok) => { const r = indexedDB.deleteDatabase(name); r.onsuccess = r.onerror = ok; });
// A record as the driver writes it: 8 bytes time, 4 bytes sequence, then the event.
const record = (at, seq, text) => {
  const v = new Uint8Array(12 + text.length);
  new DataView(v.buffer).setBigUint64(0, BigInt(at));
  new DataView(v.buffer).setUint32(8, seq);
  v.set(new TextEncoder().encode(text), 12);
  return v;
};
const text = (v) => new TextDecoder().decode(v.subarray(12));
// Opens a Store and records what it reports.
async function open(io, name) {
  await drop(name);
  const db = await io.openStore(name, 5000);
  const log = { commits: [], failures: [] };
  const store = new io.Store(db, (puts) => log.commits.push(puts.length / 3), (e) => log.failures.push(e.name));
  return { db, store, log };
}

export async function survivesReopen(io) {
  const { store, log } = await open(io, "bw-test-reopen");
  // Written newest first: loading must give them back oldest first.
  store.put("m-c", record(3000, 0, "c"), false);
  store.put("m-a", record(1000, 0, "a"), false);
  store.put("m-b2", record(2000, 1, "b2"), false);
  store.put("m-b1", record(2000, 0, "b1"), false);
  await sleep(50);
  store.close();
  const again = await io.openStore("bw-test-reopen", 5000);
  const [keys, values, recs] = await io.loadStore(again);
  const s = new io.Store(again, () => {}, () => {});
  keys.forEach((k, i) => s.adopt(k, recs[i])); // as the leader does when it restores them
  s.del("m-b2");
  await sleep(50);
  const [after] = await io.loadStore(again);
  again.close();
  return JSON.stringify({ commits: log.commits, keys, texts: values.map(text), after });
}

// The raw records: [key, what it holds (the messageIds of [messageId, value, ...], or "one" for
// the one-event format)].
const raw = (db) => new Promise((ok) => {
  const s = db.transaction("events").objectStore("events");
  const k = s.getAllKeys(), v = s.getAll();
  v.onsuccess = () => ok(k.result.map((key, i) => [key, Array.isArray(v.result[i]) ? v.result[i].filter((_, j) => j % 2 === 0) : "one"]));
});

export async function settlingRewritesThenDeletes(io) {
  const { db, store } = await open(io, "bw-test-settle");
  for (const m of ["m-1", "m-2", "m-3", "m-4"]) store.put(m, record(1, 0, m), false);
  await sleep(50);
  const one = await raw(db);
  store.del("m-2");
  store.del("m-4");
  await sleep(50);
  const two = await raw(db);
  const [keys, values] = await io.loadStore(db);
  store.del("m-1");
  store.del("m-3");
  await sleep(50);
  const three = await raw(db);
  db.close();
  return JSON.stringify({ one: one.map((r) => r[1]), two: two.map((r) => r[1]), sameKey: one[0][0] === two[0][0],
    keys, texts: values.map(text), three });
}

export async function oneEventRecordsOfAnEarlierReleaseLoad(io) {
  const { db, store } = await open(io, "bw-test-upgrade");
  // An earlier release: one record per event, keyed by messageId, the driver's value as it is.
  await new Promise((ok) => {
    const tx = db.transaction("events", "readwrite");
    tx.objectStore("events").put(record(2000, 0, "old-b"), "m-old-b");
    tx.objectStore("events").put(record(1000, 0, "old-a"), "m-old-a");
    tx.oncomplete = ok;
  });
  store.put("m-new", record(1500, 0, "new"), false);
  await sleep(50);
  const [keys, values, recs] = await io.loadStore(db);
  keys.forEach((k, i) => store.adopt(k, recs[i]));
  store.del("m-old-a");
  store.del("m-new");
  await sleep(50);
  const after = await raw(db);
  db.close();
  return JSON.stringify({ keys, texts: values.map(text), oneEvent: recs.map((r) => r === 0), after });
}

export async function oneTransactionPerTick(io) {
  const { db, store, log } = await open(io, "bw-test-tick");
  let transactions = 0;
  const real = db.transaction.bind(db);
  db.transaction = (...a) => (transactions++, real(...a));
  // 500 puts and a delete in one synchronous run, like track() in a loop.
  for (let i = 0; i < 500; i++) store.put("m-" + i, record(i, 0, "e" + i), i % 2 === 0);
  store.del("m-7");
  await sleep(100);
  db.transaction = real;
  const [keys] = await io.loadStore(db);
  const records = (await raw(db)).length;
  db.close();
  return JSON.stringify({ transactions, commits: log.commits, stored: keys.length, has7: keys.includes("m-7"), records });
}

export async function valuesAreCopied(io) {
  // The driver passes views of wasm memory, which are reused: the store must copy at put().
  const { db, store } = await open(io, "bw-test-copy");
  const view = record(1, 0, "first");
  store.put("m-1", view, false);
  view.fill(0);
  await sleep(50);
  const [, values] = await io.loadStore(db);
  db.close();
  return text(values[0]);
}

export async function failureIsReportedOnce(io) {
  const { store, log } = await open(io, "bw-test-fail");
  const shared = [];
  // Another connection upgrading the database closes ours (onversionchange), as after a storage
  // eviction: every later transaction throws InvalidStateError.
  await new Promise((ok) => { const r = indexedDB.open("bw-test-fail", 2); r.onsuccess = () => { r.result.close(); ok(); }; });
  store.put("a", record(1, 0, "a"), false);
  await sleep(50);
  const store2 = store; // same store: later writes
  store2.put("b", record(2, 0, "b"), true);
  store2.del("a");
  await sleep(50);
  return JSON.stringify({ failures: log.failures, ok: store.ok, commits: log.commits });
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
    #[wasm_bindgen(js_name = settlingRewritesThenDeletes)]
    fn settling_rewrites_then_deletes(io: &JsValue) -> Promise;
    #[wasm_bindgen(js_name = oneEventRecordsOfAnEarlierReleaseLoad)]
    fn one_event_records_of_an_earlier_release_load(io: &JsValue) -> Promise;
    #[wasm_bindgen(js_name = oneTransactionPerTick)]
    fn one_transaction_per_tick(io: &JsValue) -> Promise;
    #[wasm_bindgen(js_name = valuesAreCopied)]
    fn values_are_copied(io: &JsValue) -> Promise;
    #[wasm_bindgen(js_name = failureIsReportedOnce)]
    fn failure_is_reported_once(io: &JsValue) -> Promise;
    #[wasm_bindgen(js_name = openFailures)]
    fn open_failures(io: &JsValue) -> Promise;
}

async fn run(scenario: fn(&JsValue) -> Promise) -> String {
    let io = js_sys::Object::new();
    for (name, value) in [
        ("openStore", OPEN.with(JsValue::clone)),
        ("loadStore", LOAD.with(JsValue::clone)),
        ("Store", STORE.with(JsValue::clone)),
    ] {
        js_sys::Reflect::set(&io, &name.into(), &value).unwrap();
    }
    let seen = JsFuture::from(scenario(&io)).await.unwrap();
    seen.as_string().unwrap()
}

#[wasm_bindgen_test]
async fn records_survive_a_reopen_load_oldest_first_and_deletes_clear_them() {
    assert_eq!(
        run(survives_reopen).await,
        r#"{"commits":[4],"keys":["m-a","m-b1","m-b2","m-c"],"texts":["a","b1","b2","c"],"after":["m-a","m-b1","m-c"]}"#
    );
}

#[wasm_bindgen_test]
async fn one_tick_of_writes_is_one_transaction() {
    assert_eq!(
        run(one_transaction_per_tick).await,
        r#"{"transactions":1,"commits":[500],"stored":499,"has7":false,"records":1}"#
    );
}

#[wasm_bindgen_test]
async fn settling_some_events_rewrites_their_record_and_the_last_deletes_it() {
    assert_eq!(
        run(settling_rewrites_then_deletes).await,
        r#"{"one":[["m-1","m-2","m-3","m-4"]],"two":[["m-1","m-3"]],"sameKey":true,"keys":["m-1","m-3"],"texts":["m-1","m-3"],"three":[]}"#
    );
}

#[wasm_bindgen_test]
async fn records_of_the_one_event_format_load_with_the_new_and_are_deleted_by_messageid() {
    assert_eq!(
        run(one_event_records_of_an_earlier_release_load).await,
        r#"{"keys":["m-old-a","m-new","m-old-b"],"texts":["old-a","new","old-b"],"oneEvent":[true,false,true],"after":[["m-old-b","one"]]}"#
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
        r#"{"failures":["InvalidStateError"],"ok":false,"commits":[1,1]}"#
    );
}

#[wasm_bindgen_test]
async fn opening_fails_as_a_named_error_value_never_a_throw_or_a_hang() {
    assert_eq!(
        run(open_failures).await,
        r#"["VersionError","TimeoutError","TypeError"]"#
    );
}
