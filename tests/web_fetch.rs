//! The driver's HTTP (`post` in src/web/js/net.js) in real Chromium: status, Retry-After and body
//! come back as data; a request that got no response comes back as the Error, keeping its name.
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
    #[wasm_bindgen(thread_local_v2, js_name = post)]
    static POST: JsValue;
}

// A stand-in `fetch` on the global object where a test needs a particular answer: `post` looks
// `fetch` up at call time, exactly as a page's polyfill would be found.
#[wasm_bindgen(inline_js = r#"
const headers = { "Content-Type": "application/json", Authorization: "Bearer uk_live_t" };
const T = 30000; // requestTimeoutMs
const show = (r) => JSON.stringify(Array.isArray(r) ? r : { error: r.name });
async function withFetch(status, answer, body, run) {
  const real = globalThis.fetch;
  const seen = [];
  globalThis.fetch = async (url, init) => {
    seen.push({ url, method: init.method, headers: init.headers, body: new TextDecoder().decode(init.body), keepalive: init.keepalive, redirect: init.redirect });
    return new Response(body, { status, headers: answer });
  };
  try {
    return [await run(), JSON.stringify(seen)];
  } finally {
    globalThis.fetch = real;
  }
}
export async function answered(post) {
  const [r, seen] = await withFetch(429, { "Retry-After": "17" }, '{"code":"rate_limited"}',
    () => post("https://api.example/v1-batch", headers, new TextEncoder().encode('{"batch":[]}'), true, T));
  return show(r) + " " + seen;
}
export async function dateRetryAfter(post) {
  // An HTTP-date 10 s ahead (whole seconds, as the format has), and one that is not a date.
  const at = new Date(Math.ceil(Date.now() / 1000) * 1000 + 10000).toUTCString();
  const send = () => post("https://api.example/v1-batch", headers, new Uint8Array(2), false, T);
  const [date] = await withFetch(429, { "Retry-After": at }, "", send);
  const [junk] = await withFetch(429, { "Retry-After": "soon" }, "", send);
  return JSON.stringify([date[1], junk[1]]);
}
export async function serverError(post) {
  const [r] = await withFetch(503, {}, "", () => post("https://api.example/v1-batch", headers, new Uint8Array(2), false, T));
  return show(r);
}
export async function dataUrl(post) {
  // The real network stack, no stand-in: a data: URL answers any method with its payload.
  return show(await post("data:application/json,%7B%22ok%22%3Atrue%7D", headers, new Uint8Array(2), false, T));
}
export async function unreachable(post) {
  // Port 9 (discard) on loopback: connection refused, which fetch reports as a TypeError.
  return show(await post("http://127.0.0.1:9/v1-batch", headers, new Uint8Array(2), false, T));
}
export async function keepaliveQuota(post) {
  // The test page's own server answers a small keepalive POST (with whatever status), so the
  // refusal of the large one can only come from Chromium's 64 KiB keepalive quota.
  const url = location.origin + "/batchwire-keepalive";
  const small = await post(url, headers, new Uint8Array(100), true, T);
  const large = await post(url, headers, new Uint8Array(70 * 1024), true, T);
  return JSON.stringify({ small: Array.isArray(small), large: large.name });
}
export async function hanging(post) {
  // A server that never answers: the stand-in waits for the abort signal, as fetch does.
  const real = globalThis.fetch;
  globalThis.fetch = (url, init) => new Promise((_, no) => init.signal.addEventListener("abort", () => no(init.signal.reason)));
  try {
    const at = performance.now();
    const r = await post("https://api.example/v1-batch", headers, new Uint8Array(2), false, 50);
    return JSON.stringify({ error: r.name, waited: performance.now() - at >= 45 });
  } finally {
    globalThis.fetch = real;
  }
}
export function throwingFetch(post) {
  // A broken polyfill that throws synchronously must not escape either.
  const real = globalThis.fetch;
  globalThis.fetch = () => { throw new RangeError("polyfill bug"); };
  return post("https://api.example/x", headers, new Uint8Array(1), false, T).then(show).finally(() => (globalThis.fetch = real));
}
"#)]
extern "C" {
    fn answered(post: &JsValue) -> Promise;
    #[wasm_bindgen(js_name = dateRetryAfter)]
    fn date_retry_after(post: &JsValue) -> Promise;
    #[wasm_bindgen(js_name = serverError)]
    fn server_error(post: &JsValue) -> Promise;
    #[wasm_bindgen(js_name = dataUrl)]
    fn data_url(post: &JsValue) -> Promise;
    fn unreachable(post: &JsValue) -> Promise;
    #[wasm_bindgen(js_name = keepaliveQuota)]
    fn keepalive_quota(post: &JsValue) -> Promise;
    fn hanging(post: &JsValue) -> Promise;
    #[wasm_bindgen(js_name = throwingFetch)]
    fn throwing_fetch(post: &JsValue) -> Promise;
}

async fn run(scenario: fn(&JsValue) -> Promise) -> String {
    let post = POST.with(JsValue::clone);
    let seen = JsFuture::from(scenario(&post)).await.unwrap();
    seen.as_string().unwrap()
}

#[wasm_bindgen_test]
async fn status_retry_after_and_body_come_back_and_the_request_is_as_asked() {
    let seen = run(answered).await;
    let (result, request) = seen.split_once(' ').unwrap();
    assert_eq!(result, r#"[429,"17","{\"code\":\"rate_limited\"}"]"#);
    for part in [
        r#""url":"https://api.example/v1-batch""#,
        r#""method":"POST""#,
        r#""Authorization":"Bearer uk_live_t""#,
        r#""Content-Type":"application/json""#,
        r#""body":"{\"batch\":[]}""#,
        r#""keepalive":true"#,
        r#""redirect":"manual""#,
    ] {
        assert!(request.contains(part), "{part} missing from {request}");
    }
}

/// The package's wasm reads Retry-After only as seconds: a date arrives converted, rounded up;
/// anything else arrives as it came, for the engine to ignore.
#[wasm_bindgen_test]
async fn an_http_date_retry_after_comes_back_as_the_seconds_left_and_junk_as_it_came() {
    let seen = run(date_retry_after).await;
    assert!(
        seen == r#"["10","soon"]"# || seen == r#"["11","soon"]"#,
        "{seen}"
    );
}

/// No complete answer within the request timeout: the request is aborted, an error value.
#[wasm_bindgen_test]
async fn a_request_without_an_answer_is_aborted_at_its_timeout() {
    assert_eq!(
        run(hanging).await,
        r#"{"error":"AbortError","waited":true}"#
    );
}

#[wasm_bindgen_test]
async fn a_5xx_is_an_answer_and_a_missing_retry_after_is_null() {
    assert_eq!(run(server_error).await, r#"[503,null,""]"#);
}

#[wasm_bindgen_test]
async fn a_real_request_reads_the_body() {
    assert_eq!(run(data_url).await, r#"[200,null,"{\"ok\":true}"]"#);
}

#[wasm_bindgen_test]
async fn an_unreachable_host_is_a_type_error_value() {
    assert_eq!(run(unreachable).await, r#"{"error":"TypeError"}"#);
}

#[wasm_bindgen_test]
async fn a_keepalive_body_over_the_browser_quota_is_an_error_value() {
    assert_eq!(
        run(keepalive_quota).await,
        r#"{"small":true,"large":"TypeError"}"#
    );
}

#[wasm_bindgen_test]
async fn a_fetch_that_throws_synchronously_is_an_error_value() {
    assert_eq!(run(throwing_fetch).await, r#"{"error":"RangeError"}"#);
}
