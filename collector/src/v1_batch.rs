//! `POST /v1-batch` (docs/PROTOCOLS.md A).
//!
//! Where the contract leaves a choice, this module decides:
//! - Checks run in this order: body cap (413, before anything is parsed; done by the caller),
//!   key (401/403), per-(org, IP) then per-org window (429), Content-Type (400), body structure
//!   (400), events one by one, then the monthly quota (429) and storage.
//! - Structural problems with the body (not JSON, not an object, no `batch` array, 0 or > 100
//!   events) are a 400 and nothing is stored. Problems with one event (not an object, a missing
//!   or ill-typed required field, a bad `timestamp`, a name over 200 chars) reject that event
//!   alone inside a 200; the others ingest.
//! - A request refused with 429 or 4xx counts against the per-minute windows only if it got past
//!   them (i.e. 401/403 and 429s are not counted; 400s are).
//! - The monthly quota counts stored events (not duplicates) and is never overshot: a request
//!   whose new events would pass it is refused whole.

use std::collections::HashSet;

use axum::http::{header, HeaderMap};
use std::borrow::Cow;

use serde::de::IgnoredAny;
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{json, Map, Value};

use crate::body::is_json;
use crate::config::{KeyKind, Limits};
use crate::ingest::{Outcome, Proto};
use crate::limits::RateVerdict;
use crate::state::{fingerprint, AppState, Stored};

const TYPES: [&str; 6] = ["track", "identify", "page", "screen", "alias", "group"];
const MAX_NAME_CHARS: usize = 200;
const SOFT_MAX_KEYS: usize = 300;
const SOFT_MAX_VALUE_BYTES: usize = 32 * 1024;
const SOFT_MAX_DEPTH: usize = 8;

fn err(status: u16, msg: &str) -> Outcome {
    Outcome::new(status, Proto::V1.error(status, msg))
}

fn per_window(limits: &Limits) -> String {
    if limits.window_secs == 60.0 {
        "per minute".into()
    } else {
        format!("per {} seconds", limits.window_secs)
    }
}

/// The per-(org, IP) 429 body (also the default of a scripted 429).
pub fn rate_limited_body(limits: &Limits) -> Value {
    json!({
        "success": false,
        "error": format!("Rate limit exceeded: max {} requests {} per (org, IP)",
            limits.rate_per_ip, per_window(limits)),
        "code": "rate_limited",
    })
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    let v = headers.get(header::AUTHORIZATION)?.to_str().ok()?.trim();
    let (scheme, key) = v.split_once(' ')?;
    let key = key.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !key.is_empty()).then_some(key)
}

/// One event after validation.
enum Checked {
    Ok {
        message_id: String,
        json: String,
        warnings: Vec<String>,
    },
    Rejected {
        message_id: Value,
        error: String,
    },
}

pub fn process(st: &AppState, ip: &str, headers: &HeaderMap, body: &[u8]) -> Outcome {
    let Some(key) = bearer(headers) else {
        return err(
            401,
            "Missing API key: send Authorization: Bearer <writeKey>",
        );
    };
    let Some(entry) = st.keys.get(key) else {
        return err(401, "Invalid API key");
    };
    if entry.kind == KeyKind::Read {
        return err(403, "Read keys cannot ingest events: use a write key");
    }
    let org = entry.org.as_str();
    let limits = {
        let mut inner = st.lock();
        let limits = inner.limits.clone();
        match inner.windows.admit(org, ip, st.clock.now_ms(), &limits) {
            RateVerdict::Admit => limits,
            RateVerdict::PerIp(secs) => {
                return Outcome::new(429, rate_limited_body(&limits)).retry_after(secs)
            }
            RateVerdict::PerOrg(secs) => {
                let msg = format!(
                    "Rate limit exceeded: max {} requests {} per org",
                    limits.rate_per_org,
                    per_window(&limits)
                );
                return err(429, &msg).retry_after(secs);
            }
        }
    };
    if !is_json(headers) {
        return err(400, "Content-Type must be application/json");
    }
    // Borrowed parse: each event stays a slice of the body until it is checked.
    let batch = match serde_json::from_slice::<Envelope>(body) {
        Ok(Envelope { batch: Some(b) }) => b,
        _ if serde_json::from_slice::<IgnoredAny>(body).is_err() => {
            return err(400, "Request body is not valid JSON")
        }
        _ => {
            return err(
                400,
                "Request body must be a JSON object with a `batch` array of 1 to 100 events",
            )
        }
    };
    let n = batch.len();
    if n == 0 {
        return err(400, "`batch` is empty: send 1 to 100 events").events(0);
    }
    if n > limits.v1_max_events {
        let msg = format!(
            "Too many events: maximum {} per request",
            limits.v1_max_events
        );
        return err(400, &msg).events(n);
    }

    let checked: Vec<Checked> = batch.iter().map(|raw| check_event(raw)).collect();
    let now = st.clock.now_ms();
    let mut inner = st.lock();
    // Which accepted events are new, and which repeat a messageId (earlier, or in this batch).
    let mut seen = HashSet::new();
    let mut new = Vec::new();
    let mut duplicates = 0u64;
    for (i, c) in checked.iter().enumerate() {
        if let Checked::Ok { message_id, .. } = c {
            let fp = fingerprint(&["v1", org, message_id]);
            if inner.dedup.contains(&fp) || !seen.insert(fp) {
                duplicates += 1;
            } else {
                new.push((i, fp));
            }
        }
    }
    let quota = inner.limits.monthly_quota;
    if let Err(secs) = inner
        .windows
        .monthly_check(org, now, quota, new.len() as u64)
    {
        return err(429, "Monthly event quota exceeded")
            .retry_after(secs)
            .events(n);
    }
    inner.windows.monthly_add(org, now, new.len() as u64);
    let cap = st.cfg.max_stored_events;
    let mut new_iter = new.iter().peekable();
    let (mut errors, mut warnings) = (Vec::new(), Vec::new());
    let (mut accepted, mut failed) = (0u64, 0u64);
    for (i, c) in checked.into_iter().enumerate() {
        match c {
            Checked::Rejected { message_id, error } => {
                failed += 1;
                errors.push(json!({"index": i, "messageId": message_id, "error": error}));
            }
            Checked::Ok {
                message_id,
                json,
                warnings: w,
            } => {
                accepted += 1;
                for warning in w {
                    warnings.push(json!({"index": i, "messageId": message_id, "warning": warning}));
                }
                if let Some(&(_, fp)) = new_iter.next_if(|(j, _)| *j == i) {
                    inner.dedup.insert(fp);
                    let ev = Stored {
                        path: Proto::V1.path(),
                        received_ms: now,
                        json: json.into_boxed_str(),
                    };
                    inner.store(cap, ev);
                }
            }
        }
    }
    let s = &mut inner.stats;
    s.ingested += new.len() as u64;
    s.duplicates += duplicates;
    s.rejected += failed;
    s.warnings += warnings.len() as u64;
    let mut body = json!({
        "success": failed == 0,
        "accepted": accepted,
        "failed": failed,
        "errors": errors,
        "warnings": warnings,
    });
    // Only when there is something to say, so an ordinary 200 is exactly the contract's example.
    if duplicates > 0 {
        body["duplicates"] = json!(duplicates);
    }
    Outcome::new(200, body).events(n)
}

fn nonempty_str<'a>(ev: &'a Map<String, Value>, field: &str) -> Result<&'a str, String> {
    match ev.get(field) {
        None | Some(Value::Null) => Err(format!("missing required field: {field}")),
        Some(Value::String(s)) if !s.is_empty() => Ok(s),
        Some(_) => Err(format!("{field} must be a non-empty string")),
    }
}

#[derive(Deserialize)]
struct Envelope<'a> {
    #[serde(borrow)]
    batch: Option<Vec<&'a RawValue>>,
}

/// The fields a valid event must have, borrowed from the body. Deserializing this is several
/// times cheaper than building a `Value`, and it is what keeps `/v1-batch` well above 1,000
/// requests/s on two cores.
#[derive(Deserialize)]
struct View<'a> {
    #[serde(rename = "type", borrow)]
    ty: Cow<'a, str>,
    #[serde(rename = "messageId", borrow)]
    message_id: Cow<'a, str>,
    #[serde(rename = "anonymousId", borrow)]
    anonymous_id: Cow<'a, str>,
    #[serde(borrow)]
    timestamp: Cow<'a, str>,
    #[serde(default, borrow)]
    event: Option<Cow<'a, str>>,
    /// Only its type matters: a string or null.
    #[serde(default, rename = "userId", borrow)]
    _user_id: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    properties: Option<&'a RawValue>,
    #[serde(default, borrow)]
    traits: Option<&'a RawValue>,
    #[serde(default, borrow)]
    context: Option<&'a RawValue>,
}

/// Checks one event: a fast path for the common, valid event, and the `Value`-based path (the
/// reference, with the exact error messages) for everything else.
fn check_event(raw: &RawValue) -> Checked {
    if let Some(ok) = fast_check(raw) {
        return ok;
    }
    let v: Value = match serde_json::from_str(raw.get()) {
        Ok(v) => v,
        // Valid JSON the parser still refuses, e.g. a number out of range.
        Err(e) => {
            return Checked::Rejected {
                message_id: Value::Null,
                error: format!("event could not be parsed: {e}"),
            }
        }
    };
    let Some(ev) = v.as_object() else {
        return Checked::Rejected {
            message_id: Value::Null,
            error: "event must be a JSON object".into(),
        };
    };
    let message_id = ev.get("messageId").cloned().unwrap_or(Value::Null);
    match check_fields(ev) {
        Ok((mid, warnings)) => Checked::Ok {
            message_id: mid.to_string(),
            json: serde_json::to_string(&v).unwrap_or_default(),
            warnings,
        },
        Err(error) => Checked::Rejected { message_id, error },
    }
}

/// `Some` only for an event the reference path would accept with no warning; `None` sends it
/// there. Soft caps are screened by size: a properties object under 1 KiB with at most 8 opening
/// brackets can have neither 300 keys, nor a 32 KiB value, nor 9 levels.
fn fast_check(raw: &RawValue) -> Option<Checked> {
    let text = raw.get();
    // Stored text goes into NDJSON: a multi-line event is re-serialized by the reference path.
    if text.contains(['\n', '\r']) {
        return None;
    }
    let v: View = serde_json::from_str(text).ok()?;
    let name_ok = match (&*v.ty, &v.event) {
        ("track", Some(e)) => !e.is_empty() && e.chars().count() <= MAX_NAME_CHARS,
        ("track", None) => false,
        (ty, _) => TYPES.contains(&ty),
    };
    let small_object = |r: &Option<&RawValue>| {
        r.is_none_or(|r| {
            let t = r.get();
            let brackets = t.bytes().filter(|b| matches!(b, b'{' | b'[')).count();
            t.starts_with('{') && t.len() <= 1024 && brackets <= SOFT_MAX_DEPTH
        })
    };
    let ok = name_ok
        && !v.message_id.is_empty()
        && !v.anonymous_id.is_empty()
        && is_iso8601(&v.timestamp)
        && small_object(&v.properties)
        && small_object(&v.traits)
        && v.context.is_none_or(|c| c.get().starts_with('{'));
    ok.then(|| Checked::Ok {
        message_id: v.message_id.into_owned(),
        json: text.to_string(),
        warnings: Vec::new(),
    })
}

fn check_fields(ev: &Map<String, Value>) -> Result<(&str, Vec<String>), String> {
    let ty = nonempty_str(ev, "type")?;
    if !TYPES.contains(&ty) {
        return Err(format!("type must be one of {}", TYPES.join(", ")));
    }
    let mid = nonempty_str(ev, "messageId")?;
    nonempty_str(ev, "anonymousId")?;
    let ts = nonempty_str(ev, "timestamp")?;
    if !is_iso8601(ts) {
        return Err(
            "timestamp must be an ISO 8601 date-time, e.g. 2026-01-31T12:00:00.000Z".into(),
        );
    }
    if ty == "track" {
        let name = nonempty_str(ev, "event")?;
        if name.chars().count() > MAX_NAME_CHARS {
            return Err("event name too long".into());
        }
    }
    if !matches!(
        ev.get("userId"),
        None | Some(Value::Null) | Some(Value::String(_))
    ) {
        return Err("userId must be a string".into());
    }
    let mut warnings = Vec::new();
    for field in ["properties", "traits", "context"] {
        match ev.get(field) {
            None | Some(Value::Null) => {}
            Some(Value::Object(obj)) if field != "context" => soft_caps(field, obj, &mut warnings),
            Some(Value::Object(_)) => {}
            Some(_) => return Err(format!("{field} must be an object")),
        }
    }
    Ok((mid, warnings))
}

/// The warn-only caps of the seed: stored anyway, with a warning.
fn soft_caps(field: &str, obj: &Map<String, Value>, warnings: &mut Vec<String>) {
    if obj.len() > SOFT_MAX_KEYS {
        warnings.push(format!("{field} has more than {SOFT_MAX_KEYS} keys"));
    }
    let big = obj.iter().find(|(_, v)| json_len(v) > SOFT_MAX_VALUE_BYTES);
    if let Some((k, _)) = big {
        warnings.push(format!("{field}.{k} is larger than 32 KiB"));
    }
    if depth(obj) > SOFT_MAX_DEPTH {
        warnings.push(format!("{field} nests deeper than {SOFT_MAX_DEPTH} levels"));
    }
}

fn json_len(v: &Value) -> usize {
    match v {
        Value::String(s) => s.len() + 2,
        Value::Object(_) | Value::Array(_) => serde_json::to_vec(v).map(|b| b.len()).unwrap_or(0),
        _ => 8,
    }
}

/// Nesting depth where the top object counts 1 and each object or array inside adds one. The
/// parser's recursion limit (128) bounds the walk.
fn depth(obj: &Map<String, Value>) -> usize {
    fn levels(v: &Value) -> usize {
        match v {
            Value::Object(m) => 1 + m.values().map(levels).max().unwrap_or(0),
            Value::Array(a) => 1 + a.iter().map(levels).max().unwrap_or(0),
            _ => 0,
        }
    }
    1 + obj.values().map(levels).max().unwrap_or(0)
}

/// RFC 3339 date-time (the ISO 8601 profile `Date.prototype.toISOString` produces): date, `T`,
/// time, optional fraction, and a `Z` or `±HH:MM` offset; field ranges checked.
pub fn is_iso8601(s: &str) -> bool {
    let b = s.as_bytes();
    // The shortest form, `YYYY-MM-DDTHH:MM:SSZ`; checked first so indexing below is in bounds.
    if b.len() < 20 {
        return false;
    }
    let digits = |r: std::ops::Range<usize>| -> Option<u32> {
        let part = b.get(r)?;
        part.iter()
            .all(u8::is_ascii_digit)
            .then(|| part.iter().fold(0u32, |n, d| n * 10 + u32::from(d - b'0')))
    };
    let ok = (|| -> Option<bool> {
        let (y, m, d) = (digits(0..4)?, digits(5..7)?, digits(8..10)?);
        if b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't') {
            return Some(false);
        }
        let (hh, mm, ss) = (digits(11..13)?, digits(14..16)?, digits(17..19)?);
        if b[13] != b':' || b[16] != b':' {
            return Some(false);
        }
        let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
        let dim = [
            31,
            if leap { 29 } else { 28 },
            31,
            30,
            31,
            30,
            31,
            31,
            30,
            31,
            30,
            31,
        ];
        if !(1..=12).contains(&m)
            || d == 0
            || d > dim[(m - 1) as usize]
            || hh > 23
            || mm > 59
            || ss > 60
        {
            return Some(false);
        }
        let mut i = 19;
        if b.get(i) == Some(&b'.') {
            let start = i + 1;
            i = start;
            while b.get(i).is_some_and(u8::is_ascii_digit) {
                i += 1;
            }
            if i == start {
                return Some(false);
            }
        }
        match b.get(i)? {
            b'Z' | b'z' => Some(i + 1 == b.len()),
            b'+' | b'-' => {
                let (oh, om) = (digits(i + 1..i + 3)?, digits(i + 4..i + 6)?);
                Some(b[i + 3] == b':' && oh <= 23 && om <= 59 && i + 6 == b.len())
            }
            _ => Some(false),
        }
    })();
    ok == Some(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso8601() {
        for good in [
            "2026-01-31T12:00:00.000Z",
            "2024-02-29T23:59:60Z",
            "2026-01-31t12:00:00+05:30",
            "2026-01-31T12:00:00.123456-08:00",
        ] {
            assert!(is_iso8601(good), "{good}");
        }
        for bad in [
            "",
            "2026-01-31",
            "2026-01-31T12:00:00",
            "2025-02-29T00:00:00Z",
            "2026-13-01T00:00:00Z",
            "2026-01-31T24:00:00Z",
            "2026-01-31T12:00:00.Z",
            "2026-01-31T12:00:00Zjunk",
            "2026-01-31 12:00:00Z",
            "1706702400000",
            "2026-01-31T12:00:00+0530",
            "２０２６-01-31T12:00:00Z",
        ] {
            assert!(!is_iso8601(bad), "{bad}");
        }
    }

    #[test]
    fn depth_counts_levels() {
        let obj = |v: Value| v.as_object().unwrap().clone();
        assert_eq!(depth(&obj(json!({}))), 1);
        assert_eq!(depth(&obj(json!({"a": 1}))), 1);
        assert_eq!(depth(&obj(json!({"a": {"b": 1}}))), 2);
        assert_eq!(depth(&obj(json!({"a": {"b": {}}}))), 3);
        let mut deep = json!(1);
        for _ in 0..9 {
            deep = json!({ "x": deep });
        }
        assert!(depth(&obj(deep)) > SOFT_MAX_DEPTH);
    }

    #[test]
    fn fast_path_never_accepts_what_the_reference_rejects() {
        let base = json!({"type": "track", "event": "E", "messageId": "m", "anonymousId": "a",
            "timestamp": "2026-01-15T00:00:00.000Z", "properties": {"a": 1}});
        let with = |k: &str, v: Value| {
            let mut e = base.clone();
            e[k] = v;
            e
        };
        let mut deep = json!(1);
        for _ in 0..9 {
            deep = json!({ "d": deep });
        }
        let cases = vec![
            base.clone(),
            with("type", json!("identify")),
            with("type", json!("Track")),
            with("event", json!("é".repeat(200))),
            with("event", json!("é".repeat(201))),
            with("event", json!("")),
            with("event", json!(null)),
            with("messageId", json!("")),
            with("messageId", json!("q\"uote")),
            with("anonymousId", json!(7)),
            with("timestamp", json!("2026-01-15")),
            with("userId", json!(5)),
            with("userId", json!(null)),
            with("properties", json!([])),
            with("properties", deep.clone()),
            with("traits", deep),
            with("properties", json!({"big": "x".repeat(40_000)})),
            with("context", json!("c")),
            json!({"type": "page", "messageId": "m", "anonymousId": "a", "timestamp": "2026-01-15T00:00:00Z"}),
        ];
        let mut fast_hits = 0;
        for case in cases {
            let raw = RawValue::from_string(case.to_string()).unwrap();
            if let Some(Checked::Ok {
                message_id,
                json,
                warnings,
            }) = fast_check(&raw)
            {
                fast_hits += 1;
                let (mid, slow_warnings) =
                    check_fields(case.as_object().unwrap()).expect("reference accepts");
                assert_eq!(
                    (mid, slow_warnings.len(), warnings.len()),
                    (message_id.as_str(), 0, 0)
                );
                assert_eq!(serde_json::from_str::<Value>(&json).unwrap(), case);
            }
        }
        assert_eq!(fast_hits, 6, "the ordinary valid events take the fast path");
    }

    #[test]
    fn bearer_parsing() {
        let mut h = HeaderMap::new();
        assert_eq!(bearer(&h), None);
        for (v, want) in [
            ("Bearer uk_live_demo", Some("uk_live_demo")),
            ("bearer  uk_live_demo ", Some("uk_live_demo")),
            ("Basic abc", None),
            ("Bearer ", None),
        ] {
            h.insert(header::AUTHORIZATION, v.parse().unwrap());
            assert_eq!(bearer(&h), want, "{v}");
        }
    }
}
