//! CORS for browser clients: preflights answered, and every response, errors included, carries
//! `Access-Control-Allow-Origin` and `Access-Control-Expose-Headers: Retry-After` (without the
//! latter a browser hides `Retry-After` from the SDK).

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::config::Config;
use crate::state::AppState;

/// Requests without an `Origin` (servers, curl) are always allowed; browsers' are checked.
pub fn origin_allowed(cfg: &Config, headers: &HeaderMap) -> bool {
    match headers.get(header::ORIGIN) {
        None => true,
        Some(o) => cfg
            .allow_origins
            .iter()
            .any(|a| a == "*" || o.as_bytes() == a.as_bytes()),
    }
}

/// The `Access-Control-Allow-Origin` value for this request, if any.
fn allow_origin_value(cfg: &Config, headers: &HeaderMap) -> Option<HeaderValue> {
    if cfg.allow_origins.iter().any(|a| a == "*") {
        return Some(HeaderValue::from_static("*"));
    }
    let origin = headers.get(header::ORIGIN)?;
    origin_allowed(cfg, headers).then(|| origin.clone())
}

fn decorate(cfg: &Config, req_headers: &HeaderMap, h: &mut HeaderMap) {
    if let Some(v) = allow_origin_value(cfg, req_headers) {
        if v != "*" {
            h.insert(header::VARY, HeaderValue::from_static("Origin"));
        }
        h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, v);
    }
    h.insert(
        header::ACCESS_CONTROL_EXPOSE_HEADERS,
        HeaderValue::from_static("Retry-After"),
    );
}

/// Middleware around the whole router.
pub async fn layer(State(st): State<Arc<AppState>>, req: Request, next: Next) -> Response {
    let req_headers = req.headers().clone();
    if req.method() == Method::OPTIONS {
        st.lock().stats.preflights += 1;
        let status = if origin_allowed(&st.cfg, &req_headers) {
            StatusCode::NO_CONTENT
        } else {
            StatusCode::FORBIDDEN
        };
        let mut resp = status.into_response();
        let h = resp.headers_mut();
        decorate(&st.cfg, &req_headers, h);
        h.insert(
            header::ACCESS_CONTROL_ALLOW_METHODS,
            HeaderValue::from_static("GET, POST, OPTIONS"),
        );
        h.insert(
            header::ACCESS_CONTROL_ALLOW_HEADERS,
            HeaderValue::from_static("Authorization, Content-Type"),
        );
        h.insert(
            header::ACCESS_CONTROL_MAX_AGE,
            HeaderValue::from_static("600"),
        );
        return resp;
    }
    let mut resp = next.run(req).await;
    decorate(&st.cfg, &req_headers, resp.headers_mut());
    resp
}
