//! The fetch binding in real Chromium: status, Retry-After and body come back as data; network
//! failures and refused requests are errors, never a crash.
#![cfg(target_arch = "wasm32")]

use batchwire::web::fetch::{send, Request, Response};
use wasm_bindgen::prelude::*;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

// A stand-in `fetch` on the global object, like a test double for the network: the binding
// resolves `fetch` at call time, so replacing the global is exactly what a page's polyfill would do.
#[wasm_bindgen(inline_js = r#"
let real;
export function fakeFetch(status, headers, body) {
  real ??= globalThis.fetch;
  globalThis.seen = [];
  globalThis.fetch = async (url, init) => {
    globalThis.seen.push({ url, method: init.method, headers: init.headers, body: new TextDecoder().decode(init.body), keepalive: !!init.keepalive });
    return new Response(body, { status, headers });
  };
}
export function realFetch() { if (real) globalThis.fetch = real; }
export function seen() { return JSON.stringify(globalThis.seen); }
export function origin() { return location.origin; }
"#)]
extern "C" {
    #[wasm_bindgen(js_name = fakeFetch)]
    fn fake_fetch(status: u16, headers: &JsValue, body: &str);
    #[wasm_bindgen(js_name = realFetch)]
    fn real_fetch();
    fn seen() -> String;
    fn origin() -> String;
}

fn headers() -> Vec<(&'static str, String)> {
    vec![
        ("Content-Type", "application/json".into()),
        ("Authorization", "Bearer uk_live_t".into()),
    ]
}

#[wasm_bindgen_test]
async fn status_retry_after_and_body_come_back() {
    let h = js_sys::Object::new();
    js_sys::Reflect::set(&h, &"Retry-After".into(), &"17".into()).unwrap();
    fake_fetch(429, &h, r#"{"success":false,"code":"rate_limited"}"#);
    let hs = headers();
    let req = Request {
        url: "https://api.example/v1-batch",
        headers: &hs,
        body: br#"{"batch":[]}"#,
        keepalive: true,
    };
    let res = send(&req).await;
    real_fetch();
    assert_eq!(
        res.unwrap(),
        Response {
            status: 429,
            retry_after: Some("17".into()),
            body: r#"{"success":false,"code":"rate_limited"}"#.into()
        }
    );
    let seen = seen();
    for part in [
        r#""url":"https://api.example/v1-batch""#,
        r#""method":"POST""#,
        r#""Authorization":"Bearer uk_live_t""#,
        r#""Content-Type":"application/json""#,
        r#""body":"{\"batch\":[]}""#,
        r#""keepalive":true"#,
    ] {
        assert!(
            seen.contains(part),
            "{part} missing from the request: {seen}"
        );
    }
}

#[wasm_bindgen_test]
async fn a_5xx_is_a_response_and_a_missing_retry_after_is_none() {
    fake_fetch(503, &js_sys::Object::new(), "");
    let hs = headers();
    let res = send(&Request {
        url: "https://api.example/x",
        headers: &hs,
        body: b"{}",
        keepalive: false,
    })
    .await;
    real_fetch();
    assert_eq!(
        res.unwrap(),
        Response {
            status: 503,
            retry_after: None,
            body: String::new()
        }
    );
    assert!(seen().contains(r#""keepalive":false"#));
}

#[wasm_bindgen_test]
async fn a_real_request_reads_the_body() {
    // Real network stack, no stand-in: a data: URL answers any method with its payload.
    let hs = headers();
    let res = send(&Request {
        url: "data:application/json,%7B%22ok%22%3Atrue%7D",
        headers: &hs,
        body: b"{}",
        keepalive: false,
    })
    .await
    .unwrap();
    assert_eq!((res.status, res.body.as_str()), (200, r#"{"ok":true}"#));
}

#[wasm_bindgen_test]
async fn an_unreachable_host_is_a_network_error() {
    // Port 9 (discard) on loopback: connection refused, which fetch reports as a TypeError.
    let hs = headers();
    let err = send(&Request {
        url: "http://127.0.0.1:9/v1-batch",
        headers: &hs,
        body: b"{}",
        keepalive: false,
    })
    .await
    .unwrap_err();
    assert_eq!(err.name, "TypeError", "{err:?}");
}

#[wasm_bindgen_test]
async fn a_keepalive_body_over_the_browser_quota_is_an_error() {
    // Chromium refuses keepalive bodies above 64 KiB; the driver must see an error it can retry
    // without keepalive, not an exception escaping into the page.
    let hs = headers();
    // The test page's own server answers a small keepalive POST (with whatever status), so the
    // refusal of the large one can only come from the quota.
    let url = &[origin().as_str(), "/batchwire-keepalive"].concat();
    let small = send(&Request {
        url,
        headers: &hs,
        body: b"{}",
        keepalive: true,
    })
    .await;
    assert!(small.is_ok(), "{small:?}");
    let body = vec![b' '; 70 * 1024];
    let err = send(&Request {
        url,
        headers: &hs,
        body: &body,
        keepalive: true,
    })
    .await
    .unwrap_err();
    assert_eq!(err.name, "TypeError", "{err:?}");
}
