//! Browser smoke test: proves the wasm build runs in real headless Chromium with the APIs the
//! web driver relies on present (fetch, IndexedDB, Web Locks, BroadcastChannel).
#![cfg(target_arch = "wasm32")]

use wasm_bindgen::JsValue;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

fn global_has(name: &str) -> bool {
    js_sys::Reflect::has(&js_sys::global(), &JsValue::from_str(name)).unwrap_or(false)
}

#[wasm_bindgen_test]
fn runs_in_a_browser_with_the_apis_batchwire_needs() {
    for api in ["fetch", "indexedDB", "BroadcastChannel", "document"] {
        assert!(
            global_has(api),
            "{api} is missing from the test page's global scope"
        );
    }
    let navigator = js_sys::Reflect::get(&js_sys::global(), &"navigator".into()).unwrap();
    assert!(
        js_sys::Reflect::has(&navigator, &"locks".into()).unwrap(),
        "navigator.locks is missing"
    );
}
