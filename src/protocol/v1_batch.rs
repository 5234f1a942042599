//! `POST /v1-batch` (`docs/PROTOCOLS.md` A).
//!
//! Event JSON, fields in this order, absent ones omitted:
//! `{"type","messageId","anonymousId","userId","timestamp","event"|"name","groupId","previousId",
//! "properties","traits","context"}`. `event` carries the track name; page and screen carry
//! theirs in `name`. `timestamp` is ISO 8601 UTC with milliseconds.
//!
//! Response classification:
//! - 2xx: accepted when `accepted + failed` is the request's events and `errors` names each failed
//!   one (by `messageId`, else `index`): those failed for good, the rest are accepted. Duplicates
//!   count as accepted. Any other 2xx confirms nothing (`Unconfirmed`).
//! - 413: too large, with `limit_bytes` when the server says it.
//! - 429: the rule of "Telling the 429s apart": `code == "rate_limited"` or an error starting
//!   `Rate limit exceeded` is a rate limit; an error mentioning `quota` is the monthly quota;
//!   otherwise a `Retry-After` over one hour is a quota, anything else a rate limit.
//! - 408 and 5xx: transient. Other 4xx: permanent, with the server's error text.

use super::{by_status, document, EventError, EventFields, EventKind, ObjectWriter, Outcome};
use crate::base::json;
use crate::base::Millis;
use crate::prelude::*;

/// The members in their order; a track event's name goes in `event`, any other's in `name`.
const KEYS: &[u8] = b"type messageId anonymousId userId timestamp event name groupId previousId properties traits context ";

pub(crate) fn encode(ev: &EventFields<'_>, out: &mut Vec<u8>) -> usize {
    let track = ev.kind == EventKind::Track;
    let mut w = ObjectWriter::new(out, KEYS);
    w.text("", Some(ev.kind.as_str()));
    w.text("", Some(ev.message_id));
    w.text("", ev.anonymous_id);
    w.text("", ev.user_id);
    w.iso(ev.timestamp);
    w.text("", ev.name.filter(|_| track));
    w.text("", ev.name.filter(|_| !track));
    w.text("", ev.group_id);
    w.text("", ev.previous_id);
    w.raw(b"", ev.properties);
    w.raw(b"", ev.traits);
    w.raw(b"", ev.context);
    w.finish()
}

/// Warnings as strings, or objects with a `message` / `warning`.
fn warnings(doc: &[u8]) -> Vec<String> {
    let mut out = Vec::new();
    for w in json::items(json::field_or_empty(doc, "warnings")) {
        let text = json::field(w, "message")
            .or(json::field(w, "warning"))
            .unwrap_or(w);
        if let Some(t) = json::string(text) {
            out.push(t);
        }
    }
    out
}

pub(crate) fn decode(
    status: u16,
    retry_after: Option<Millis>,
    body: &[u8],
    events: usize,
) -> Outcome {
    let doc = document(body);
    match status {
        200..=299 => {
            let warnings = warnings(doc);
            let failed = json::uint_field(doc, "failed").unwrap_or(0);
            // The success shape: `accepted` plus `failed` is the request's events.
            let accepted = json::uint_field(doc, "accepted").unwrap_or(u64::MAX);
            if accepted.wrapping_add(failed) != events as u64 {
                return Outcome::Unconfirmed { status };
            }
            let mut errors = Vec::new();
            for e in json::items(json::field_or_empty(doc, "errors")) {
                errors.push(EventError {
                    index: json::uint_field(e, "index").map(|i| i as usize),
                    message_id: json::string_field(e, "messageId"),
                    error: json::string_field(e, "error").unwrap_or_else(|| "rejected".into()),
                });
            }
            // Every failed event must be named, or which were accepted is unknown.
            if errors.len() as u64 != failed {
                Outcome::Unconfirmed { status }
            } else if failed == 0 {
                Outcome::Accepted { warnings }
            } else {
                Outcome::Partial { errors, warnings }
            }
        }
        413 => Outcome::TooLarge {
            limit_bytes: json::uint_field(doc, "limit_bytes").map(|n| n as usize),
        },
        429 => {
            let code = json::string_field(doc, "code");
            let error = json::string_field(doc, "error").unwrap_or_default();
            let rate = code.is_some_and(|c| c == "rate_limited")
                || error.starts_with("Rate limit exceeded");
            let quota = !rate
                && (mentions_quota(error.as_bytes())
                    || retry_after.is_some_and(|ms| ms > 3_600_000));
            if quota {
                Outcome::Quota { retry_after }
            } else {
                Outcome::RateLimited { retry_after }
            }
        }
        _ => by_status(doc, status),
    }
}

/// Whether the text says "quota" in any case (a byte search: `str::contains` costs wasm size).
fn mentions_quota(text: &[u8]) -> bool {
    text.windows(5).any(|w| w.eq_ignore_ascii_case(b"quota"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev() -> EventFields<'static> {
        EventFields {
            kind: EventKind::Track,
            name: Some("Clicked \"Buy\""),
            message_id: "m-1",
            anonymous_id: Some("anon"),
            user_id: None,
            group_id: None,
            previous_id: None,
            timestamp: 1_795_573_057_123,
            properties: Some(" {\"a\":1} "),
            traits: None,
            context: None,
            #[cfg(feature = "user-properties")]
            skip_user_properties_sync: false,
        }
    }

    #[test]
    fn encodes_a_track_event() {
        let mut out = b"xx".to_vec();
        let at = encode(&ev(), &mut out);
        assert_eq!(&out[at..at + 3], b"m-1");
        assert_eq!(
            std::str::from_utf8(&out[2..]).unwrap(),
            r#"{"type":"track","messageId":"m-1","anonymousId":"anon","timestamp":"2026-11-25T02:17:37.123Z","event":"Clicked \"Buy\"","properties":{"a":1}}"#
        );
        let page = EventFields {
            kind: EventKind::Page,
            name: Some("Home"),
            ..ev()
        };
        let mut out = Vec::new();
        encode(&page, &mut out);
        assert!(std::str::from_utf8(&out)
            .unwrap()
            .contains(r#""type":"page""#));
        assert!(std::str::from_utf8(&out)
            .unwrap()
            .contains(r#""name":"Home""#));
    }

    #[test]
    fn classifies_successes() {
        let all = br#"{"success":true,"accepted":2,"failed":0,"errors":[],"warnings":["big"]}"#;
        assert_eq!(
            decode(200, None, all, 2),
            Outcome::Accepted {
                warnings: vec!["big".into()]
            }
        );
        for (body, n) in [
            (&b"not json"[..], 2),
            (b"<html>Sign in to the Wi-Fi</html>", 1),
            (br#"{"success":true}"#, 1),
            (br#"{"success":true,"accepted":1,"failed":0}"#, 2),
            (
                br#"{"success":false,"accepted":0,"failed":3,"errors":[]}"#,
                3,
            ),
        ] {
            assert_eq!(
                decode(200, None, body, n),
                Outcome::Unconfirmed { status: 200 },
                "{}",
                String::from_utf8_lossy(body)
            );
        }
        let some = br#"{"success":false,"accepted":1,"failed":1,"errors":[{"index":3,"messageId":"m-3","error":"event name too long"}]}"#;
        let Outcome::Partial { errors, .. } = decode(200, None, some, 2) else {
            panic!()
        };
        assert_eq!(errors[0].index, Some(3));
        assert_eq!(errors[0].message_id.as_deref(), Some("m-3"));
        assert_eq!(errors[0].error, "event name too long");
    }

    #[test]
    fn tells_the_429s_apart() {
        let rl = br#"{"success":false,"error":"slow down","code":"rate_limited"}"#;
        assert_eq!(
            decode(429, Some(9_000_000), rl, 1),
            Outcome::RateLimited {
                retry_after: Some(9_000_000)
            }
        );
        let org = br#"{"success":false,"error":"Rate limit exceeded: max 2000 requests per minute per org"}"#;
        assert_eq!(
            decode(429, Some(60_000), org, 1),
            Outcome::RateLimited {
                retry_after: Some(60_000)
            }
        );
        let q = br#"{"success":false,"error":"Monthly event quota exceeded"}"#;
        assert_eq!(
            decode(429, Some(5_000), q, 1),
            Outcome::Quota {
                retry_after: Some(5_000)
            }
        );
        assert_eq!(
            decode(429, Some(3_600_001), b"", 1),
            Outcome::Quota {
                retry_after: Some(3_600_001)
            }
        );
        assert_eq!(
            decode(429, Some(3_600_000), b"", 1),
            Outcome::RateLimited {
                retry_after: Some(3_600_000)
            }
        );
        assert_eq!(
            decode(429, None, b"{}", 1),
            Outcome::RateLimited { retry_after: None }
        );
    }

    #[test]
    fn classifies_failures() {
        let big = br#"{"success":false,"error":"Request body too large: maximum 1048576 bytes","limit_bytes":524288}"#;
        assert_eq!(
            decode(413, None, big, 1),
            Outcome::TooLarge {
                limit_bytes: Some(524_288)
            }
        );
        assert_eq!(
            decode(413, None, b"", 1),
            Outcome::TooLarge { limit_bytes: None }
        );
        assert_eq!(
            decode(403, None, br#"{"success":false,"error":"read key"}"#, 1),
            Outcome::Permanent {
                status: 403,
                error: "read key".into()
            }
        );
        assert_eq!(
            decode(401, None, b"", 1),
            Outcome::Permanent {
                status: 401,
                error: "HTTP 401".into()
            }
        );
        assert_eq!(
            decode(503, None, b"", 1),
            Outcome::Transient { status: 503 }
        );
        assert_eq!(
            decode(408, None, b"", 1),
            Outcome::Transient { status: 408 }
        );
        assert_eq!(
            decode(302, None, b"", 1),
            Outcome::Transient { status: 302 }
        );
    }
}
