//! The path every ingest request takes, whatever its protocol: origin check, capped body read,
//! fault decision, protocol processing, then the answer (or a dropped connection) and the log.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Extension;
use serde_json::{json, Value};

use crate::body::{discard_rest, read_capped, BodyError};
use crate::config::Limits;
use crate::faults::Action;
use crate::server::ConnInfo;
use crate::state::{AppState, LogEntry};
use crate::{amplitude, cors, v1_batch};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Proto {
    V1,
    AmpV2,
    AmpBatch,
}

impl Proto {
    pub fn path(self) -> &'static str {
        match self {
            Proto::V1 => "/v1-batch",
            Proto::AmpV2 => "/2/httpapi",
            Proto::AmpBatch => "/batch",
        }
    }

    pub fn from_path(p: &str) -> Option<Proto> {
        [Proto::V1, Proto::AmpV2, Proto::AmpBatch]
            .into_iter()
            .find(|x| x.path() == p)
    }

    pub fn max_bytes(self, l: &Limits) -> u64 {
        match self {
            Proto::V1 => l.v1_max_bytes,
            Proto::AmpV2 => l.v2_max_bytes,
            Proto::AmpBatch => l.batch_max_bytes,
        }
    }

    /// The protocol's error envelope: `{"success":false,"error"}` or `{"code","error"}`.
    pub fn error(self, status: u16, msg: &str) -> Value {
        match self {
            Proto::V1 => json!({"success": false, "error": msg}),
            _ => json!({"code": status, "error": msg}),
        }
    }

    /// The protocol's 413 body, exactly as docs/PROTOCOLS.md A has it.
    pub fn too_large(self, limits: &Limits) -> Outcome {
        let body = match self {
            Proto::V1 => json!({
                "success": false,
                "error": format!("Request body too large: maximum {} bytes", limits.v1_max_bytes),
                "limit_bytes": limits.v1_max_bytes,
                "hint": "Split the batch into smaller requests (max 100 events / 1 MiB per call).",
            }),
            _ => json!({"code": 413, "error": "Payload too large"}),
        };
        Outcome::new(413, body)
    }
}

/// A protocol's answer to one request.
#[derive(Debug)]
pub struct Outcome {
    pub status: u16,
    pub body: Value,
    pub retry_after: Option<String>,
    pub headers: Vec<(String, String)>,
    /// Events in the request body, for the log.
    pub events: usize,
}

impl Outcome {
    pub fn new(status: u16, body: Value) -> Self {
        Outcome {
            status,
            body,
            retry_after: None,
            headers: Vec::new(),
            events: 0,
        }
    }

    pub fn retry_after(mut self, secs: u64) -> Self {
        self.retry_after = Some(secs.to_string());
        self
    }

    pub fn events(mut self, n: usize) -> Self {
        self.events = n;
        self
    }
}

pub async fn v1(
    st: State<Arc<AppState>>,
    conn: Option<Extension<ConnInfo>>,
    req: Request,
) -> Response {
    handle(st.0, conn.map(|c| c.0), Proto::V1, req).await
}

pub async fn amp_v2(
    st: State<Arc<AppState>>,
    conn: Option<Extension<ConnInfo>>,
    req: Request,
) -> Response {
    handle(st.0, conn.map(|c| c.0), Proto::AmpV2, req).await
}

pub async fn amp_batch(
    st: State<Arc<AppState>>,
    conn: Option<Extension<ConnInfo>>,
    req: Request,
) -> Response {
    handle(st.0, conn.map(|c| c.0), Proto::AmpBatch, req).await
}

/// The client address the per-IP window is keyed on.
fn client_ip(st: &AppState, conn: &Option<ConnInfo>, headers: &HeaderMap) -> String {
    if st.cfg.trust_forwarded_for {
        let fwd = headers
            .get("x-forwarded-for")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(',').next())
            .map(str::trim)
            .filter(|v| !v.is_empty());
        if let Some(ip) = fwd {
            return ip.to_string();
        }
    }
    conn.as_ref()
        .map(|c| c.peer.ip().to_string())
        .unwrap_or_else(|| "unknown".into())
}

async fn handle(st: Arc<AppState>, conn: Option<ConnInfo>, proto: Proto, req: Request) -> Response {
    let mut entry = LogEntry {
        seq: 0,
        ms: st.clock.now_ms(),
        method: "POST",
        path: proto.path().to_string(),
        status: 0,
        events: 0,
        bytes: 0,
        fault: None,
        dropped: false,
        retry_after: None,
    };
    let (parts, mut body) = req.into_parts();
    let limits = st.limits();
    let read = if cors::origin_allowed(&st.cfg, &parts.headers) {
        read_capped(
            &parts.headers,
            &mut body,
            proto.max_bytes(&limits),
            st.cfg.body_timeout_ms,
        )
        .await
    } else {
        Err(BodyError::Forbidden)
    };
    if matches!(read, Err(BodyError::TooLarge | BodyError::Forbidden)) {
        discard_rest(&parts.headers, body);
    }
    let outcome = {
        match read {
            Err(BodyError::Forbidden) => {
                let mut body = proto.error(403, "Origin not allowed");
                if proto == Proto::V1 {
                    body["code"] = json!("origin_not_allowed");
                }
                Outcome::new(403, body)
            }
            Err(BodyError::TooLarge) => proto.too_large(&limits),
            Err(BodyError::Timeout) => {
                Outcome::new(408, proto.error(408, "Request body timed out"))
            }
            Err(BodyError::Broken) => {
                Outcome::new(400, proto.error(400, "Could not read the request body"))
            }
            Ok(bytes) => {
                entry.bytes = bytes.len();
                let decision = st.lock().faults.decide(proto.path());
                entry.fault = decision.source;
                if decision.delay_ms > 0 {
                    tokio::time::sleep(Duration::from_millis(decision.delay_ms)).await;
                }
                match decision.action {
                    Action::Respond {
                        status,
                        retry_after,
                        body,
                        headers,
                        daily_quota,
                    } => {
                        let body = body
                            .unwrap_or_else(|| fault_body(&st, proto, status, daily_quota, &bytes));
                        let mut o = Outcome::new(status, body).events(count_events(proto, &bytes));
                        o.retry_after = retry_after;
                        o.headers = headers;
                        o
                    }
                    Action::Normal => process(&st, &conn, proto, &parts.headers, &bytes),
                    Action::Drop => {
                        let o = process(&st, &conn, proto, &parts.headers, &bytes);
                        if let Some(c) = &conn {
                            entry.events = o.events;
                            entry.dropped = true;
                            st.lock().record(st.cfg.log_cap, entry);
                            c.drop_connection();
                            // The connection task drops this future together with the socket.
                            return std::future::pending().await;
                        }
                        // Served outside `collector::serve` there is no connection to drop.
                        Outcome::new(503, proto.error(503, "drop fault needs collector::serve"))
                    }
                }
            }
        }
    };
    entry.status = outcome.status;
    entry.events = outcome.events;
    entry.retry_after = outcome.retry_after.clone();
    st.lock().record(st.cfg.log_cap, entry);
    respond(outcome)
}

fn process(
    st: &AppState,
    conn: &Option<ConnInfo>,
    proto: Proto,
    headers: &HeaderMap,
    body: &[u8],
) -> Outcome {
    match proto {
        Proto::V1 => v1_batch::process(st, &client_ip(st, conn, headers), headers, body),
        _ => amplitude::process(st, proto, headers, body),
    }
}

/// The default body of an injected answer: realistic enough that a client's classifier takes
/// the same branch it would take on the real thing.
fn fault_body(st: &AppState, proto: Proto, status: u16, daily_quota: bool, bytes: &[u8]) -> Value {
    let limits = st.limits();
    match (proto, status) {
        (_, 413) => proto.too_large(&limits).body,
        (Proto::V1, 429) => v1_batch::rate_limited_body(&limits),
        (_, 429) => amplitude::scripted_429(st, proto, bytes, daily_quota),
        (_, 200) => json!({}),
        _ => proto.error(status, &format!("Injected fault: HTTP {status}")),
    }
}

fn count_events(proto: Proto, bytes: &[u8]) -> usize {
    let field = if proto == Proto::V1 {
        "batch"
    } else {
        "events"
    };
    serde_json::from_slice::<Value>(bytes)
        .ok()
        .and_then(|v| v.get(field).and_then(Value::as_array).map(Vec::len))
        .unwrap_or(0)
}

pub fn respond(o: Outcome) -> Response {
    let status = StatusCode::from_u16(o.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let body = serde_json::to_vec(&o.body).unwrap_or_default();
    let mut resp = (status, [(header::CONTENT_TYPE, "application/json")], body).into_response();
    let h = resp.headers_mut();
    if let Some(v) = o.retry_after.and_then(|ra| HeaderValue::from_str(&ra).ok()) {
        h.insert(header::RETRY_AFTER, v);
    }
    for (k, v) in o.headers {
        if let (Ok(k), Ok(v)) = (
            HeaderName::from_bytes(k.as_bytes()),
            HeaderValue::from_str(&v),
        ) {
            h.append(k, v);
        }
    }
    resp
}
