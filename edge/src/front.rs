//! The front: what the Worker's fetch handler does with a posted body, before anything is stored.
//! It finds the source by its write key (compared in constant time with every configured key),
//! reads the events (a /v1-batch body, or a webhook's one event or array), applies the source's
//! mapping, validates and encodes each with the engine of the destination's protocol (so its
//! rejects are the engine's, answered in `errors` as /v1-batch does), and groups the accepted
//! events by shard: FNV-1a 64 of the identity (userId, else anonymousId) mod `shards`.

use std::collections::BTreeMap;

use batchwire::core::{Millis, Pipeline, Warning};
use batchwire_ingest::build;
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{json, Map, Value};

use crate::config::EdgeConfig;
use crate::stored::push_part;

/// Events per request, at most, in either form (/v1-batch's limit).
pub const MAX_EVENTS: usize = 100;

/// An encoded event's bytes, at most: its queue entry and its dead letter (with a reason of at
/// most `stored::MAX_REASON_BYTES`) must fit one Durable Object storage value (128 KiB with the
/// key-value backend; the SQLite one allows more).
pub const MAX_EVENT_BYTES: usize = 128 * 1024 - 2 * 1024;

/// How the body is shaped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Form {
    /// `{"batch": [event, ...], ...}`: the /v1-batch body.
    Batch,
    /// One event object, or an array of them.
    Webhook,
}

/// The events of one shard, to append there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Part {
    /// The Durable Object's name: `destination#n`.
    pub shard: String,
    /// Opaque (see `stored::push_part`).
    pub events: Vec<u8>,
}

/// What to answer, and what to store first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ingested {
    pub status: u16,
    pub body: String,
    pub parts: Vec<Part>,
}

fn refuse(status: u16, error: &str) -> Ingested {
    Ingested {
        status,
        body: json!({"success": false, "error": error}).to_string(),
        parts: Vec::new(),
    }
}

/// FNV-1a, 64 bits.
pub fn fnv1a64(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// The shard index of an identity.
pub fn shard_of(identity: &str, shards: u32) -> u32 {
    (fnv1a64(identity.as_bytes()) % u64::from(shards.max(1))) as u32
}

/// Whether `given` equals `expected`, in time that depends on `expected`'s length only.
pub fn key_matches(given: &[u8], expected: &[u8]) -> bool {
    let mut diff = (given.len() ^ expected.len()) as u64;
    for (i, &e) in expected.iter().enumerate() {
        let g = given.get(i).copied().unwrap_or(!e);
        diff |= u64::from(g ^ e);
    }
    std::hint::black_box(diff) == 0
}

/// The source whose key is `key`: every configured key is compared, whatever matches.
pub fn find_source(cfg: &EdgeConfig, key: &[u8]) -> Option<usize> {
    let mut found = usize::MAX;
    for (i, s) in cfg.sources.iter().enumerate() {
        let m = key_matches(key, s.key.as_bytes());
        // No early return: the time spent does not tell which key (if any) matched.
        found = if m & (found == usize::MAX) { i } else { found };
    }
    (found != usize::MAX && !key.is_empty()).then_some(found)
}

#[derive(Deserialize)]
struct Envelope<'a> {
    #[serde(borrow)]
    batch: Option<Vec<&'a RawValue>>,
}

/// Reads, maps, validates and routes the events of `body`, posted with `key`.
pub fn ingest(cfg: &EdgeConfig, key: &[u8], form: Form, body: &[u8], now: Millis) -> Ingested {
    if body.len() > cfg.max_body_bytes {
        let max = cfg.max_body_bytes;
        return Ingested {
            status: 413,
            body: json!({
                "success": false,
                "error": format!("Request body too large: maximum {max} bytes"),
                "limit_bytes": max,
                "hint": "Split the batch into smaller requests (max 100 events / 1 MiB per call).",
            })
            .to_string(),
            parts: Vec::new(),
        };
    }
    if key.is_empty() {
        return refuse(
            401,
            "Missing API key: send Authorization: Bearer <writeKey> or Basic <writeKey:>, X-Write-Key or ?key=",
        );
    }
    let Some(source) = find_source(cfg, key) else {
        return refuse(401, "Invalid API key");
    };
    let events: Vec<&RawValue> =
        match form {
            Form::Batch => match serde_json::from_slice::<Envelope>(body) {
                Ok(Envelope { batch: Some(b) }) => b,
                _ if serde_json::from_slice::<serde::de::IgnoredAny>(body).is_err() => {
                    return refuse(400, "Request body is not valid JSON")
                }
                _ => return refuse(
                    400,
                    "Request body must be a JSON object with a `batch` array of 1 to 100 events",
                ),
            },
            Form::Webhook => {
                let many = body.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'[');
                let parsed = if many {
                    serde_json::from_slice::<Vec<&RawValue>>(body)
                } else {
                    serde_json::from_slice::<&RawValue>(body).map(|v| vec![v])
                };
                match parsed {
                    Ok(v) if many || v[0].get().starts_with('{') => v,
                    Ok(_) => {
                        return refuse(
                            400,
                            "Request body must be an event object or an array of 1 to 100 of them",
                        )
                    }
                    Err(_) => return refuse(400, "Request body is not valid JSON"),
                }
            }
        };
    if events.is_empty() {
        return refuse(
            400,
            match form {
                Form::Batch => "`batch` is empty: send 1 to 100 events",
                Form::Webhook => "No events: send 1 to 100 events",
            },
        );
    }
    if events.len() > MAX_EVENTS {
        return refuse(
            400,
            &format!("Too many events: maximum {MAX_EVENTS} per request"),
        );
    }

    let source = &cfg.sources[source];
    let dest = &cfg.destinations[source.destination];
    // A fresh engine per request, for its rules alone: nothing it keeps (user-property counts,
    // de-duplication) outlives the request.
    let mut config = dest.config.clone();
    config.max_queue_events = MAX_EVENTS + 1;
    config.max_queue_bytes = usize::MAX / 2;
    let mut p = match Pipeline::new(config) {
        Ok(p) => p,
        Err(e) => return refuse(500, &e.message()),
    };
    let mut parts: BTreeMap<u32, Vec<u8>> = BTreeMap::new();
    let (mut errors, mut warnings) = (Vec::new(), Vec::new());
    let (mut accepted, mut dropped) = (0u64, 0u64);
    for (i, raw) in events.iter().enumerate() {
        let text = raw.get();
        let obj: Map<String, Value> = match serde_json::from_str(text) {
            Ok(Value::Object(o)) => o,
            Ok(_) => {
                errors.push(
                    json!({"index": i, "messageId": null, "error": "event must be a JSON object"}),
                );
                continue;
            }
            Err(e) => {
                let error = format!("event could not be parsed: {e}");
                errors.push(json!({"index": i, "messageId": null, "error": error}));
                continue;
            }
        };
        let given_id = match obj.get("messageId") {
            Some(Value::String(s)) => Value::from(s.as_str()),
            Some(Value::Number(n)) => Value::from(n.to_string()),
            _ => Value::Null,
        };
        let input = match build(obj, text.as_bytes(), &source.mapping) {
            Ok(Some(e)) => e,
            Ok(None) => {
                accepted += 1;
                dropped += 1;
                continue;
            }
            Err(error) => {
                errors.push(json!({"index": i, "messageId": given_id, "error": error}));
                continue;
            }
        };
        let identity = [&input.user_id, &input.anonymous_id]
            .into_iter()
            .flatten()
            .find(|s| !s.is_empty())
            .cloned()
            .unwrap_or_default();
        match p.enqueue(now, input) {
            Ok(q) => {
                let stored = p.stored_form(q.id);
                p.forget(&q.message_id);
                let Some(stored) = stored else { continue };
                if stored.body.len() > MAX_EVENT_BYTES {
                    let error = format!(
                        "event is {} bytes encoded; the edge stores at most {MAX_EVENT_BYTES} bytes per event (field: properties)",
                        stored.body.len()
                    );
                    errors.push(json!({"index": i, "messageId": given_id, "error": error}));
                    continue;
                }
                accepted += 1;
                for w in &q.warnings {
                    if !matches!(w, Warning::UserPropertyLimit { .. }) {
                        warnings.push(
                            json!({"index": i, "messageId": q.message_id, "warning": w.message()}),
                        );
                    }
                }
                push_part(
                    parts.entry(shard_of(&identity, cfg.shards)).or_default(),
                    &stored,
                );
            }
            Err(r) => {
                errors.push(json!({"index": i, "messageId": given_id, "error": r.message()}));
            }
        }
    }
    let failed = errors.len();
    let mut answer = json!({
        "success": failed == 0,
        "accepted": accepted,
        "failed": failed,
        "errors": errors,
        "warnings": warnings,
    });
    if dropped > 0 {
        answer["dropped"] = Value::from(dropped);
    }
    Ingested {
        status: 200,
        body: answer.to_string(),
        parts: parts
            .into_iter()
            .map(|(n, events)| Part {
                shard: format!("{}#{n}", dest.name),
                events,
            })
            .collect(),
    }
}
