//! The shard: one engine `Pipeline` per Durable Object, delivering its destination's events,
//! with its storage kept in step. Every queued event is a `q:<seq>` entry (hex, so key order is
//! enqueue order) written before the front answers; a delivered event's entry is deleted; an
//! event that fails for good is moved, in the same step, to `d:<messageId>` with its reason.
//! Nothing is dropped: the shard keeps each held event's bytes beside the engine's, so whatever
//! ends it (a response, the give-up horizon, an eviction), its dead letter carries the event.

use std::collections::HashMap;

use batchwire::core::{
    AppEvent, EventId, Millis, NetError, Pipeline, Response, StoredEvent, TransmitId,
};
use serde_json::{json, Value};

use crate::config::Destination;
use crate::stored::{
    dead_key, dead_value, queue_key, queue_seq, queue_value, read_entry, read_part,
};

/// A request to make: `POST url` with these headers and body (`redirect: "manual"`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Send {
    pub id: u64,
    /// Abort the request after this long and call `failure` (`requestTimeoutMs`).
    pub timeout_ms: Millis,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// Storage writes and deletes, to apply in that order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Writes {
    pub puts: Vec<(String, Vec<u8>)>,
    pub deletes: Vec<String>,
}

/// What `poll` asks of the Durable Object.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Step {
    pub sends: Vec<Send>,
    pub writes: Writes,
    /// When to call `timeout` then `poll` next.
    pub alarm: Option<Millis>,
    /// What happened, for the console and stats: `{kind, ...}` objects.
    pub log: Vec<Value>,
}

struct Held {
    key: String,
    enqueued_at: Millis,
    body: Box<[u8]>,
}

/// One Durable Object's delivery.
pub struct Shard {
    pipeline: Pipeline,
    url: String,
    headers: Vec<(String, String)>,
    next_seq: u64,
    held: HashMap<EventId, Held>,
    /// Storage work the engine decided outside `poll` (restore, append, answers), handed out by
    /// the next `poll`.
    pending: Writes,
    log: Vec<Value>,
    dead_letters: u64,
    requests: u64,
}

impl Shard {
    /// The shard of `dest`, seeded from a real entropy source (jitter).
    pub fn new(dest: &Destination, seed: u64) -> Result<Self, String> {
        let mut config = dest.config.clone();
        config.seed = seed;
        let pipeline = Pipeline::new(config).map_err(|e| e.message())?;
        let headers = pipeline
            .headers()
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect();
        Ok(Shard {
            url: format!("{}{}", dest.url, dest.protocol.path()),
            headers,
            pipeline,
            next_seq: 0,
            held: HashMap::new(),
            pending: Writes::default(),
            log: Vec::new(),
            dead_letters: 0,
            requests: 0,
        })
    }

    /// A stored entry, at start, in key order: a queue entry is queued again (an unreadable one
    /// becomes a dead letter at the next `poll`); a dead letter is counted.
    pub fn restore(&mut self, key: &str, value: &[u8], now: Millis) {
        if key.starts_with("d:") {
            self.dead_letters += 1;
            return;
        }
        let Some(seq) = queue_seq(key) else { return };
        self.next_seq = self.next_seq.max(seq + 1);
        let outcome = read_entry(value, now)
            .map_err(|e| ("E_CORRUPT", e))
            .and_then(|e| {
                let body: Box<[u8]> = e.body.clone().into();
                let (mid, enqueued_at) = (e.message_id.clone(), e.enqueued_at);
                match self.pipeline.restore(now, e) {
                    Ok(id) if self.held.contains_key(&id) => Ok(None),
                    Ok(id) => Ok(Some((id, enqueued_at, body))),
                    Err(r) => Err((r.code(), format!("{} ({mid})", r.message()))),
                }
            });
        match outcome {
            Ok(Some((id, enqueued_at, body))) => {
                self.held.insert(
                    id,
                    Held {
                        key: key.to_string(),
                        enqueued_at,
                        body,
                    },
                );
            }
            // The same messageId stored twice: this entry is not needed.
            Ok(None) => self.pending.deletes.push(key.to_string()),
            Err((code, reason)) => {
                // The letter keeps what can be kept: the event of a readable entry, the entry if
                // it is JSON at all, else its bytes as text; named by its messageId, else its key.
                let (mid, event) = match read_entry(value, now) {
                    Ok(e) => (e.message_id, e.body),
                    Err(_) => {
                        let v = serde_json::from_slice::<Value>(value).ok();
                        let mid = v.as_ref().and_then(|v| v["messageId"].as_str());
                        let mid = mid.map_or_else(|| key.to_string(), str::to_string);
                        let event = match v {
                            Some(_) => value.to_vec(),
                            None => Value::from(String::from_utf8_lossy(value))
                                .to_string()
                                .into(),
                        };
                        (mid, event)
                    }
                };
                self.pending.deletes.push(key.to_string());
                self.pending
                    .puts
                    .push((dead_key(&mid), dead_value(&mid, code, &reason, now, &event)));
                self.dead_letters += 1;
                self.log.push(
                    json!({"kind": "failed", "messageId": mid, "code": code, "reason": reason}),
                );
            }
        }
    }

    /// Queues the events of a front's part; returns the entries to write before the front
    /// answers. An event whose messageId is held already is not queued twice: its entry is
    /// written again under its key (a front whose earlier write failed must not answer 200
    /// for an event only memory holds); one the engine
    /// refuses now (a request limit a 413 lowered since the front checked it) is written as a
    /// dead letter instead. `Err` only for bytes that are not a part (nothing changed).
    pub fn append(&mut self, part: &[u8], now: Millis) -> Result<Writes, String> {
        let events = read_part(part).map_err(str::to_string)?;
        let mut out = Writes::default();
        for e in events {
            let mid = e.message_id.clone();
            let body = e.body.clone();
            if let Err((code, reason)) = self.admit(e, now, &mut out.puts) {
                out.puts
                    .push((dead_key(&mid), dead_value(&mid, code, &reason, now, &body)));
                self.dead_letters += 1;
                self.log.push(
                    json!({"kind": "failed", "messageId": mid, "code": code, "reason": reason}),
                );
            }
        }
        Ok(out)
    }

    /// Queues one event and puts its entry; one held already (`Ok(false)`) keeps its key and
    /// value, which are put again.
    fn admit(
        &mut self,
        e: StoredEvent,
        now: Millis,
        puts: &mut Vec<(String, Vec<u8>)>,
    ) -> Result<bool, (&'static str, String)> {
        let value = queue_value(&e);
        let (message_id, enqueued_at) = (e.message_id.clone(), e.enqueued_at);
        let body: Box<[u8]> = e.body.clone().into();
        let id = self
            .pipeline
            .restore(now, e)
            .map_err(|r| (r.code(), r.message()))?;
        if let Some(h) = self.held.get(&id) {
            let held = StoredEvent {
                message_id,
                enqueued_at: h.enqueued_at,
                body: h.body.to_vec(),
            };
            puts.push((h.key.clone(), queue_value(&held)));
            return Ok(false);
        }
        let key = queue_key(self.next_seq);
        self.next_seq += 1;
        puts.push((key.clone(), value));
        self.held.insert(
            id,
            Held {
                key,
                enqueued_at,
                body,
            },
        );
        Ok(true)
    }

    /// Requests to send, storage to update, the next alarm.
    pub fn poll(&mut self, now: Millis) -> Step {
        let mut step = Step::default();
        while let Some(t) = self.pipeline.poll_transmit(now) {
            self.requests += 1;
            step.log.push(json!({"kind": "send", "id": t.id.0, "events": t.events.len(), "bytes": t.body.len()}));
            step.sends.push(Send {
                id: t.id.0,
                timeout_ms: self.pipeline.config().request_timeout_ms,
                url: self.url.clone(),
                headers: self.headers.clone(),
                body: t.body,
            });
        }
        self.drain(now);
        step.writes = std::mem::take(&mut self.pending);
        step.log.splice(0..0, std::mem::take(&mut self.log));
        step.alarm = self.pipeline.poll_timeout();
        step
    }

    /// What the engine has to say, turned into storage work and log lines.
    fn drain(&mut self, now: Millis) {
        while let Some(ev) = self.pipeline.poll_event() {
            match ev {
                AppEvent::Delivered { ids, message_ids } => {
                    for id in &ids {
                        if let Some(h) = self.held.remove(id) {
                            self.pending.deletes.push(h.key);
                        }
                    }
                    self.log
                        .push(json!({"kind": "delivered", "messageIds": message_ids}));
                }
                AppEvent::Failed {
                    id,
                    message_id,
                    reason,
                } => {
                    let (code, text) = (reason.code(), reason.message());
                    if let Some(h) = self.held.remove(&id) {
                        self.pending.deletes.push(h.key);
                        self.pending.puts.push((
                            dead_key(&message_id),
                            dead_value(&message_id, code, &text, now, &h.body),
                        ));
                        self.dead_letters += 1;
                    }
                    self.log.push(json!({"kind": "failed", "messageId": message_id, "code": code, "reason": text}));
                }
                AppEvent::RateLimited { until } => self
                    .log
                    .push(json!({"kind": "rateLimited", "until": until})),
                AppEvent::QuotaHeld { until } => {
                    self.log.push(json!({"kind": "quotaHeld", "until": until}))
                }
                AppEvent::IdentityPaused {
                    user_id,
                    device_id,
                    until,
                    daily_quota,
                } => self.log.push(json!({
                    "kind": "paused", "userId": user_id, "deviceId": device_id,
                    "until": until, "dailyQuota": daily_quota,
                })),
                AppEvent::Retrying {
                    until,
                    attempt,
                    status,
                } => self.log.push(json!({
                    "kind": "retrying", "until": until, "attempt": attempt, "status": status,
                })),
                AppEvent::Warning(w) => self.log.push(json!({
                    "kind": "warning", "code": w.code(), "message": w.message(),
                })),
            }
        }
    }

    /// The answer to send `id`.
    pub fn response(
        &mut self,
        id: u64,
        status: u16,
        retry_after: Option<String>,
        location: Option<String>,
        body: Vec<u8>,
        now: Millis,
    ) {
        let r = Response {
            status,
            retry_after,
            location,
            body,
        };
        self.pipeline.handle_response(now, TransmitId(id), r);
        self.drain(now);
    }

    /// Send `id` got no answer (network error, timeout).
    pub fn failure(&mut self, id: u64, now: Millis) {
        self.pipeline
            .handle_failure(now, TransmitId(id), NetError::Network);
        self.drain(now);
    }

    /// The alarm fired.
    pub fn timeout(&mut self, now: Millis) {
        self.pipeline.handle_timeout(now);
        self.drain(now);
    }

    /// A dead letter back into the queue, with its messageId and bytes; the dead letter goes.
    pub fn replay(&mut self, key: &str, value: &[u8], now: Millis) -> Result<Writes, String> {
        if !key.starts_with("d:") {
            return Err(format!("{key:?} is not a dead letter"));
        }
        let mut e = read_entry(value, now)?;
        e.enqueued_at = now;
        let mut out = Writes::default();
        self.admit(e, now, &mut out.puts)
            .map_err(|(code, reason)| format!("{code}: {reason}"))?;
        out.deletes.push(key.to_string());
        self.dead_letters = self.dead_letters.saturating_sub(1);
        Ok(out)
    }

    /// Counters for the admin endpoint.
    pub fn stats(&self) -> Value {
        let s = self.pipeline.stats();
        json!({
            "queued": s.queued,
            "queuedBytes": s.queued_bytes,
            "inFlight": s.in_flight,
            "delivered": s.delivered,
            "failed": s.failed,
            "retried": s.retried,
            "evicted": s.evicted,
            "deadLetters": self.dead_letters,
            "requests": self.requests,
            "held": self.held.len(),
            "rateLimitedUntil": s.rate_limited_until,
            "quotaHeldUntil": s.quota_held_until,
            "pausedIdentities": s.paused_identities,
        })
    }

    /// How long a request may go without an answer before `failure` (`requestTimeoutMs`).
    pub fn request_timeout_ms(&self) -> Millis {
        self.pipeline.config().request_timeout_ms
    }
}
