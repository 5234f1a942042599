//! The timer binding in real Chromium: fires once, re-arms, cancels on drop, and never turns a
//! month-long wait into an immediate call.
#![cfg(target_arch = "wasm32")]

use std::cell::Cell;
use std::rc::Rc;

use batchwire::web::timer::{Timeout, MAX_DELAY_MS};
use js_sys::{Date, Function, Promise};
use wasm_bindgen::prelude::*;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

#[wasm_bindgen(
    inline_js = "export function sleep(ms) { return new Promise((ok) => setTimeout(ok, ms)); }"
)]
extern "C" {
    fn sleep(ms: u32) -> Promise;
}

/// A promise and the function that resolves it.
fn signal() -> (Promise, Function) {
    let mut resolve = None;
    let p = Promise::new(&mut |ok, _| resolve = Some(ok));
    (p, resolve.unwrap())
}

#[wasm_bindgen_test]
async fn fires_once_after_the_delay() {
    let (done, resolve) = signal();
    let calls = Rc::new(Cell::new(0));
    let c = calls.clone();
    let start = Date::now();
    let _t = Timeout::new(30, move || {
        c.set(c.get() + 1);
        resolve.call0(&JsValue::NULL).unwrap();
    })
    .unwrap();
    done.await.unwrap();
    assert!(
        Date::now() - start >= 29.0,
        "fired early: {} ms",
        Date::now() - start
    );
    sleep(60).await.unwrap();
    assert_eq!(calls.get(), 1);
}

#[wasm_bindgen_test]
async fn dropping_the_handle_cancels() {
    let fired = Rc::new(Cell::new(false));
    let f = fired.clone();
    let t = Timeout::new(10, move || f.set(true)).unwrap();
    drop(t);
    sleep(60).await.unwrap();
    assert!(!fired.get(), "a dropped Timeout still fired");
}

#[wasm_bindgen_test]
async fn re_arming_replaces_the_pending_timer() {
    // The driver keeps one timer and re-arms it by assignment; only the last one may fire.
    let hits = Rc::new(Cell::new(0u32));
    let (h1, h2) = (hits.clone(), hits.clone());
    struct Driver {
        timer: Option<Timeout>,
    }
    let mut d = Driver {
        timer: Some(Timeout::new(20, move || h1.set(h1.get() + 1)).unwrap()),
    };
    d.timer = Some(Timeout::new(40, move || h2.set(h2.get() + 10)).unwrap());
    sleep(90).await.unwrap();
    assert_eq!(
        hits.get(),
        10,
        "the replaced timer fired or the new one did not"
    );
    assert!(d.timer.is_some());
}

#[wasm_bindgen_test]
async fn re_arming_from_inside_the_callback_works() {
    // The driver's timer callback re-arms (dropping the very closure that is running).
    thread_local!(static SLOT: std::cell::RefCell<Option<Timeout>> = const { std::cell::RefCell::new(None) });
    let hits = Rc::new(Cell::new(0u32));
    let h = hits.clone();
    let t = Timeout::new(5, move || {
        h.set(h.get() + 1);
        let h2 = h.clone();
        let next = Timeout::new(5, move || h2.set(h2.get() + 1)).unwrap();
        SLOT.with(|s| *s.borrow_mut() = Some(next));
    })
    .unwrap();
    SLOT.with(|s| *s.borrow_mut() = Some(t));
    sleep(60).await.unwrap();
    assert_eq!(hits.get(), 2);
    SLOT.with(|s| s.borrow_mut().take());
}

#[wasm_bindgen_test]
async fn an_overlong_delay_is_clamped_not_fired_at_once() {
    // setTimeout fires at once for delays above 2^31-1 ms; a quota hold until next month must not.
    let fired = Rc::new(Cell::new(false));
    let f = fired.clone();
    let t = Timeout::new(40 * 24 * 3_600_000, move || f.set(true)).unwrap();
    sleep(30).await.unwrap();
    assert!(!fired.get());
    assert_eq!(MAX_DELAY_MS, 2_147_483_647);
    drop(t);
}
