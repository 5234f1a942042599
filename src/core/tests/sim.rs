//! Simulation harness: a pipeline driven by a virtual clock against simulated servers that
//! apply the documented limits and inject faults, in quinn-proto's `tests/util.rs` style: the
//! clock jumps to the next thing that can happen (a wake-up, a response, a new event).
//!
//! The servers check the client as they go (limits, Retry-After, pauses, identical bytes per
//! messageId) and record violations; the property tests at the end run random event streams
//! and fault schedules and assert that none happened and that every event ended exactly once:
//! delivered (stored once by the server) or failed with a reason.

use std::collections::{BTreeMap, HashMap, HashSet};

use proptest::prelude::*;

use super::*;
use crate::base::json;

/// What the server does with one request, beyond its own limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    Ok,
    /// HTTP 500 / 503: nothing stored.
    Status(u16),
    /// No response, nothing stored.
    Timeout,
    /// Stored, but the response is lost.
    Dropped,
    /// 429 rate limit, Retry-After in seconds (or as an HTTP-date).
    RateLimit {
        secs: u64,
        as_date: bool,
    },
    /// /v1-batch: monthly quota 429, resetting after `secs`.
    Quota {
        secs: u64,
    },
    /// From now on the server accepts at most this many bytes (413 with limit_bytes).
    Shrink {
        limit: usize,
    },
    /// /v1-batch: the first event is rejected on its own (200 with failed = 1).
    RejectFirst,
    /// Amplitude: the first event's device is throttled (429 throttled_devices).
    Throttle,
    /// Amplitude Batch: the first event's device is over its daily quota.
    Daily,
    /// Amplitude: 400 with the first event's `time` invalid.
    Invalid,
}

#[derive(Debug, Default)]
pub struct Server {
    pub protocol: Option<Protocol>,
    pub faults: Vec<Fault>,
    pub requests: usize,
    /// messageId → (event bytes, times stored (must stay 1), times received).
    pub stored: HashMap<String, (Vec<u8>, u32, u32)>,
    /// Every messageId ever received, with the first bytes seen.
    pub seen: HashMap<String, Vec<u8>>,
    /// messageId → device, for order checks; stored order per device.
    pub device_order: HashMap<String, Vec<String>>,
    pub limit_bytes: usize,
    pub window_start: Millis,
    pub window_requests: u32,
    /// When the monthly quota resets (server truth).
    pub quota_until: Millis,
    /// What the client has been told, effective once it received the answer: the checks only
    /// bind requests sent after that.
    pub retry_until: Millis,
    pub quota_told: Option<(Millis, Millis)>,
    pub device_pauses: HashMap<String, Millis>,
    pub told: HashMap<u64, Effect>,
    pub violations: Vec<String>,
    /// 429s the documented limits gave (a /v1-batch window, an Amplitude identity's rate).
    pub limit_429s: usize,
    /// When each request arrived.
    pub request_times: Vec<Millis>,
    /// Amplitude: per identity ("u:…" / "d:…"), (arrival, events) in its 30 s window.
    pub eps: HashMap<String, Vec<(Millis, u64)>>,
}

#[derive(Debug, Clone)]
pub enum Effect {
    Retry(Millis),
    Quota(Millis),
    Pause(String, Millis),
}

pub enum Reply {
    Response(Response),
    Failure(NetError),
}

fn http_date(ms: Millis) -> String {
    // Only used to produce test input; the engine parses it.
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    let mut iso = Vec::new();
    crate::base::time::push_iso8601(&mut iso, ms);
    let iso = String::from_utf8(iso).unwrap();
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let month = MONTHS[iso[5..7].parse::<usize>().unwrap() - 1];
    let day = DAYS[(ms / 86_400_000 % 7) as usize];
    format!(
        "{day}, {} {month} {} {} GMT",
        &iso[8..10],
        &iso[0..4],
        &iso[11..19]
    )
}

impl Server {
    pub fn new(protocol: Protocol, faults: Vec<Fault>) -> Self {
        Server {
            protocol: Some(protocol),
            faults,
            limit_bytes: protocol.limits().max_bytes,
            ..Default::default()
        }
    }

    fn violation(&mut self, now: Millis, what: String) {
        self.violations.push(format!("t={now}: {what}"));
    }

    fn json(status: u16, body: String) -> Reply {
        Reply::Response(Response {
            status,
            retry_after: None,
            location: None,
            body: body.into_bytes(),
        })
    }

    /// The client received the answer to `tid`: what it said binds from now on.
    pub fn answered(&mut self, now: Millis, tid: TransmitId) {
        match self.told.remove(&tid.0) {
            Some(Effect::Retry(until)) => self.retry_until = self.retry_until.max(until),
            Some(Effect::Quota(until)) => self.quota_told = Some((now, until)),
            Some(Effect::Pause(device, until)) => {
                let p = self.device_pauses.entry(device).or_default();
                *p = (*p).max(until);
            }
            None => {}
        }
    }

    /// Applies one request; checks the client's manners on the way.
    pub fn handle(&mut self, now: Millis, t: &Transmit) -> Reply {
        let reply = self.handle_inner(now, t);
        if let Reply::Response(r) = &reply {
            if r.status == 429
                && r.body.windows(5).any(|w| w == b"quota")
                && self.protocol == Some(Protocol::V1Batch)
            {
                self.told.insert(t.id.0, Effect::Quota(self.quota_until));
            }
        }
        reply
    }

    fn handle_inner(&mut self, now: Millis, t: &Transmit) -> Reply {
        let protocol = self.protocol.unwrap();
        let limits = protocol.limits();
        let fault = self.faults.get(self.requests).copied().unwrap_or(Fault::Ok);
        self.requests += 1;
        self.request_times.push(now);
        if now < self.retry_until {
            self.violation(
                now,
                format!("request before Retry-After ended at {}", self.retry_until),
            );
        }
        if t.body.len() > limits.max_bytes
            || t.events.len() > limits.max_events
            || t.events.is_empty()
        {
            self.violation(
                now,
                format!(
                    "request of {} events / {} bytes",
                    t.events.len(),
                    t.body.len()
                ),
            );
        }
        if json::scan_object(&t.body).is_err() {
            self.violation(now, "body is not JSON".into());
            return Self::json(400, r#"{"success":false,"error":"bad json"}"#.into());
        }
        let list_key = if protocol == Protocol::V1Batch {
            "batch"
        } else {
            "events"
        };
        let (mid_key, device_key, _) = protocol.stored_keys();
        let events: Vec<(String, String, &[u8])> =
            json::items(json::field(&t.body, list_key).unwrap_or(b"[]"))
                .map(|raw| {
                    let s = |k| {
                        json::field(raw, k)
                            .and_then(json::string)
                            .unwrap_or_default()
                    };
                    (s(mid_key), s(device_key), raw)
                })
                .collect();
        if events.len() != t.events.len() {
            self.violation(now, "body and Transmit::events disagree".into());
        }
        for (mid, device, raw) in &events {
            if let Some(first) = self.seen.get(mid) {
                if first.as_slice() != *raw {
                    self.violation(now, format!("messageId {mid} resent with different bytes"));
                }
            } else {
                self.seen.insert(mid.clone(), raw.to_vec());
            }
            if let Some(&until) = self.device_pauses.get(device) {
                if now < until {
                    self.violation(
                        now,
                        format!("device {device} sent during its pause (until {until})"),
                    );
                }
            }
        }
        if let Some((told_at, until)) = self.quota_told {
            if now < until && (t.events.len() != 1 || now < told_at + 3_600_000) {
                self.violation(
                    now,
                    format!("{} events sent during a quota hold", t.events.len()),
                );
            }
        }
        if t.body.len() > self.limit_bytes {
            let body = if protocol == Protocol::V1Batch {
                format!(
                    r#"{{"success":false,"error":"Request body too large","limit_bytes":{}}}"#,
                    self.limit_bytes
                )
            } else {
                r#"{"code":413,"error":"Payload too large"}"#.to_string()
            };
            return Self::json(413, body);
        }
        // The documented per-client rate: 100 requests per minute window.
        if now >= self.window_start + 60_000 {
            self.window_start = now;
            self.window_requests = 0;
        }
        self.window_requests += 1;
        if protocol == Protocol::V1Batch && self.window_requests > 100 {
            self.limit_429s += 1;
            return self.rate_limit(
                now,
                t.id,
                (self.window_start + 60_000 - now).div_ceil(1000),
                false,
            );
        }
        if now < self.quota_until {
            let secs = (self.quota_until - now).div_ceil(1000);
            return Reply::Response(Response {
                status: 429,
                retry_after: Some(secs.to_string()),
                location: None,
                body: br#"{"success":false,"error":"Monthly event quota exceeded"}"#.to_vec(),
            });
        }
        if protocol.is_amplitude() && fault != Fault::Dropped {
            if let Some(reply) = self.amplitude_rate(now, protocol, &events) {
                self.limit_429s += 1;
                return reply;
            }
        }
        let first_device = events.first().map(|e| e.1.clone()).unwrap_or_default();
        let mut skip_first = false;
        match fault {
            Fault::Ok | Fault::Dropped => {}
            Fault::Status(s) => {
                return Self::json(s, format!(r#"{{"code":{s},"error":"server error"}}"#))
            }
            Fault::Timeout => return Reply::Failure(NetError::Network),
            Fault::RateLimit { secs, as_date } => return self.rate_limit(now, t.id, secs, as_date),
            Fault::Quota { secs } if protocol == Protocol::V1Batch => {
                self.quota_until = now + secs * 1000;
                return Reply::Response(Response {
                    status: 429,
                    retry_after: Some(secs.to_string()),
                    location: None,
                    body: br#"{"success":false,"error":"Monthly event quota exceeded"}"#.to_vec(),
                });
            }
            Fault::Shrink { limit } => {
                self.limit_bytes = self.limit_bytes.min(limit);
                if t.body.len() > self.limit_bytes {
                    return self.handle_shrunk(protocol);
                }
            }
            Fault::RejectFirst if protocol == Protocol::V1Batch => skip_first = true,
            Fault::Throttle | Fault::Daily
                if protocol.is_amplitude() && !first_device.is_empty() =>
            {
                let daily = fault == Fault::Daily && protocol == Protocol::AmplitudeBatch;
                let (pause, field) = if daily {
                    (3_600_000, "exceeded_daily_quota_devices")
                } else {
                    (30_000, "throttled_devices")
                };
                self.told
                    .insert(t.id.0, Effect::Pause(first_device.clone(), now + pause));
                return Self::json(
                    429,
                    format!(
                        r#"{{"code":429,"{field}":{{"{first_device}":31}},"throttled_events":[0]}}"#
                    ),
                );
            }
            Fault::Invalid if protocol.is_amplitude() => {
                return Self::json(400, r#"{"code":400,"error":"Invalid field","events_with_invalid_fields":{"time":[0]}}"#.into());
            }
            _ => {}
        }
        let mut errors = Vec::new();
        for (i, (mid, device, raw)) in events.iter().enumerate() {
            if i == 0 && skip_first {
                errors.push(format!(
                    r#"{{"index":0,"messageId":"{mid}","error":"event name too long"}}"#
                ));
                continue;
            }
            let entry = self
                .stored
                .entry(mid.clone())
                .or_insert_with(|| (raw.to_vec(), 0, 0));
            entry.2 += 1;
            if entry.1 == 0 {
                entry.1 = 1;
                self.device_order
                    .entry(device.clone())
                    .or_default()
                    .push(mid.clone());
            }
        }
        if fault == Fault::Dropped {
            return Reply::Failure(NetError::Network);
        }
        let body = if protocol == Protocol::V1Batch {
            format!(
                r#"{{"success":{},"accepted":{},"failed":{},"errors":[{}],"warnings":[]}}"#,
                errors.is_empty(),
                events.len() - errors.len(),
                errors.len(),
                errors.join(",")
            )
        } else {
            format!(r#"{{"code":200,"events_ingested":{}}}"#, events.len())
        };
        Self::json(200, body)
    }

    /// Amplitude's documented rate: events per user and per device over a rolling 30 s, at most
    /// 30 (HTTP V2) or 1,000 (Batch) a second on average; over it, a 429 naming them.
    fn amplitude_rate(
        &mut self,
        now: Millis,
        protocol: Protocol,
        events: &[(String, String, &[u8])],
    ) -> Option<Reply> {
        let allowed = protocol.limits().identity_events_per_second * 30;
        let mut counts: BTreeMap<String, u64> = BTreeMap::new();
        for (_, device, raw) in events {
            let user = json::field(raw, "user_id")
                .and_then(json::string)
                .unwrap_or_default();
            for k in [format!("d:{device}"), format!("u:{user}")] {
                if k.len() > 2 {
                    *counts.entry(k).or_default() += 1;
                }
            }
        }
        let mut over = Vec::new();
        for (k, n) in &counts {
            let log = self.eps.entry(k.clone()).or_default();
            log.retain(|e| e.0 + 30_000 > now);
            if log.iter().map(|e| e.1).sum::<u64>() + n > allowed {
                over.push(k.clone());
            }
        }
        if !over.is_empty() {
            let names = |tag: &str| {
                over.iter()
                    .filter_map(|k| k.strip_prefix(tag))
                    .map(|k| format!(r#""{k}":31"#))
                    .collect::<Vec<_>>()
                    .join(",")
            };
            return Some(Self::json(
                429,
                format!(
                    r#"{{"code":429,"error":"Too many requests for some devices and users","throttled_devices":{{{}}},"throttled_users":{{{}}}}}"#,
                    names("d:"),
                    names("u:")
                ),
            ));
        }
        for (k, n) in counts {
            self.eps.entry(k).or_default().push((now, n));
        }
        None
    }

    fn handle_shrunk(&self, protocol: Protocol) -> Reply {
        let body = if protocol == Protocol::V1Batch {
            format!(
                r#"{{"success":false,"error":"too large","limit_bytes":{}}}"#,
                self.limit_bytes
            )
        } else {
            r#"{"code":413,"error":"Payload too large"}"#.into()
        };
        Self::json(413, body)
    }

    fn rate_limit(&mut self, now: Millis, tid: TransmitId, secs: u64, as_date: bool) -> Reply {
        let (until, header) = if as_date {
            // HTTP-dates have whole seconds: round up so the date is never before the wait.
            let at = (now + secs * 1000).div_ceil(1000) * 1000;
            (at, http_date(at))
        } else {
            (now + secs * 1000, secs.to_string())
        };
        self.told.insert(tid.0, Effect::Retry(until));
        // Odd waits come as the org-wide limit (no code), even ones as the per-client limit.
        let body: &[u8] = if secs % 2 == 1 {
            br#"{"success":false,"error":"Rate limit exceeded: max 2000 requests per minute per org"}"#
        } else {
            br#"{"success":false,"error":"Too many requests","code":"rate_limited"}"#
        };
        Reply::Response(Response {
            status: 429,
            retry_after: Some(header),
            location: None,
            body: body.to_vec(),
        })
    }
}

/// One event of a generated stream.
#[derive(Debug, Clone)]
pub struct Gen {
    pub kind: u8,
    pub identity: u8,
    pub pad: usize,
    pub gap: Millis,
}

#[derive(Debug, Default)]
pub struct Outcome {
    pub violations: Vec<String>,
    pub delivered: HashMap<String, u32>,
    /// When each messageId was reported delivered.
    pub delivered_at: HashMap<String, Millis>,
    pub limit_429s: usize,
    pub request_times: Vec<Millis>,
    pub failed: HashMap<String, FailReason>,
    pub accepted: Vec<(String, Vec<u8>)>,
    pub rejected: usize,
    pub requests: usize,
    pub end: Millis,
}

pub fn input(protocol: Protocol, g: &Gen, i: usize) -> EventInput {
    let kind = EventKind::ALL[usize::from(g.kind) % if protocol.is_amplitude() { 5 } else { 6 }];
    let device = format!("device-{}", g.identity);
    EventInput {
        kind,
        event: Some(format!("Event {i}")),
        anonymous_id: Some(device),
        // Identities from 100 up have a user of their own; the others share three.
        user_id: Some(if g.identity >= 100 {
            format!("user-{}", g.identity)
        } else {
            format!("user-{}", g.identity % 3)
        }),
        group_id: Some("group-1".into()),
        previous_id: Some("old-id".into()),
        timestamp: None,
        properties: Some(format!(
            r#"{{"i":{i},"pad":"{}","ok":true,"n":[1,2.5,-3e2]}}"#,
            "p".repeat(g.pad)
        )),
        ..Default::default()
    }
}

/// Runs a stream against a server until everything settles.
pub fn run(config: Config, gens: &[Gen], faults: Vec<Fault>) -> Outcome {
    let protocol = config.protocol;
    let (base, cap) = (config.backoff_base_ms, config.backoff_max_ms);
    let mut p = Pipeline::new(config).unwrap();
    let mut server = Server::new(protocol, faults);
    let mut out = Outcome::default();
    let mut now: Millis = 1_700_000_000_000;
    let mut pending: BTreeMap<(Millis, u64), (TransmitId, Reply)> = BTreeMap::new();
    let mut in_flight: HashMap<u64, Vec<EventId>> = HashMap::new();
    let mut carried: HashSet<EventId> = HashSet::new();
    let mut next_gen = 0;
    let mut next_gen_at = now;
    let mut latency_rng = super::super::rng::Rng::new(99);
    for _ in 0..200_000 {
        while next_gen < gens.len() && next_gen_at <= now {
            match p.enqueue(now, input(protocol, &gens[next_gen], next_gen)) {
                Ok(e) => {
                    let stored = p.stored_form(e.id).unwrap();
                    out.accepted.push((e.message_id, stored.body));
                }
                Err(_) => out.rejected += 1,
            }
            next_gen += 1;
            next_gen_at = now + gens.get(next_gen).map_or(0, |g| g.gap);
        }
        if next_gen == gens.len() {
            p.flush(now);
            next_gen += 1;
        }
        while let Some(t) = p.poll_transmit(now) {
            for id in &t.events {
                if !carried.insert(*id) {
                    out.violations
                        .push(format!("t={now}: event {id:?} in two requests at once"));
                }
            }
            in_flight.insert(t.id.0, t.events.clone());
            let reply = server.handle(now, &t);
            let at = now + 5 + latency_rng.up_to(400);
            pending.insert((at, t.id.0), (t.id, reply));
            out.requests += 1;
        }
        while let Some(ev) = p.poll_event() {
            match ev {
                AppEvent::Delivered { message_ids, .. } => {
                    for m in message_ids {
                        out.delivered_at.insert(m.clone(), now);
                        *out.delivered.entry(m).or_default() += 1;
                    }
                }
                AppEvent::Failed {
                    message_id, reason, ..
                } => {
                    let twice = out.failed.insert(message_id.clone(), reason).is_some();
                    out.violations
                        .extend(twice.then(|| format!("{message_id} failed twice")));
                }
                AppEvent::Retrying { until, attempt, .. } => {
                    let ceiling = base.saturating_mul(1 << (attempt - 1).min(40)).min(cap);
                    let over = until > now + ceiling;
                    out.violations.extend(
                        over.then(|| format!("t={now}: backoff {} > {ceiling}", until - now)),
                    );
                }
                _ => {}
            }
        }
        let wake = p.poll_timeout();
        if wake.is_some_and(|w| w <= now) {
            out.violations.push(format!(
                "t={now}: poll_timeout {wake:?} is not in the future"
            ));
            break;
        }
        let candidates = [
            wake,
            pending.keys().next().map(|k| k.0),
            (next_gen < gens.len()).then_some(next_gen_at),
        ];
        let Some(next) = candidates.into_iter().flatten().min() else {
            break;
        };
        now = next;
        while let Some((&(at, tid), _)) = pending.iter().next() {
            if at > now {
                break;
            }
            let (id, reply) = pending.remove(&(at, tid)).unwrap();
            for e in in_flight.remove(&id.0).unwrap_or_default() {
                carried.remove(&e);
            }
            server.answered(now, id);
            match reply {
                Reply::Response(r) => p.handle_response(now, id, r),
                Reply::Failure(e) => p.handle_failure(now, id, e),
            }
        }
        p.handle_timeout(now);
    }
    let s = p.stats();
    if s.queued != 0 || s.in_flight != 0 || !pending.is_empty() {
        out.violations.push(format!("did not settle: {s:?}"));
    }
    for (mid, (_, stores, _)) in &server.stored {
        if *stores != 1 {
            out.violations.push(format!("{mid} stored {stores} times"));
        }
    }
    for (mid, body) in &out.accepted {
        let delivered = out.delivered.get(mid).copied().unwrap_or(0);
        let failed = out.failed.contains_key(mid);
        match (delivered, failed) {
            (1, false) => {
                if server.stored.get(mid).map(|s| &s.0) != Some(body) {
                    out.violations.push(format!(
                        "{mid} reported delivered but not stored as enqueued"
                    ));
                }
            }
            (0, true) => {}
            _ => out.violations.push(format!(
                "{mid}: delivered {delivered} times, failed {failed}"
            )),
        }
    }
    if protocol.ordered_per_device() && p.config().max_in_flight == 1 {
        let order: HashMap<&str, usize> = out
            .accepted
            .iter()
            .enumerate()
            .map(|(i, (m, _))| (m.as_str(), i))
            .collect();
        for (device, mids) in &server.device_order {
            let idx: Vec<usize> = mids
                .iter()
                .filter_map(|m| order.get(m.as_str()).copied())
                .collect();
            if idx.windows(2).any(|w| w[0] > w[1]) {
                out.violations
                    .push(format!("device {device} received out of order: {idx:?}"));
            }
        }
    }
    out.violations.append(&mut server.violations);
    out.requests = server.requests;
    out.limit_429s = server.limit_429s;
    out.request_times = std::mem::take(&mut server.request_times);
    out.end = now;
    out
}

fn gen_strategy(max_pad: usize) -> impl Strategy<Value = Gen> {
    (
        0u8..6,
        0u8..5,
        prop_oneof![8 => 0..200usize, 1 => 0..max_pad],
        prop_oneof![3 => Just(0u64), 2 => 0..3_000u64],
    )
        .prop_map(|(kind, identity, pad, gap)| Gen {
            kind,
            identity,
            pad,
            gap,
        })
}

fn fault_strategy(protocol: Protocol) -> impl Strategy<Value = Fault> {
    let common = prop_oneof![
        8 => Just(Fault::Ok),
        2 => prop_oneof![Just(500u16), Just(502), Just(503), Just(504)].prop_map(Fault::Status),
        1 => Just(Fault::Timeout),
        2 => Just(Fault::Dropped),
        1 => (1u64..90, any::<bool>()).prop_map(|(secs, as_date)| Fault::RateLimit { secs, as_date }),
        1 => (2_000usize..400_000).prop_map(|limit| Fault::Shrink { limit }),
    ];
    let specific = if protocol == Protocol::V1Batch {
        prop_oneof![
            (3_000u64..8_000).prop_map(|secs| Fault::Quota { secs }),
            Just(Fault::RejectFirst)
        ]
        .boxed()
    } else {
        prop_oneof![
            Just(Fault::Throttle),
            Just(Fault::Daily),
            Just(Fault::Invalid)
        ]
        .boxed()
    };
    prop_oneof![6 => common, 1 => specific]
}

fn config_strategy(protocol: Protocol) -> impl Strategy<Value = Config> {
    let flush_at = prop_oneof![1usize..10, 10usize..=100];
    (flush_at, 1usize..=3, 500u64..20_000, any::<u64>()).prop_map(
        move |(flush_at, in_flight, interval, seed)| Config {
            flush_at,
            max_in_flight: in_flight,
            flush_interval_ms: interval,
            seed,
            ..Config::new(protocol, "uk_live_sim")
        },
    )
}

fn check(o: &Outcome, allowed: &[&str]) -> Result<(), TestCaseError> {
    prop_assert!(o.violations.is_empty(), "violations: {:#?}", o.violations);
    for (mid, reason) in &o.failed {
        prop_assert!(
            allowed.contains(&reason.code()),
            "{mid} failed unexpectedly: {reason:?}"
        );
    }
    Ok(())
}

proptest! {
    // Kept small so `cargo test` stays quick in debug; raise with PROPTEST_CASES.
    #![proptest_config(crate::base::proptest_config(64))]

    #[test]
    fn v1_batch_delivers_exactly_once_under_faults(
        config in config_strategy(Protocol::V1Batch),
        gens in prop::collection::vec(gen_strategy(60_000), 1..300),
        faults in prop::collection::vec(fault_strategy(Protocol::V1Batch), 0..40),
    ) {
        let o = run(config, &gens, faults);
        check(&o, &["E_REJECTED", "E_TOO_LARGE"])?;
    }

    #[test]
    fn amplitude_delivers_exactly_once_and_respects_pauses(
        batch in any::<bool>(),
        in_flight_one in any::<bool>(),
        config in config_strategy(Protocol::AmplitudeHttpV2),
        gens in prop::collection::vec(gen_strategy(20_000), 1..300),
        faults in prop::collection::vec(fault_strategy(Protocol::AmplitudeBatch), 0..40),
    ) {
        let protocol = if batch { Protocol::AmplitudeBatch } else { Protocol::AmplitudeHttpV2 };
        let max_in_flight = if in_flight_one { 1 } else { config.max_in_flight };
        let config = Config { protocol, max_in_flight, write_key: "amp-key".into(), ..config };
        let o = run(config, &gens, faults);
        check(&o, &["E_REJECTED", "E_TOO_LARGE"])?;
    }
}

#[test]
fn the_documented_rate_limit_is_honoured_for_a_burst() {
    // 30,000 small events at once: 300 requests, three times the per-minute allowance.
    let gens: Vec<Gen> = (0..30_000)
        .map(|i| Gen {
            kind: 0,
            identity: (i % 5) as u8,
            pad: 10,
            gap: 0,
        })
        .collect();
    let config = Config {
        max_queue_events: 50_000,
        max_queue_bytes: 64 << 20,
        ..Config::new(Protocol::V1Batch, "uk_live_sim")
    };
    let o = run(config, &gens, vec![]);
    assert!(
        o.violations.is_empty(),
        "{:#?}",
        &o.violations[..o.violations.len().min(5)]
    );
    assert_eq!(o.delivered.len(), 30_000);
    assert!(
        o.end - 1_700_000_000_000 >= 120_000,
        "300 requests need over two minutes"
    );
}

#[test]
fn http_dates_render_for_the_server() {
    assert_eq!(http_date(784_111_777_000), "Sun, 06 Nov 1994 08:49:37 GMT");
}
