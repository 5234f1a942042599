//! Control endpoints for tests and the demo page: statistics and the request log, the stored
//! events, reset, faults and limits at run time. Loopback peers only: anything else gets 403, so
//! a collector bound to a public address cannot be reconfigured from outside.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Query, Request, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Extension;
use serde_json::{json, Map, Value};

use crate::body::{read_capped, BodyError};
use crate::ingest::{respond, Outcome};
use crate::server::ConnInfo;
use crate::state::{AppState, Inner};

/// Largest control body accepted (a fault script with bodies stays far below this).
const CONTROL_MAX_BYTES: u64 = 1_048_576;

fn error(status: u16, msg: &str) -> Response {
    respond(Outcome::new(
        status,
        json!({"success": false, "error": msg}),
    ))
}

fn ok(body: Value) -> Response {
    respond(Outcome::new(200, body))
}

/// `None` when the peer may use control endpoints; the 403 otherwise. Without connection info
/// (the router served by something other than `collector::serve`) the answer is no.
fn refuse_remote(conn: &Option<Extension<ConnInfo>>) -> Option<Response> {
    match conn {
        Some(Extension(c)) if c.peer.ip().is_loopback() => None,
        _ => Some(error(403, "Control endpoints answer loopback clients only")),
    }
}

type Conn = Option<Extension<ConnInfo>>;

pub async fn health(State(st): State<Arc<AppState>>) -> Response {
    ok(json!({
        "ok": true,
        "service": "batchwire collector",
        "version": env!("CARGO_PKG_VERSION"),
        "uptime_ms": st.clock.now_ms().saturating_sub(st.started_ms),
        "ingest": ["/v1-batch", "/2/httpapi", "/batch"],
        "control": ["/_stats", "/_events", "/_reset", "/_faults", "/_config", "/_health"],
    }))
}

/// `GET /_stats[?log=false]`.
pub async fn stats(
    State(st): State<Arc<AppState>>,
    conn: Conn,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    if let Some(r) = refuse_remote(&conn) {
        return r;
    }
    let with_log = !matches!(q.get("log").map(String::as_str), Some("false" | "0"));
    let inner = st.lock();
    let s = &inner.stats;
    let mut body = json!({
        "requests": {"total": s.requests, "by_status": s.by_status, "by_path": s.by_path,
            "preflights": s.preflights},
        "events": {"ingested": s.ingested, "duplicates": s.duplicates, "rejected": s.rejected,
            "warnings": s.warnings, "stored": inner.events.len(), "evicted": inner.events_evicted},
        "bytes_received": s.bytes,
        "faults_injected": s.faults_injected,
        "dropped": s.dropped,
        "log_evicted": s.log_evicted,
        "now_ms": st.clock.now_ms(),
    });
    if with_log {
        body["log"] = json!(s.log);
    }
    ok(body)
}

/// `GET /_events[?path=/batch]`: NDJSON, arrival order, each event with `_path` and
/// `_received_ms` added in front.
pub async fn events(
    State(st): State<Arc<AppState>>,
    conn: Conn,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    if let Some(r) = refuse_remote(&conn) {
        return r;
    }
    let filter = q.get("path");
    let inner = st.lock();
    let mut out = String::new();
    for ev in inner
        .events
        .iter()
        .filter(|e| filter.is_none_or(|p| p == e.path))
    {
        let rest = ev.json.strip_prefix('{').unwrap_or("}");
        let sep = if rest.starts_with('}') { "" } else { "," };
        out.push_str(&format!(
            "{{\"_path\":\"{}\",\"_received_ms\":{}{sep}{rest}\n",
            ev.path, ev.received_ms
        ));
    }
    drop(inner);
    ([(header::CONTENT_TYPE, "application/x-ndjson")], out).into_response()
}

pub async fn reset(State(st): State<Arc<AppState>>, conn: Conn) -> Response {
    if let Some(r) = refuse_remote(&conn) {
        return r;
    }
    st.reset();
    ok(json!({"success": true}))
}

pub async fn get_faults(State(st): State<Arc<AppState>>, conn: Conn) -> Response {
    if let Some(r) = refuse_remote(&conn) {
        return r;
    }
    let body = st.lock().faults.to_json();
    ok(body)
}

pub async fn post_faults(State(st): State<Arc<AppState>>, conn: Conn, req: Request) -> Response {
    patch(&st, &conn, req, |inner, obj| {
        inner.faults.apply(obj)?;
        Ok(inner.faults.to_json())
    })
    .await
}

pub async fn get_config(State(st): State<Arc<AppState>>, conn: Conn) -> Response {
    if let Some(r) = refuse_remote(&conn) {
        return r;
    }
    ok(json!(st.limits()))
}

pub async fn post_config(State(st): State<Arc<AppState>>, conn: Conn, req: Request) -> Response {
    patch(&st, &conn, req, |inner, obj| {
        inner.limits.patch(obj)?;
        Ok(json!(inner.limits))
    })
    .await
}

/// A control POST: loopback only, a JSON object body, applied under the lock by `apply`, which
/// answers the new state or the reason it refused (a 400, nothing changed).
async fn patch(
    st: &AppState,
    conn: &Conn,
    req: Request,
    apply: impl FnOnce(&mut Inner, &Map<String, Value>) -> Result<Value, String>,
) -> Response {
    if let Some(r) = refuse_remote(conn) {
        return r;
    }
    let obj = match json_object(st, req).await {
        Ok(o) => o,
        Err(r) => return r,
    };
    let result = apply(&mut st.lock(), &obj);
    match result {
        Ok(body) => ok(body),
        Err(e) => error(400, &e),
    }
}

async fn json_object(st: &AppState, req: Request) -> Result<Map<String, Value>, Response> {
    let (parts, mut body) = req.into_parts();
    match read_capped(
        &parts.headers,
        &mut body,
        CONTROL_MAX_BYTES,
        st.cfg.body_timeout_ms,
    )
    .await
    {
        Ok(bytes) => match serde_json::from_slice::<Value>(&bytes) {
            Ok(Value::Object(o)) => Ok(o),
            _ => Err(error(400, "Body must be a JSON object")),
        },
        Err(BodyError::TooLarge) => Err(error(413, "Control body too large")),
        Err(BodyError::Timeout) => Err(error(408, "Request body timed out")),
        Err(_) => Err(error(400, "Could not read the request body")),
    }
}

pub async fn not_found() -> Response {
    error(StatusCode::NOT_FOUND.as_u16(), "Not found")
}

pub async fn method_not_allowed() -> Response {
    error(405, "Method not allowed")
}
