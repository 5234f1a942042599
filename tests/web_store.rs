//! The IndexedDB store in real Chromium: records survive a reopen, a tick's writes share one
//! transaction, deletes clear records, and failures surface once as an error with its DOM name.
#![cfg(target_arch = "wasm32")]

use std::cell::RefCell;
use std::rc::Rc;

use batchwire::web::error::JsError;
use batchwire::web::store::{Record, Store, StoreEvent};
use js_sys::{Function, Promise};
use wasm_bindgen::prelude::*;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

#[wasm_bindgen(inline_js = r#"
export function sleep(ms) { return new Promise((ok) => setTimeout(ok, ms)); }
export function drop(name) {
  return new Promise((ok, fail) => { const r = indexedDB.deleteDatabase(name); r.onsuccess = ok; r.onerror = () => fail(r.error); });
}
// Creates `name` at version 2, so opening it at version 1 fails with a VersionError.
export function bump(name) {
  return new Promise((ok, fail) => { const r = indexedDB.open(name, 2); r.onsuccess = () => { r.result.close(); ok(); }; r.onerror = () => fail(r.error); });
}
// Closes every connection the page holds to `name` by asking for a version upgrade.
export function forceClose(name) { return bump(name); }
export function quotaError() { return new DOMException("the disk is full", "QuotaExceededError"); }
"#)]
extern "C" {
    fn sleep(ms: u32) -> Promise;
    fn drop(name: &str) -> Promise;
    fn bump(name: &str) -> Promise;
    #[wasm_bindgen(js_name = forceClose)]
    fn force_close(name: &str) -> Promise;
    #[wasm_bindgen(js_name = quotaError)]
    fn quota_error() -> JsValue;
}

type Log = Rc<RefCell<Vec<Result<Vec<String>, JsError>>>>;

/// Records what the store reports, and resolves a promise on the first report.
fn listen(store: &Store) -> (Log, Promise) {
    let log: Log = Rc::default();
    let mut resolve: Option<Function> = None;
    let first = Promise::new(&mut |ok, _| resolve = Some(ok));
    let (l, resolve) = (log.clone(), resolve.unwrap());
    store.set_listener(move |ev| {
        l.borrow_mut().push(match ev {
            StoreEvent::Committed(recs) => Ok(recs.into_iter().map(|(k, _)| k).collect()),
            StoreEvent::Failed(e) => Err(e),
        });
        let _ = resolve.call0(&JsValue::NULL);
    });
    (log, first)
}

fn rec(i: usize) -> Record {
    let key = ["m-", &i.to_string()].concat();
    let bytes = ["{\"i\":", &i.to_string(), "}"].concat().into_bytes();
    (key, bytes)
}

#[wasm_bindgen_test]
async fn records_survive_a_reopen_and_deletes_clear_them() {
    let name = "bw-test-reopen";
    drop(name).await.unwrap();
    let store = Store::open(name, 5_000).await.unwrap();
    assert!(store.is_durable());
    let (log, committed) = listen(&store);
    for i in 0..3 {
        let (k, b) = rec(i);
        store.put(k, b);
    }
    committed.await.unwrap();
    assert_eq!(log.borrow().len(), 1);
    store.close();

    let again = Store::open(name, 5_000).await.unwrap();
    let loaded = again.load().await.unwrap();
    assert_eq!(loaded, vec![rec(0), rec(1), rec(2)]);
    again.delete("m-1".into());
    sleep(50).await.unwrap();
    assert_eq!(again.load().await.unwrap(), vec![rec(0), rec(2)]);
    again.close();
}

#[wasm_bindgen_test]
async fn one_tick_of_writes_is_one_transaction() {
    let name = "bw-test-batch";
    drop(name).await.unwrap();
    let store = Store::open(name, 5_000).await.unwrap();
    let (log, committed) = listen(&store);
    // 500 puts and a delete in one synchronous run, like track() in a loop.
    for i in 0..500 {
        let (k, b) = rec(i);
        store.put(k, b);
    }
    store.delete("m-7".into());
    committed.await.unwrap();
    sleep(50).await.unwrap();
    let commits: Vec<usize> = log
        .borrow()
        .iter()
        .map(|c| c.as_ref().unwrap().len())
        .collect();
    assert_eq!(commits, vec![500], "expected one commit for the whole tick");
    let loaded = store.load().await.unwrap();
    assert_eq!(loaded.len(), 499);
    assert!(!loaded.iter().any(|(k, _)| k == "m-7"));
    store.close();
}

#[wasm_bindgen_test]
async fn a_failed_write_is_reported_once_and_stops_new_records() {
    let name = "bw-test-fail";
    drop(name).await.unwrap();
    let store = Store::open(name, 5_000).await.unwrap();
    let (log, first) = listen(&store);
    // Another connection upgrading the database closes ours (onversionchange): every later
    // transaction throws InvalidStateError, as after a storage eviction.
    force_close(name).await.unwrap();
    store.put("a".into(), b"1".to_vec());
    first.await.unwrap();
    store.put("b".into(), b"2".to_vec());
    store.delete("a".into());
    sleep(50).await.unwrap();
    let log = log.borrow();
    assert_eq!(log.len(), 1, "{log:?}");
    assert_eq!(log[0].as_ref().unwrap_err().name, "InvalidStateError");
    assert!(!store.is_durable());
}

#[wasm_bindgen_test]
async fn an_open_that_fails_is_an_error_with_its_name() {
    let name = "bw-test-version";
    drop(name).await.unwrap();
    bump(name).await.unwrap();
    let err = Store::open(name, 5_000)
        .await
        .err()
        .expect("opening a newer database must fail");
    assert_eq!(err.name, "VersionError");
}

#[wasm_bindgen_test]
async fn a_memory_store_keeps_nothing_and_never_fails() {
    let store = Store::memory();
    assert!(!store.is_durable());
    let (log, _) = listen(&store);
    store.put("x".into(), b"1".to_vec());
    store.delete("x".into());
    sleep(20).await.unwrap();
    assert!(log.borrow().is_empty());
    assert!(store.load().await.unwrap().is_empty());
}

#[wasm_bindgen_test]
fn dom_exception_names_survive_conversion() {
    let e = JsError::from_js(&quota_error());
    assert_eq!(
        (e.name.as_str(), e.message.as_str()),
        ("QuotaExceededError", "the disk is full")
    );
    let thrown_string = JsError::from_js(&JsValue::from_str("boom"));
    assert_eq!(
        (thrown_string.name.as_str(), thrown_string.message.as_str()),
        ("Error", "boom")
    );
    assert_eq!(JsError::from_js(&JsValue::UNDEFINED).name, "Error");
}
