//! The driver's one timer (`Timer` in src/web/js/net.js) in real Chromium: fires once, re-arms in
//! place, cancels, survives being re-armed from its own callback, and never turns a month-long
//! wait into an immediate call.
#![cfg(target_arch = "wasm32")]

use js_sys::futures::JsFuture;
use js_sys::Promise;
use wasm_bindgen::prelude::*;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

// net.js imports write() from store.js (the request worker's text carries both): binding store.js
// too is what puts it beside net.js in the test's snippets, as the package's bundle has it.
#[wasm_bindgen(module = "/src/web/js/store.js")]
extern "C" {
    #[wasm_bindgen(thread_local_v2, js_name = write)]
    static WRITE: JsValue;
}

#[wasm_bindgen(module = "/src/web/js/net.js")]
extern "C" {
    #[wasm_bindgen(thread_local_v2, js_name = Timer)]
    static TIMER: JsValue;
}

// Each scenario gets the Timer class and resolves to what it observed, as JSON.
#[wasm_bindgen(inline_js = r#"
const sleep = (ms) => new Promise((ok) => setTimeout(ok, ms));
export async function firesOnce(Timer) {
  const fired = [];
  const start = performance.now();
  const t = new Timer(() => fired.push(Math.round(performance.now() - start)));
  t.arm(30);
  await sleep(120);
  return JSON.stringify({ calls: fired.length, late: fired[0] >= 29 });
}
export async function reArmReplaces(Timer) {
  const fired = [];
  const start = performance.now();
  const t = new Timer(() => fired.push(performance.now() - start));
  t.arm(20);
  t.arm(60); // the driver re-arms at every drive: only the last deadline counts
  await sleep(150);
  return JSON.stringify({ calls: fired.length, atLeast60: fired[0] >= 59 });
}
export async function disarmCancels(Timer) {
  let calls = 0;
  const t = new Timer(() => calls++);
  t.arm(10);
  t.arm(); // the driver passes no delay when nothing waits on time
  await sleep(60);
  return JSON.stringify({ calls });
}
export async function reArmFromCallback(Timer) {
  let calls = 0;
  const t = new Timer(() => {
    if (++calls === 1) t.arm(5); // the driver's timer() drives, which re-arms
  });
  t.arm(5);
  await sleep(80);
  return JSON.stringify({ calls });
}
export async function overlongIsClamped(Timer) {
  let calls = 0;
  const t = new Timer(() => calls++);
  t.arm(40 * 24 * 3600 * 1000); // a quota reset next month: over setTimeout's 2^31-1 ms
  await sleep(40);
  t.arm();
  return JSON.stringify({ calls });
}
"#)]
extern "C" {
    #[wasm_bindgen(js_name = firesOnce)]
    fn fires_once(timer: &JsValue) -> Promise;
    #[wasm_bindgen(js_name = reArmReplaces)]
    fn re_arm_replaces(timer: &JsValue) -> Promise;
    #[wasm_bindgen(js_name = disarmCancels)]
    fn disarm_cancels(timer: &JsValue) -> Promise;
    #[wasm_bindgen(js_name = reArmFromCallback)]
    fn re_arm_from_callback(timer: &JsValue) -> Promise;
    #[wasm_bindgen(js_name = overlongIsClamped)]
    fn overlong_is_clamped(timer: &JsValue) -> Promise;
}

async fn run(scenario: fn(&JsValue) -> Promise) -> String {
    let timer = TIMER.with(JsValue::clone);
    let seen = JsFuture::from(scenario(&timer)).await.unwrap();
    seen.as_string().unwrap()
}

#[wasm_bindgen_test]
async fn fires_once_after_the_delay() {
    assert_eq!(run(fires_once).await, r#"{"calls":1,"late":true}"#);
}

#[wasm_bindgen_test]
async fn re_arming_replaces_the_pending_deadline() {
    assert_eq!(
        run(re_arm_replaces).await,
        r#"{"calls":1,"atLeast60":true}"#
    );
}

#[wasm_bindgen_test]
async fn arming_without_a_delay_cancels() {
    assert_eq!(run(disarm_cancels).await, r#"{"calls":0}"#);
}

#[wasm_bindgen_test]
async fn re_arming_from_inside_the_callback_works() {
    assert_eq!(run(re_arm_from_callback).await, r#"{"calls":2}"#);
}

#[wasm_bindgen_test]
async fn an_overlong_delay_is_clamped_not_fired_at_once() {
    assert_eq!(run(overlong_is_clamped).await, r#"{"calls":0}"#);
}
