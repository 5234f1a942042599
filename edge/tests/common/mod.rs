//! The harness of the shard tests: a Durable Object's storage, a simulated upstream that checks
//! what it receives, and a driver that runs a shard on a virtual clock (the clock jumps to the
//! shard's alarm when nothing is in flight).

#![allow(dead_code)]

use std::collections::{BTreeMap, HashMap, VecDeque};

use batchwire::core::Millis;
use batchwire_edge::{ingest, EdgeConfig, Form, Send, Shard, Writes};
use serde_json::{json, Value};

pub fn env(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

pub fn config(text: &str, pairs: &[(&str, &str)]) -> EdgeConfig {
    EdgeConfig::load(Some(text), &env(pairs)).unwrap_or_else(|e| panic!("{e}"))
}

/// A Durable Object's storage.
#[derive(Debug, Default, Clone)]
pub struct Store(pub BTreeMap<String, Vec<u8>>);

impl Store {
    pub fn apply(&mut self, w: &Writes) {
        for (k, v) in &w.puts {
            self.0.insert(k.clone(), v.clone());
        }
        for k in &w.deletes {
            self.0.remove(k);
        }
    }
    pub fn queued(&self) -> Vec<String> {
        self.keys("q:")
    }
    pub fn dead(&self) -> Vec<String> {
        self.keys("d:")
    }
    fn keys(&self, prefix: &str) -> Vec<String> {
        self.0
            .keys()
            .filter(|k| k.starts_with(prefix))
            .cloned()
            .collect()
    }
    pub fn json(&self, key: &str) -> Value {
        serde_json::from_slice(&self.0[key]).unwrap()
    }
    /// A restarted Durable Object: a new shard given every entry in key order.
    pub fn restart(&self, cfg: &EdgeConfig, name: &str, seed: u64, now: Millis) -> Shard {
        let mut s = Shard::new(cfg.destination_of_shard(name).unwrap(), seed).unwrap();
        for (k, v) in &self.0 {
            s.restore(k, v, now);
        }
        s
    }
}

/// What the upstream does with the next request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    Status(u16),
    /// No answer (network error, timeout).
    Lost,
}

/// A simulated upstream of one protocol: /v1-batch (key in `Authorization`) or Amplitude
/// HTTP V2 (key in the body), storing each messageId once.
#[derive(Debug, Default)]
pub struct Upstream {
    pub amplitude: bool,
    pub key: String,
    pub faults: VecDeque<Fault>,
    /// messageId → times stored (must stay 1).
    pub stored: BTreeMap<String, u32>,
    /// messageId → every body it was received with (retries must repeat the bytes).
    pub received: HashMap<String, Vec<String>>,
    /// messageIds the server rejects on their own (a /v1-batch 200 naming them).
    pub reject: Vec<String>,
    /// Amplitude: device → throttled until (a 429 naming it while the request carries it).
    pub throttle: HashMap<String, Millis>,
    /// (arrival, messageIds) of each request.
    pub requests: Vec<(Millis, Vec<String>)>,
    /// messageId → when it was stored.
    pub stored_at: HashMap<String, Millis>,
    /// The URL of each request.
    pub urls: Vec<String>,
}

pub type Answer = Option<(u16, Option<String>, Vec<u8>)>;

impl Upstream {
    pub fn v1(key: &str) -> Self {
        Upstream {
            key: key.into(),
            ..Default::default()
        }
    }
    pub fn amplitude(key: &str) -> Self {
        Upstream {
            amplitude: true,
            key: key.into(),
            ..Default::default()
        }
    }

    pub fn answer(&mut self, now: Millis, s: &Send) -> Answer {
        let body: Value = serde_json::from_slice(&s.body).expect("a JSON body");
        let (events, id_key) = if self.amplitude {
            (body["events"].as_array().cloned().unwrap(), "insert_id")
        } else {
            (body["batch"].as_array().cloned().unwrap(), "messageId")
        };
        let ids: Vec<String> = events
            .iter()
            .map(|e| e[id_key].as_str().unwrap().to_string())
            .collect();
        for (id, e) in ids.iter().zip(&events) {
            self.received
                .entry(id.clone())
                .or_default()
                .push(e.to_string());
        }
        self.requests.push((now, ids.clone()));
        self.urls.push(s.url.clone());
        match self.faults.pop_front() {
            Some(Fault::Lost) => return None,
            Some(Fault::Status(st)) => {
                return Some((st, None, br#"{"success":false,"error":"busy"}"#.to_vec()))
            }
            None => {}
        }
        if self.amplitude {
            if body["api_key"] != self.key.as_str() {
                return Some((
                    400,
                    None,
                    br#"{"code":400,"error":"Invalid API key"}"#.to_vec(),
                ));
            }
            let mut throttled = serde_json::Map::new();
            let mut idx = Vec::new();
            for (i, e) in events.iter().enumerate() {
                let d = e["device_id"].as_str().unwrap_or("");
                if self.throttle.get(d).is_some_and(|&t| now < t) {
                    throttled.insert(d.to_string(), json!(31));
                    idx.push(i);
                }
            }
            if !throttled.is_empty() {
                let b = json!({"code": 429, "error": "Too many requests for some devices and users",
                    "eps_threshold": 30, "throttled_devices": throttled, "throttled_users": {},
                    "throttled_events": idx});
                return Some((429, None, b.to_string().into_bytes()));
            }
            self.store(now, &ids);
            let b = json!({"code": 200, "events_ingested": ids.len(), "payload_size_bytes": s.body.len(), "server_upload_time": now});
            return Some((200, None, b.to_string().into_bytes()));
        }
        let auth = s
            .headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("authorization"))
            .map(|(_, v)| v.as_str());
        if auth != Some(&format!("Bearer {}", self.key)) {
            return Some((
                401,
                None,
                br#"{"success":false,"error":"Invalid API key"}"#.to_vec(),
            ));
        }
        let mut errors = Vec::new();
        let mut ok = Vec::new();
        for (i, id) in ids.iter().enumerate() {
            if self.reject.contains(id) {
                errors.push(json!({"index": i, "messageId": id, "error": "event name too long"}));
            } else {
                ok.push(id.clone());
            }
        }
        self.store(now, &ok);
        let b = json!({"success": errors.is_empty(), "accepted": ok.len(), "failed": errors.len(),
            "errors": errors, "warnings": []});
        Some((200, None, b.to_string().into_bytes()))
    }

    fn store(&mut self, now: Millis, ids: &[String]) {
        for id in ids {
            *self.stored.entry(id.clone()).or_default() += 1;
            self.stored_at.entry(id.clone()).or_insert(now);
        }
    }

    /// Every retry of an event carried the bytes of its first send.
    pub fn same_bytes_per_message_id(&self) -> bool {
        self.received.values().all(|v| v.iter().all(|b| b == &v[0]))
    }
}

/// Ingests a /v1-batch body with `key` and appends each part to `shard` (all of them must be
/// its: the tests use one shard per destination), writing the puts.
pub fn post(
    cfg: &EdgeConfig,
    shard: &mut Shard,
    store: &mut Store,
    key: &str,
    events: &[Value],
    now: Millis,
) -> Value {
    let body = json!({ "batch": events }).to_string();
    let r = ingest(cfg, key.as_bytes(), Form::Batch, body.as_bytes(), now);
    assert_eq!(r.status, 200, "{}", r.body);
    for p in &r.parts {
        let w = shard.append(&p.events, now).unwrap();
        store.apply(&w);
    }
    serde_json::from_str(&r.body).unwrap()
}

/// Runs the shard against the upstream, each answer 5 ms after its request, until nothing is
/// left to do before `until` (virtual time). Returns every log line.
pub fn run(
    shard: &mut Shard,
    store: &mut Store,
    up: &mut Upstream,
    now: &mut Millis,
    until: Millis,
) -> Vec<Value> {
    let mut log = Vec::new();
    for _ in 0..100_000 {
        let step = shard.poll(*now);
        store.apply(&step.writes);
        log.extend(step.log);
        if step.sends.is_empty() {
            match step.alarm {
                Some(t) if t <= until => {
                    *now = t.max(*now);
                    shard.timeout(*now);
                    continue;
                }
                _ => return log,
            }
        }
        for s in &step.sends {
            *now += 5;
            match up.answer(*now, s) {
                Some((st, ra, b)) => shard.response(s.id, st, ra, None, b, *now),
                None => shard.failure(s.id, *now),
            }
        }
    }
    panic!("the shard never settled");
}

pub fn track(i: usize, anon: &str) -> Value {
    json!({"type": "track", "event": "Played", "messageId": format!("m-{i}"), "anonymousId": anon,
        "properties": {"i": i}})
}
