//! HTTP through the global `fetch`: one POST in, status + `Retry-After` + body out.
//!
//! Everything that can throw is caught: a rejected `fetch` (offline, DNS, CORS, a keepalive
//! request over the browser's quota) and a body that fails to arrive are both a [`JsError`],
//! which the driver reports to the core as a network failure. Any status, 5xx included, is a
//! [`Response`]: the core decides what it means.

use js_sys::{Object, Promise, Reflect, Uint8Array};
use wasm_bindgen::prelude::*;

use super::error::JsError;

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_name = fetch, catch)]
    fn global_fetch(url: &str, init: &Object) -> Result<Promise, JsValue>;

    type FetchResponse;
    #[wasm_bindgen(method, getter, structural, catch)]
    fn status(this: &FetchResponse) -> Result<u16, JsValue>;
    #[wasm_bindgen(method, getter, structural, catch)]
    fn headers(this: &FetchResponse) -> Result<FetchHeaders, JsValue>;
    #[wasm_bindgen(method, structural, catch)]
    fn text(this: &FetchResponse) -> Result<Promise, JsValue>;

    type FetchHeaders;
    #[wasm_bindgen(method, structural, catch)]
    fn get(this: &FetchHeaders, name: &str) -> Result<Option<String>, JsValue>;
}

/// A POST to send.
pub struct Request<'a> {
    pub url: &'a str,
    pub headers: &'a [(&'a str, String)],
    pub body: &'a [u8],
    /// Lets the request outlive the page (unload). Browsers cap the bodies of all keepalive
    /// requests in flight at 64 KiB together; over that, `fetch` rejects.
    pub keepalive: bool,
}

/// What came back. `retry_after` is the raw header (seconds or an HTTP date); it is only readable
/// cross-origin when the server lists it in `Access-Control-Expose-Headers`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    pub retry_after: Option<String>,
    pub body: String,
}

/// Sends `req` and waits for the whole response.
pub async fn send(req: &Request<'_>) -> Result<Response, JsError> {
    start(req)?.finish().await
}

/// A request that has left: `fetch` was called synchronously, so it goes out even if the page
/// is torn down before the next microtask (the unload path relies on this).
#[must_use = "a Pending holds the only way to read the response"]
pub struct Pending(Promise);

/// Calls `fetch` now.
pub fn start(req: &Request<'_>) -> Result<Pending, JsError> {
    let init = Object::new();
    let headers = Object::new();
    for (name, value) in req.headers {
        set(&headers, name, &JsValue::from_str(value))?;
    }
    set(&init, "method", &JsValue::from_str("POST"))?;
    set(&init, "headers", &headers)?;
    // A copy, not a view of wasm memory: the view would be detached if memory grew before
    // `fetch` read it.
    set(&init, "body", &Uint8Array::from(req.body))?;
    if req.keepalive {
        set(&init, "keepalive", &JsValue::TRUE)?;
    }
    Ok(Pending(global_fetch(req.url, &init)?))
}

impl Pending {
    /// Waits for the status, headers and the whole body.
    pub async fn finish(self) -> Result<Response, JsError> {
        let response: FetchResponse = self.0.await?.unchecked_into();
        let status = response.status()?;
        let retry_after = response.headers()?.get("retry-after")?;
        let body = response.text()?.await?.as_string().unwrap_or_default();
        Ok(Response {
            status,
            retry_after,
            body,
        })
    }
}

fn set(target: &Object, key: &str, value: &JsValue) -> Result<(), JsError> {
    Reflect::set(target, &JsValue::from_str(key), value)?;
    Ok(())
}
