//! Amplitude HTTP V2 (`POST /2/httpapi`) and Batch (`POST /batch`), `docs/PROTOCOLS.md` B and C.
//! Both take the same body and event shape; they differ in limits, ordering and 429 details.
//!
//! Body: `{"api_key":"…","events":[…],"options":{"min_id_length":N}}`.
//!
//! Event mapping (fields absent when empty):
//! | batchwire | Amplitude |
//! |---|---|
//! | messageId | `insert_id` (Amplitude de-duplicates on device_id + insert_id for 7 days) |
//! | userId / anonymousId | `user_id` / `device_id`, after dropping ids Amplitude would remove |
//! | timestamp | `time`, epoch milliseconds |
//! | track `event` | `event_type` |
//! | identify | `event_type: "$identify"`, `user_properties: {"$set": traits}` |
//! | page / screen `name` | `event_type: "Viewed <name>"` (no name: `"Viewed page"` / `"Viewed screen"`) |
//! | group `groupId` | `event_type: "$identify"`, `groups: {"group": groupId}`, `group_properties: traits` |
//! | properties | `event_properties` |
//! | traits (non-group) | `user_properties: {"$set": traits}` |
//! | context | Segment's fields as Amplitude's: `library`, `language`, `session_id`, `platform`, `os_*`, `device_*`, `app_version`, `ip`, `country`, `region`, `city`, `location_*` ([`super::amplitude_context`]); other Segment names not sent, other keys not sent with a warning ([`Protocol::unsent_context_key`]) |
//! | alias | [`Protocol::supports`]: aliasing is Amplitude's separate User Mapping API |
//!
//! Response classification: 2xx with `events_ingested` equal to the request's events accepted,
//! any other 2xx unconfirmed; 400 naming events in `events_with_invalid_fields` /
//! `events_with_missing_fields` → those events are bad, the request was not accepted; other 400
//! and 4xx permanent; 413 too large (no limit given); 429 with `throttled_*` or
//! `exceeded_daily_quota_*` → per-identity throttling, without them a plain rate limit; 408 and
//! 5xx transient (500/502/504 may have been ingested: the retry's insert_id makes that safe).

use super::{
    amplitude_context, by_status, document, error_text, next_word, EventFields, EventKind,
    ObjectWriter, Outcome,
};
use crate::base::json;
use crate::base::num::push_u64;
use crate::base::Millis;
use crate::prelude::*;

/// The placeholder ids Amplitude removes, compared without case; each ended by a space (so the
/// empty id is the empty word between two spaces).
const INVALID_IDS: &[u8] =
    b"anonymous nil none null n/a na undefined unknown  00000000-0000-0000-0000-000000000000 {} 0 -1 ";

/// Whether Amplitude keeps this user_id / device_id: it silently removes ids shorter than
/// `min_id_length` characters and the placeholders above.
pub fn keeps_id(id: &str, min_id_length: usize) -> bool {
    if json::char_count(id) < min_id_length {
        return false;
    }
    let mut list = INVALID_IDS;
    while !list.is_empty() {
        if next_word(&mut list).eq_ignore_ascii_case(id.as_bytes()) {
            return false;
        }
    }
    true
}

pub(crate) fn envelope(api_key: &str, min_id_length: usize) -> (Vec<u8>, Vec<u8>) {
    let mut prefix = b"{\"api_key\":".to_vec();
    json::write_str(&mut prefix, api_key);
    prefix.extend_from_slice(b",\"events\":[");
    let mut suffix = b"],\"options\":{\"min_id_length\":".to_vec();
    push_u64(&mut suffix, min_id_length as u64);
    suffix.extend_from_slice(b"}}");
    (prefix, suffix)
}

/// The members in their order.
#[cfg(feature = "user-properties")]
const KEYS: &[u8] = b"event_type insert_id user_id device_id time event_properties user_properties groups group_properties library session_id platform language os_name os_version device_model device_brand device_manufacturer app_version ip country region city location_lat location_lng $skip_user_properties_sync ";
#[cfg(not(feature = "user-properties"))]
const KEYS: &[u8] = b"event_type insert_id user_id device_id time event_properties user_properties groups group_properties library session_id platform language os_name os_version device_model device_brand device_manufacturer app_version ip country region city location_lat location_lng ";

pub(crate) fn encode(ev: &EventFields<'_>, out: &mut Vec<u8>) -> usize {
    let mut w = ObjectWriter::new(out, KEYS);
    match (ev.kind, ev.name) {
        (EventKind::Track, Some(n)) => w.text("", Some(n)),
        (EventKind::Page | EventKind::Screen, Some(n)) => w.text("Viewed ", Some(n)),
        (EventKind::Page, None) => w.lit(b"\"Viewed page\""),
        (EventKind::Screen, None) => w.lit(b"\"Viewed screen\""),
        (EventKind::Alias, _) => w.lit(b"\"$alias\""),
        _ => w.lit(b"\"$identify\""),
    }
    w.text("", Some(ev.message_id));
    w.text("", ev.user_id);
    w.text("", ev.anonymous_id);
    w.num(ev.timestamp);
    w.raw(b"", ev.properties);
    // A group event's traits describe the group; any other's, the user.
    let group = ev.group_id.filter(|_| ev.kind == EventKind::Group);
    let (user_traits, group_traits) = match group {
        Some(_) => (None, ev.traits),
        None => (ev.traits, None),
    };
    w.raw(b"{\"$set\":", user_traits);
    w.text_in(b"{\"group\":", group);
    w.raw(b"", group_traits);
    amplitude_context::write(&mut w, ev.context.unwrap_or("{}").as_bytes());
    #[cfg(feature = "user-properties")]
    w.raw(b"", ev.skip_user_properties_sync.then_some("true"));
    w.finish()
}

fn keys(doc: &[u8], name: &str) -> Vec<String> {
    let mut out = Vec::new();
    for (k, _) in json::members(json::field_or_empty(doc, name)) {
        if let Some(k) = json::unescape(k) {
            out.push(k);
        }
    }
    out
}

fn push_indexes(list: &[u8], out: &mut Vec<usize>) {
    for n in json::items(list).filter_map(json::uint) {
        let n = n as usize;
        // Deduplicated as they come: the lists are short, and a sort would cost wasm size.
        if !out.contains(&n) {
            out.push(n);
        }
    }
}

/// Appends `label`, the fields `group` names (comma-separated) and `)`, if it names any, and their
/// event indexes to `idx`.
/// (Called per group rather than looping over an array of them: its by-value iterator cost wasm
/// size.)
fn bad_fields(doc: &[u8], group: &str, label: &str, error: &mut String, idx: &mut Vec<usize>) {
    let mut first = true;
    for (name, list) in json::members(json::field_or_empty(doc, group)) {
        error.push_str(if first { label } else { ", " });
        error.push_str(&json::unescape(name).unwrap_or_default());
        push_indexes(list, idx);
        first = false;
    }
    if !first {
        error.push(')');
    }
}

/// Both APIs classify alike; the difference is in the fields present.
pub(crate) fn decode(
    status: u16,
    retry_after: Option<Millis>,
    body: &[u8],
    events: usize,
) -> Outcome {
    let doc = document(body);
    match status {
        // `events_ingested` counts every event of an accepted request, duplicates included.
        200..=299 if json::uint_field(doc, "events_ingested") == Some(events as u64) => {
            Outcome::Accepted {
                warnings: Vec::new(),
            }
        }
        200..=299 => Outcome::Unconfirmed { status },
        400 => {
            let mut idx = Vec::new();
            let mut error = error_text(doc, status);
            bad_fields(
                doc,
                "events_with_invalid_fields",
                " (invalid: ",
                &mut error,
                &mut idx,
            );
            bad_fields(
                doc,
                "events_with_missing_fields",
                " (missing: ",
                &mut error,
                &mut idx,
            );
            if idx.is_empty() {
                return Outcome::Permanent { status, error };
            }
            Outcome::InvalidEvents {
                indexes: idx,
                error,
            }
        }
        413 => Outcome::TooLarge { limit_bytes: None },
        429 => {
            let mut events = Vec::new();
            push_indexes(json::field_or_empty(doc, "throttled_events"), &mut events);
            let named = [
                keys(doc, "throttled_users"),
                keys(doc, "throttled_devices"),
                keys(doc, "exceeded_daily_quota_users"),
                keys(doc, "exceeded_daily_quota_devices"),
            ];
            if events.is_empty() && named.iter().all(Vec::is_empty) {
                return Outcome::RateLimited { retry_after };
            }
            let [users, devices, daily_users, daily_devices] = named;
            Outcome::Throttled {
                users,
                devices,
                events,
                daily_users,
                daily_devices,
                retry_after,
            }
        }
        _ => by_status(doc, status),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(kind: EventKind) -> EventFields<'static> {
        EventFields {
            kind,
            name: None,
            message_id: "ins-1",
            anonymous_id: Some("device-1"),
            user_id: Some("user-1"),
            group_id: None,
            previous_id: None,
            timestamp: 1_700_000_000_123,
            properties: None,
            traits: None,
            context: None,
            #[cfg(feature = "user-properties")]
            skip_user_properties_sync: false,
        }
    }

    #[test]
    #[cfg(feature = "user-properties")]
    fn skips_the_user_properties_sync_at_the_top_level() {
        let e = EventFields {
            traits: Some(r#"{"plan":"pro"}"#),
            skip_user_properties_sync: true,
            ..ev(EventKind::Identify)
        };
        assert!(
            enc(e).ends_with(
                r#""user_properties":{"$set":{"plan":"pro"}},"$skip_user_properties_sync":true}"#
            ),
            "{}",
            enc(e)
        );
    }

    fn enc(e: EventFields<'_>) -> String {
        let mut out = Vec::new();
        encode(&e, &mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn maps_events() {
        let t = EventFields {
            name: Some("Buy"),
            properties: Some("{\"p\":1}"),
            ..ev(EventKind::Track)
        };
        assert_eq!(
            enc(t),
            r#"{"event_type":"Buy","insert_id":"ins-1","user_id":"user-1","device_id":"device-1","time":1700000000123,"event_properties":{"p":1}}"#
        );
        let i = EventFields {
            traits: Some("{\"plan\":\"pro\"}"),
            ..ev(EventKind::Identify)
        };
        assert!(enc(i).contains(r#""event_type":"$identify""#));
        let i = EventFields {
            traits: Some("{\"plan\":\"pro\"}"),
            ..ev(EventKind::Identify)
        };
        assert!(enc(i).ends_with(r#""user_properties":{"$set":{"plan":"pro"}}}"#));
        let p = EventFields {
            name: Some("Home"),
            ..ev(EventKind::Page)
        };
        assert!(enc(p).starts_with(r#"{"event_type":"Viewed Home""#));
        assert!(enc(ev(EventKind::Screen)).starts_with(r#"{"event_type":"Viewed screen""#));
        let g = EventFields {
            group_id: Some("acme"),
            traits: Some("{}"),
            ..ev(EventKind::Group)
        };
        assert!(enc(g).ends_with(r#""groups":{"group":"acme"},"group_properties":{}}"#));
    }

    #[test]
    fn envelope_carries_key_and_options() {
        let (p, s) = envelope("k\"ey", 5);
        assert_eq!(p, br#"{"api_key":"k\"ey","events":["#);
        assert_eq!(s, br#"],"options":{"min_id_length":5}}"#);
    }

    #[test]
    fn drops_ids_amplitude_would_remove() {
        assert!(keeps_id("user-1", 5));
        assert!(!keeps_id("abcd", 5));
        assert!(!keeps_id("UNDEFINED", 5));
        assert!(!keeps_id("00000000-0000-0000-0000-000000000000", 5));
        assert!(!keeps_id("0", 1) && keeps_id("x", 1));
    }

    #[test]
    fn classifies_responses() {
        let ok = br#"{"code":200,"events_ingested":50,"payload_size_bytes":50,"server_upload_time":1396381378123}"#;
        assert_eq!(
            decode(200, None, ok, 50),
            Outcome::Accepted { warnings: vec![] }
        );
        for (body, n) in [
            (&ok[..], 49),
            (b"<html></html>", 1),
            (br#"{"code":200}"#, 1),
        ] {
            assert_eq!(
                decode(200, None, body, n),
                Outcome::Unconfirmed { status: 200 }
            );
        }
        let bad = br#"{"code":400,"error":"Request missing required field","events_with_invalid_fields":{"time":[3,4,7]},"events_with_missing_fields":{"event_type":[3,9]}}"#;
        assert_eq!(
            decode(400, None, bad, 1),
            Outcome::InvalidEvents {
                indexes: vec![3, 4, 7, 9],
                error: "Request missing required field (invalid: time) (missing: event_type)"
                    .into()
            }
        );
        let key = br#"{"code":400,"error":"Invalid API key"}"#;
        assert_eq!(
            decode(400, None, key, 1),
            Outcome::Permanent {
                status: 400,
                error: "Invalid API key".into()
            }
        );
        let thr = br#"{"code":429,"error":"Too many requests for some devices and users","eps_threshold":30,"throttled_devices":{"d1":31},"throttled_users":{"u1":32},"throttled_events":[3,4,7]}"#;
        let Outcome::Throttled {
            users,
            devices,
            events,
            ..
        } = decode(429, None, thr, 1)
        else {
            panic!()
        };
        assert_eq!(
            (users, devices, events),
            (vec!["u1".into()], vec!["d1".into()], vec![3, 4, 7])
        );
        let daily = br#"{"code":429,"exceeded_daily_quota_users":{"u9":500001}}"#;
        let Outcome::Throttled { daily_users, .. } = decode(429, None, daily, 1) else {
            panic!()
        };
        assert_eq!(daily_users, vec!["u9".to_string()]);
        assert_eq!(
            decode(429, Some(1000), b"{}", 1),
            Outcome::RateLimited {
                retry_after: Some(1000)
            }
        );
        assert_eq!(
            decode(413, None, br#"{"code":413,"error":"Payload too large"}"#, 1),
            Outcome::TooLarge { limit_bytes: None }
        );
        assert_eq!(
            decode(502, None, b"", 1),
            Outcome::Transient { status: 502 }
        );
        assert_eq!(
            decode(503, None, b"", 1),
            Outcome::Transient { status: 503 }
        );
    }
}
