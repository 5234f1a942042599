//! Amplitude HTTP V2 `POST /2/httpapi` and Batch `POST /batch` (docs/PROTOCOLS.md B and C).
//!
//! Where the contract leaves a choice, this module decides:
//! - Order: body cap (413, by the caller), Content-Type (400), JSON (400), `api_key` (400),
//!   `events` present and non-empty (400 `missing_field: events`), event count (413),
//!   `options.min_id_length` (400), every event (400 with the index maps), then throttling (429)
//!   and storage. Any 4xx or 429 stores nothing.
//! - One bad event fails the whole request with 400 (the index maps say which); nothing stored.
//!   An event left with no id after cleaning is listed under
//!   `events_with_missing_fields.user_id_or_device_id`.
//! - The app, device and place fields (`library`, `language`, `platform`, `os_*`, `device_*`,
//!   `app_version`, `ip`, `country`, `region`, `city`, `carrier`) must be strings,
//!   `location_lat` / `location_lng` numbers and `session_id` an integer; they are stored as sent.
//! - `time` must be an integer of epoch *milliseconds*: values below 10^11 (which would be
//!   seconds) or from 10^14 (microseconds) are invalid, as are floats and strings.
//! - The invalid-id list is compared case-insensitively; lengths are counted in characters.
//! - A throttled request ingests *nothing* (the seed's retry loop resends the whole payload;
//!   `insert_id` makes that safe), and does not count towards anyone's window. An identity is
//!   throttled when its events in the window plus this request's pass `eps * window`; the value
//!   reported per id is that total divided by the window, rounded up. `throttled_events` lists
//!   the events of every throttled or over-quota identity. `/batch` 429s always carry both
//!   `exceeded_daily_quota_*` maps (possibly empty) and `/2/httpapi` 429s never do.
//! - `events_ingested` counts every event of an accepted request, duplicates included.
//! - De-dup: `/2/httpapi` on (api_key, device_id, insert_id), `/batch` on (api_key, insert_id);
//!   each stores both keys, so a retry through the other endpoint is de-duplicated too. Events
//!   without `insert_id` are never de-duplicated. The memory lasts until `/_reset`.

use std::collections::{BTreeMap, HashMap, HashSet};

use axum::http::HeaderMap;
use serde_json::{json, Map, Value};

use crate::body::is_json;
use crate::config::{secs_to_ms, Limits};
use crate::ingest::{Outcome, Proto};
use crate::limits::IdKey;
use crate::state::{fingerprint, AppState, Stored};

const INVALID_IDS: [&str; 13] = [
    "anonymous",
    "nil",
    "none",
    "null",
    "n/a",
    "na",
    "undefined",
    "unknown",
    "",
    "00000000-0000-0000-0000-000000000000",
    "{}",
    "0",
    "-1",
];
/// The event's string fields about the app, device and place (what batchwire maps Segment's
/// context to, docs/PROTOCOLS.md B): stored as sent; another type makes the event invalid.
const DEVICE_FIELDS: [&str; 14] = [
    "library",
    "language",
    "platform",
    "os_name",
    "os_version",
    "device_brand",
    "device_manufacturer",
    "device_model",
    "app_version",
    "ip",
    "country",
    "region",
    "city",
    "carrier",
];
const MAX_STRING_CHARS: usize = 1024;
const MIN_TIME_MS: u64 = 100_000_000_000;
const MAX_TIME_MS: u64 = 100_000_000_000_000;

fn bad_request(msg: &str) -> Outcome {
    Outcome::new(400, json!({"code": 400, "error": msg}))
}

fn missing_field(field: &str) -> Outcome {
    Outcome::new(
        400,
        json!({"code": 400, "error": "Request missing required field", "missing_field": field}),
    )
}

/// An id after cleaning: `None` when absent, too short or in the invalid list.
fn clean_id(v: Option<&Value>, min_len: usize) -> Option<String> {
    let s = v?.as_str()?;
    let invalid = INVALID_IDS.contains(&s.to_ascii_lowercase().as_str());
    (!invalid && s.chars().count() >= min_len).then(|| s.to_string())
}

/// `options.min_id_length`, or the configured default.
fn min_id_length(body: &Map<String, Value>, default: usize) -> Result<usize, &'static str> {
    match body.get("options") {
        None | Some(Value::Null) => Ok(default),
        Some(Value::Object(o)) => match o.get("min_id_length") {
            None | Some(Value::Null) => Ok(default),
            Some(v) => match v.as_u64() {
                Some(n) if n >= 1 => Ok(n as usize),
                _ => Err("Invalid options.min_id_length: must be a positive integer"),
            },
        },
        Some(_) => Err("Invalid options: must be an object"),
    }
}

/// A valid event, cleaned and ready to store.
struct Clean {
    user: Option<String>,
    device: Option<String>,
    insert_id: Option<String>,
    json: String,
}

/// Validates one event; on failure, the (field, missing?) problems found.
fn check_event(v: &Value, min_len: usize) -> Result<Clean, Vec<(&'static str, bool)>> {
    let Some(ev) = v.as_object() else {
        return Err(vec![("event", false)]);
    };
    let mut problems = Vec::new();
    match ev.get("event_type") {
        None | Some(Value::Null) => problems.push(("event_type", true)),
        Some(Value::String(s)) if s.is_empty() => problems.push(("event_type", true)),
        Some(Value::String(_)) => {}
        Some(_) => problems.push(("event_type", false)),
    }
    for field in ["user_id", "device_id", "insert_id"] {
        if !matches!(
            ev.get(field),
            None | Some(Value::Null) | Some(Value::String(_))
        ) {
            problems.push((field, false));
        }
    }
    match ev.get("time") {
        None | Some(Value::Null) => {}
        Some(t)
            if t.as_u64()
                .is_some_and(|t| (MIN_TIME_MS..MAX_TIME_MS).contains(&t)) => {}
        Some(_) => problems.push(("time", false)),
    }
    for field in [
        "event_properties",
        "user_properties",
        "groups",
        "group_properties",
    ] {
        if !matches!(
            ev.get(field),
            None | Some(Value::Null) | Some(Value::Object(_))
        ) {
            problems.push((field, false));
        }
    }
    if !matches!(ev.get("session_id"), None | Some(Value::Null))
        && ev["session_id"].as_i64().is_none()
    {
        problems.push(("session_id", false));
    }
    for field in DEVICE_FIELDS {
        if !matches!(
            ev.get(field),
            None | Some(Value::Null) | Some(Value::String(_))
        ) {
            problems.push((field, false));
        }
    }
    for field in ["location_lat", "location_lng"] {
        if !matches!(
            ev.get(field),
            None | Some(Value::Null) | Some(Value::Number(_))
        ) {
            problems.push((field, false));
        }
    }
    let user = clean_id(ev.get("user_id"), min_len);
    let device = clean_id(ev.get("device_id"), min_len);
    let ids_typed = !problems
        .iter()
        .any(|(f, _)| *f == "user_id" || *f == "device_id");
    if user.is_none() && device.is_none() && ids_typed {
        problems.push(("user_id_or_device_id", true));
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    let mut stored = ev.clone();
    for (field, kept) in [("user_id", &user), ("device_id", &device)] {
        if kept.is_none() {
            stored.remove(field);
        }
    }
    let mut stored = Value::Object(stored);
    truncate_strings(&mut stored);
    Ok(Clean {
        insert_id: stored
            .get("insert_id")
            .and_then(Value::as_str)
            .map(str::to_string),
        user,
        device,
        json: serde_json::to_string(&stored).unwrap_or_default(),
    })
}

/// Amplitude caps string values at 1,024 characters; the stored copy is truncated likewise.
fn truncate_strings(v: &mut Value) {
    match v {
        Value::String(s) if s.len() > MAX_STRING_CHARS && s.chars().count() > MAX_STRING_CHARS => {
            *s = s.chars().take(MAX_STRING_CHARS).collect();
        }
        Value::Array(a) => a.iter_mut().for_each(truncate_strings),
        Value::Object(o) => o.values_mut().for_each(truncate_strings),
        _ => {}
    }
}

pub fn process(st: &AppState, proto: Proto, headers: &HeaderMap, body: &[u8]) -> Outcome {
    if !is_json(headers) {
        return bad_request("Content-Type must be application/json");
    }
    let Ok(parsed) = serde_json::from_slice::<Value>(body) else {
        return bad_request("Invalid JSON request body");
    };
    let Some(obj) = parsed.as_object() else {
        return bad_request("Request body must be a JSON object");
    };
    let api_key = match obj.get("api_key") {
        Some(Value::String(k)) if !k.is_empty() => k.as_str(),
        _ => return missing_field("api_key"),
    };
    if !st.cfg.amp_api_keys.iter().any(|k| k == api_key) {
        return bad_request("Invalid API key");
    }
    let events = match obj.get("events") {
        Some(Value::Array(a)) if !a.is_empty() => a,
        _ => return missing_field("events"),
    };
    let n = events.len();
    let limits = st.limits();
    let max_events = match proto {
        Proto::AmpV2 => limits.v2_max_events,
        _ => limits.batch_max_events,
    };
    if n > max_events {
        return proto.too_large(&limits).events(n);
    }
    let min_len = match min_id_length(obj, limits.min_id_length) {
        Ok(m) => m,
        Err(msg) => return bad_request(msg).events(n),
    };
    let mut invalid: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    let mut missing: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    let mut clean = Vec::with_capacity(n);
    for (i, ev) in events.iter().enumerate() {
        match check_event(ev, min_len) {
            Ok(c) => clean.push(c),
            Err(problems) => {
                for (field, is_missing) in problems {
                    let map = if is_missing {
                        &mut missing
                    } else {
                        &mut invalid
                    };
                    map.entry(field).or_default().push(i);
                }
            }
        }
    }
    if clean.len() < n {
        let rejected = (n - clean.len()) as u64;
        st.lock().stats.rejected += rejected;
        let error = if invalid.is_empty() {
            "Request missing required field"
        } else {
            "Invalid field values on some events"
        };
        let body = json!({
            "code": 400,
            "error": error,
            "events_with_invalid_fields": invalid,
            "events_with_missing_fields": missing,
        });
        return Outcome::new(400, body).events(n);
    }
    admit_and_store(st, proto, api_key, &limits, clean, body.len()).events(n)
}

/// Throttling, then de-dup and storage, under one lock so that concurrent requests for the same
/// device cannot both slip under its limit.
fn admit_and_store(
    st: &AppState,
    proto: Proto,
    api_key: &str,
    limits: &Limits,
    clean: Vec<Clean>,
    bytes: usize,
) -> Outcome {
    let endpoint = proto.path();
    let key = |is_device: bool, id: &str| IdKey {
        endpoint,
        api_key: api_key.to_string(),
        is_device,
        id: id.to_string(),
    };
    let mut per_id: HashMap<IdKey, u64> = HashMap::new();
    for c in &clean {
        for (is_device, id) in [(false, &c.user), (true, &c.device)] {
            if let Some(id) = id {
                *per_id.entry(key(is_device, id)).or_default() += 1;
            }
        }
    }
    let (eps, eps_len) = match proto {
        Proto::AmpV2 => (limits.eps_v2, secs_to_ms(limits.eps_window_secs)),
        _ => (limits.eps_batch, secs_to_ms(limits.eps_window_secs)),
    };
    let allowed = (eps as f64 * eps_len as f64 / 1000.0).floor() as u64;
    let daily_len = secs_to_ms(limits.daily_window_secs);
    let batch = proto == Proto::AmpBatch;
    let now = st.clock.now_ms();
    let mut inner = st.lock();
    let mut throttled: Vec<(&IdKey, u64)> = Vec::new();
    let mut over_quota: Vec<(&IdKey, u64)> = Vec::new();
    for (k, &count) in &per_id {
        let total = inner.windows.eps_count(k, now, eps_len) + count;
        if total > allowed {
            let rate = (total as f64 * 1000.0 / eps_len as f64).ceil() as u64;
            throttled.push((k, rate));
        }
        if batch {
            let day = inner.windows.daily_count(k, now, daily_len) + count;
            if day > limits.daily_quota {
                over_quota.push((k, day));
            }
        }
    }
    if !throttled.is_empty() || !over_quota.is_empty() {
        let hit: HashSet<&IdKey> = throttled
            .iter()
            .chain(&over_quota)
            .map(|(k, _)| *k)
            .collect();
        let events: Vec<usize> = clean
            .iter()
            .enumerate()
            .filter(|(_, c)| {
                c.user
                    .as_ref()
                    .is_some_and(|u| hit.contains(&key(false, u)))
                    || c.device
                        .as_ref()
                        .is_some_and(|d| hit.contains(&key(true, d)))
            })
            .map(|(i, _)| i)
            .collect();
        return Outcome::new(
            429,
            throttle_body(proto, eps, &throttled, &over_quota, events),
        );
    }
    for (k, count) in per_id {
        if batch {
            inner.windows.daily_add(k.clone(), now, count);
        }
        inner.windows.eps_add(k, now, count);
    }
    let mut duplicates = 0u64;
    let mut stored = 0u64;
    let cap = st.cfg.max_stored_events;
    for c in clean {
        if let Some(ins) = &c.insert_id {
            let by_device =
                fingerprint(&["ampdev", api_key, c.device.as_deref().unwrap_or(""), ins]);
            let by_insert = fingerprint(&["ampins", api_key, ins]);
            let seen = if batch { by_insert } else { by_device };
            if inner.dedup.contains(&seen) {
                duplicates += 1;
                continue;
            }
            inner.dedup.insert(by_device);
            inner.dedup.insert(by_insert);
        }
        stored += 1;
        let ev = Stored {
            path: endpoint,
            received_ms: now,
            json: c.json.into_boxed_str(),
        };
        inner.store(cap, ev);
    }
    inner.stats.ingested += stored;
    inner.stats.duplicates += duplicates;
    let body = json!({
        "code": 200,
        "events_ingested": stored + duplicates,
        "payload_size_bytes": bytes,
        "server_upload_time": now,
    });
    Outcome::new(200, body)
}

fn throttle_body(
    proto: Proto,
    eps: u64,
    throttled: &[(&IdKey, u64)],
    over_quota: &[(&IdKey, u64)],
    events: Vec<usize>,
) -> Value {
    let split = |list: &[(&IdKey, u64)], devices: bool| -> BTreeMap<String, u64> {
        list.iter()
            .filter(|(k, _)| k.is_device == devices)
            .map(|(k, v)| (k.id.clone(), *v))
            .collect()
    };
    let mut body = json!({
        "code": 429,
        "error": "Too many requests for some devices and users",
        "eps_threshold": eps,
        "throttled_devices": split(throttled, true),
        "throttled_users": split(throttled, false),
        "throttled_events": events,
    });
    if proto == Proto::AmpBatch {
        body["exceeded_daily_quota_users"] = json!(split(over_quota, false));
        body["exceeded_daily_quota_devices"] = json!(split(over_quota, true));
    }
    body
}

/// The default body of a scripted 429: every identity in the request is throttled (or over its
/// daily quota with `daily_quota`), so the client's per-identity pause logic is exercised.
pub fn scripted_429(st: &AppState, proto: Proto, bytes: &[u8], daily_quota: bool) -> Value {
    let limits = st.limits();
    let eps = if proto == Proto::AmpV2 {
        limits.eps_v2
    } else {
        limits.eps_batch
    };
    let parsed: Value = serde_json::from_slice(bytes).unwrap_or(Value::Null);
    let min_len = parsed
        .as_object()
        .and_then(|o| min_id_length(o, limits.min_id_length).ok())
        .unwrap_or(limits.min_id_length);
    let events = parsed
        .get("events")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let mut ids: Vec<IdKey> = Vec::new();
    let mut indexes = Vec::new();
    for (i, ev) in events.iter().enumerate() {
        let user = clean_id(ev.get("user_id"), min_len);
        let device = clean_id(ev.get("device_id"), min_len);
        if user.is_some() || device.is_some() {
            indexes.push(i);
        }
        for (is_device, id) in [(false, user), (true, device)] {
            if let Some(id) = id {
                let k = IdKey {
                    endpoint: proto.path(),
                    api_key: String::new(),
                    is_device,
                    id,
                };
                if !ids.contains(&k) {
                    ids.push(k);
                }
            }
        }
    }
    let value = if daily_quota {
        limits.daily_quota + 1
    } else {
        eps + 1
    };
    let list: Vec<(&IdKey, u64)> = ids.iter().map(|k| (k, value)).collect();
    let (throttled, over): (&[_], &[_]) = if daily_quota {
        (&[], &list)
    } else {
        (&list, &[])
    };
    throttle_body(proto, eps, throttled, over, indexes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_cleaned() {
        let s = |v: &str| Value::String(v.into());
        assert_eq!(
            clean_id(Some(&s("user-12345")), 5).as_deref(),
            Some("user-12345")
        );
        assert_eq!(clean_id(Some(&s("abcd")), 5), None);
        assert_eq!(clean_id(Some(&s("abcd")), 4).as_deref(), Some("abcd"));
        assert_eq!(clean_id(Some(&s("NULL")), 1), None);
        assert_eq!(clean_id(Some(&s("Undefined")), 1), None);
        assert_eq!(
            clean_id(Some(&s("00000000-0000-0000-0000-000000000000")), 1),
            None
        );
        assert_eq!(clean_id(Some(&json!(12345)), 1), None);
        assert_eq!(clean_id(None, 1), None);
    }

    #[test]
    fn events_are_checked_and_cleaned() {
        let ok = check_event(
            &json!({"event_type": "e", "user_id": "null", "device_id": "dev-12345",
            "time": 1_714_003_200_000_u64, "event_properties": {"long": "x".repeat(2000)}}),
            5,
        )
        .ok()
        .unwrap();
        assert_eq!(ok.user, None);
        let stored: Value = serde_json::from_str(&ok.json).unwrap();
        assert!(stored.get("user_id").is_none());
        assert_eq!(
            stored["event_properties"]["long"].as_str().unwrap().len(),
            1024
        );

        let problems = |v: Value| check_event(&v, 5).err().unwrap();
        assert_eq!(
            problems(json!({"user_id": "user-1"})),
            vec![("event_type", true)]
        );
        assert_eq!(
            problems(json!({"event_type": "e", "user_id": "abc"})),
            vec![("user_id_or_device_id", true)]
        );
        assert_eq!(
            problems(json!({"event_type": "e", "user_id": "user-1", "time": 1_714_003_200_u64})),
            vec![("time", false)]
        );
        assert_eq!(
            problems(
                json!({"event_type": "e", "user_id": "user-1", "time": "2026-01-01T00:00:00Z"})
            ),
            vec![("time", false)]
        );
        assert_eq!(problems(json!([1])), vec![("event", false)]);

        let device = json!({"event_type": "e", "device_id": "dev-12345", "library": "batchwire/1",
            "language": "en-US", "session_id": 1_700_000_000_000_u64, "platform": "Web",
            "os_name": "Chrome", "os_version": "120", "device_brand": "Google",
            "device_manufacturer": "Google", "device_model": "Windows", "app_version": "2.1",
            "ip": "192.0.2.1", "country": "France", "region": "IDF", "city": "Paris",
            "location_lat": 48.85, "location_lng": -2});
        let ok = check_event(&device, 5).ok().unwrap();
        let stored: Value = serde_json::from_str(&ok.json).unwrap();
        assert_eq!(stored, device, "kept as sent");
        assert_eq!(
            problems(json!({"event_type": "e", "user_id": "user-1", "os_name": 5,
                "location_lat": "48.85", "session_id": 1.5})),
            vec![
                ("session_id", false),
                ("os_name", false),
                ("location_lat", false)
            ]
        );
    }
}
