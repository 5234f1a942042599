//! Shared by the integration tests: an in-process collector on 127.0.0.1:0 with a manual clock,
//! and request helpers that fail the test instead of hanging it.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::time::Duration;

use collector::client::{self, Response};
use collector::clock::days_from_civil;
use collector::{Clock, Config};
use serde_json::{json, Value};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// 2026-01-15T00:00:00Z: a fixed "now" so window and quota arithmetic is exact.
pub fn jan_15_2026() -> u64 {
    days_from_civil(2026, 1, 15) as u64 * 86_400_000
}

pub const WRITE: &str = "uk_live_demo";
pub const AMP_KEY: &str = "amp_demo_key";
/// Long enough for a debug build on a loaded 2-core machine; only a hang gets near it.
pub const PATIENCE: Duration = Duration::from_secs(20);

pub struct Srv {
    pub addr: SocketAddr,
    pub clock: Clock,
    task: JoinHandle<()>,
}

impl Drop for Srv {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A config with a manual clock at `jan_15_2026()`; tweak it before `start`.
pub fn config() -> Config {
    Config {
        clock: Clock::manual(jan_15_2026()),
        ..Config::default()
    }
}

pub async fn start(cfg: Config) -> Srv {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let clock = cfg.clock.clone();
    let task = tokio::spawn(collector::serve(listener, cfg));
    Srv { addr, clock, task }
}

pub async fn start_default() -> Srv {
    start(config()).await
}

impl Srv {
    pub async fn request(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Response {
        self.try_request(method, path, headers, body)
            .await
            .unwrap_or_else(|e| panic!("{method} {path}: {e}"))
    }

    /// `Err` when the connection closed without an answer (a drop fault).
    pub async fn try_request(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> std::io::Result<Response> {
        tokio::time::timeout(
            PATIENCE,
            client::send(self.addr, method, path, headers, body),
        )
        .await
        .unwrap_or_else(|_| panic!("{method} {path} hung"))
    }

    pub async fn v1_raw(&self, key: &str, body: &[u8]) -> Response {
        let auth = format!("Bearer {key}");
        let headers = [
            ("Authorization", auth.as_str()),
            ("Content-Type", "application/json"),
        ];
        self.request("POST", "/v1-batch", &headers, body).await
    }

    pub async fn v1(&self, body: &Value) -> Response {
        self.v1_raw(WRITE, body.to_string().as_bytes()).await
    }

    pub async fn amp(&self, path: &str, body: &Value) -> Response {
        self.amp_raw(path, body.to_string().as_bytes()).await
    }

    pub async fn amp_raw(&self, path: &str, body: &[u8]) -> Response {
        let headers = [("Content-Type", "application/json")];
        self.request("POST", path, &headers, body).await
    }

    pub async fn get(&self, path: &str) -> Response {
        self.request("GET", path, &[], b"").await
    }

    pub async fn control(&self, path: &str, body: &Value) -> Response {
        let headers = [("Content-Type", "application/json")];
        self.request("POST", path, &headers, body.to_string().as_bytes())
            .await
    }

    pub async fn events(&self) -> Vec<Value> {
        let r = self.get("/_events").await;
        assert_eq!(r.status, 200);
        r.text()
            .lines()
            .map(|l| serde_json::from_str(l).expect("NDJSON line"))
            .collect()
    }

    /// The messageIds of the stored events, in arrival order.
    pub async fn stored_message_ids(&self) -> Vec<Value> {
        let events = self.events().await;
        events.iter().map(|e| e["messageId"].clone()).collect()
    }

    pub async fn stats(&self) -> Value {
        let r = self.get("/_stats").await;
        assert_eq!(r.status, 200);
        r.json()
    }

    /// Statuses of the logged ingest requests, in order (0 = dropped).
    pub async fn logged_statuses(&self) -> Vec<u64> {
        self.stats().await["log"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["status"].as_u64().unwrap())
            .collect()
    }
}

pub fn v1_event(id: &str) -> Value {
    json!({
        "type": "track",
        "event": "Button Clicked",
        "messageId": id,
        "anonymousId": "anon-1",
        "timestamp": "2026-01-15T00:00:00.000Z",
        "properties": {"plan": "pro", "n": 1},
    })
}

pub fn v1_batch(prefix: &str, n: usize) -> Value {
    json!({"batch": (0..n).map(|i| v1_event(&format!("{prefix}-{i}"))).collect::<Vec<_>>()})
}

pub fn amp_event(device: &str, insert_id: &str) -> Value {
    json!({
        "event_type": "Page Viewed",
        "device_id": device,
        "insert_id": insert_id,
        "time": 1_768_435_200_000_u64,
        "event_properties": {"path": "/home"},
    })
}

pub fn amp_body(events: Vec<Value>) -> Value {
    json!({"api_key": AMP_KEY, "events": events})
}

/// `n` events for one device, insert ids `{device}-{start..start+n}`.
pub fn amp_events(device: &str, start: usize, n: usize) -> Vec<Value> {
    (start..start + n)
        .map(|i| amp_event(device, &format!("{device}-{i}")))
        .collect()
}
