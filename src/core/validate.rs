//! Validation: an input becomes the protocol-ready view the encoders read, or a [`Rejected`]
//! that names the rule and the field; soft caps pass with a [`Warning`]. Also the reading of an
//! encoded event back (for `restore`, and to name a throttled event's identities).
//!
//! Decisions:
//! - The protocol's own rules are its own ([`Protocol::supports`], [`Protocol::keeps_id`],
//!   [`Protocol::carries_context`], [`Protocol::requires_anonymous_id`]): this applies them,
//!   dropping with a warning what the server would silently drop (Amplitude's removed ids, the
//!   context members it has no field for that are not Segment's) and rejecting what it would
//!   refuse. A context must be a JSON object for every protocol.
//! - Empty-string ids count as absent.
//! - A caller-given messageId must be 1..=128 bytes needing no JSON escaping.

use crate::prelude::*;

use super::event::{EventInput, Field, Rejected, Rule, StoredEvent, Warning};
use super::{as_str, Millis};
use crate::base::json;
use crate::base::time::MAX_TIMESTAMP;
use crate::protocol::{EventFields, EventKind, Protocol, MAX_MESSAGE_ID_BYTES};

fn non_empty(s: &Option<String>) -> Option<&str> {
    as_str(s).filter(|s| !s.is_empty())
}

fn check_object(
    kind: EventKind,
    field: Field,
    text: Option<&str>,
    protocol: Protocol,
    warnings: &mut Vec<Warning>,
) -> Result<(), Rejected> {
    let Some(text) = text else { return Ok(()) };
    // The limits are looked up here, not passed: a `Limits` built on the caller's stack cost
    // a store per field there (wasm size).
    let limits = protocol.limits();
    let stats = json::scan_object(text.as_bytes()).map_err(|e| Rejected::Invalid {
        kind,
        field,
        rule: if e.what == "not an object" {
            Rule::NotObject
        } else {
            Rule::NotJson(e)
        },
    })?;
    // Amplitude is sent a few fields of the context, not the object: its caps do not apply.
    if field == Field::Context && !protocol.carries_context() {
        return Ok(());
    }
    if stats.keys > limits.soft_max_keys {
        warnings.push(Warning::TooManyKeys {
            field,
            keys: stats.keys,
            limit: limits.soft_max_keys,
        });
    }
    if stats.max_value_bytes > limits.soft_max_value_bytes {
        warnings.push(Warning::ValueTooLarge {
            field,
            bytes: stats.max_value_bytes,
            limit: limits.soft_max_value_bytes,
        });
    }
    // Depth counts containers including the object itself: `{"a":{}}` is 2 deep.
    if stats.depth > limits.soft_max_depth {
        warnings.push(Warning::TooDeep {
            field,
            depth: stats.depth,
            limit: limits.soft_max_depth,
        });
    }
    if let Some(limit) = limits.warn_string_chars {
        if stats.max_string_chars > limit {
            warnings.push(Warning::LongString {
                field,
                chars: stats.max_string_chars,
                limit,
            });
        }
    }
    Ok(())
}

/// `id` if the protocol's server keeps it, else none and a warning (per id: looping over an
/// array of the two cost its by-value iterator in the wasm).
fn kept<'a>(
    protocol: Protocol,
    id: Option<&'a str>,
    field: Field,
    min_id_length: usize,
    warnings: &mut Vec<Warning>,
) -> Option<&'a str> {
    if id.is_some_and(|s| !protocol.keeps_id(s, min_id_length)) {
        warnings.push(Warning::IdRemoved { field });
        return None;
    }
    id
}

/// The validated, protocol-ready view of an input, borrowing from it.
pub(crate) fn validate<'a>(
    protocol: Protocol,
    min_id_length: usize,
    input: &'a EventInput,
    message_id: &'a str,
    now: Millis,
    warnings: &mut Vec<Warning>,
    clean: &mut Vec<u8>,
) -> Result<EventFields<'a>, Rejected> {
    let kind = input.kind;
    let limits = protocol.limits();
    let invalid = |field, rule| Rejected::Invalid { kind, field, rule };
    if message_id.is_empty()
        || message_id.len() > MAX_MESSAGE_ID_BYTES
        || !json::is_plain(message_id)
    {
        return Err(invalid(Field::MessageId, Rule::NotPlain));
    }
    let name = non_empty(&input.event);
    if kind == EventKind::Track {
        let Some(n) = name else {
            return Err(invalid(
                Field::Event,
                Rule::Missing("needs a non-empty name"),
            ));
        };
        let chars = json::char_count(n);
        if let Some(limit) = limits.max_event_name_chars {
            if chars > limit {
                return Err(invalid(Field::Event, Rule::TooLong { chars, limit }));
            }
        }
        if let Some(limit) = limits.warn_string_chars {
            if chars > limit {
                warnings.push(Warning::LongString {
                    field: Field::Event,
                    chars,
                    limit,
                });
            }
        }
    }
    let group_id = non_empty(&input.group_id);
    if kind == EventKind::Group && group_id.is_none() {
        return Err(invalid(Field::GroupId, Rule::Missing("needs a groupId")));
    }
    let previous_id = non_empty(&input.previous_id);
    let mut user_id = non_empty(&input.user_id);
    let mut anonymous_id = non_empty(&input.anonymous_id);
    if !protocol.supports(kind) {
        return Err(Rejected::Unsupported { kind, protocol });
    }
    if kind == EventKind::Alias {
        if previous_id.is_none() {
            return Err(invalid(
                Field::PreviousId,
                Rule::Missing("needs a previousId"),
            ));
        }
        if user_id.is_none() {
            return Err(invalid(
                Field::UserId,
                Rule::Missing("needs the new userId"),
            ));
        }
    }
    user_id = kept(protocol, user_id, Field::UserId, min_id_length, warnings);
    anonymous_id = kept(
        protocol,
        anonymous_id,
        Field::AnonymousId,
        min_id_length,
        warnings,
    );
    if protocol.requires_anonymous_id() {
        if anonymous_id.is_none() {
            return Err(invalid(
                Field::AnonymousId,
                Rule::Missing("needs an anonymousId (/v1-batch requires one on every event)"),
            ));
        }
    } else if user_id.is_none() && anonymous_id.is_none() {
        return Err(invalid(
            Field::UserId,
            Rule::Missing("needs a userId or anonymousId that Amplitude keeps (at least min_id_length characters, not a placeholder)"),
        ));
    }
    let context = as_str(&input.context);
    let timestamp = input.timestamp.unwrap_or(now);
    if timestamp > MAX_TIMESTAMP {
        return Err(invalid(Field::Timestamp, Rule::OutOfRange));
    }
    check_object(
        kind,
        Field::Properties,
        as_str(&input.properties),
        protocol,
        warnings,
    )?;
    check_object(
        kind,
        Field::Traits,
        as_str(&input.traits),
        protocol,
        warnings,
    )?;
    // `clean`: the last context that was checked and gave no warning. A page sends the same
    // context with every event (its library, page, user agent, session): the same text is not
    // scanned again, which was about half of the JSON each event's check read.
    if let Some(c) = context.filter(|c| clean.is_empty() || !json::same(c.as_bytes(), clean)) {
        let before = warnings.len();
        check_object(kind, Field::Context, Some(c), protocol, warnings)?;
        // Amplitude: Segment's names are mapped to its event fields or have none; the first
        // other key is named (once per event).
        #[cfg(feature = "amplitude")]
        if let Some(key) = protocol.unsent_context_key(c) {
            warnings.push(Warning::ContextNotSent { key });
        }
        clean.clear();
        if warnings.len() == before {
            clean.extend_from_slice(c.as_bytes());
        }
    }
    // Every string Amplitude receives is cut at its limit, ids included.
    #[cfg(feature = "user-properties")]
    if let Some(limit) = limits.warn_string_chars {
        long_id(user_id, Field::UserId, limit, warnings);
        long_id(anonymous_id, Field::AnonymousId, limit, warnings);
        long_id(group_id, Field::GroupId, limit, warnings);
    }
    Ok(EventFields {
        kind,
        name,
        message_id,
        anonymous_id,
        user_id,
        group_id,
        previous_id,
        timestamp,
        properties: as_str(&input.properties),
        traits: as_str(&input.traits),
        context,
        #[cfg(feature = "user-properties")]
        skip_user_properties_sync: input.skip_user_properties_sync,
    })
}

/// Warns when an id is longer than the server keeps.
#[cfg(feature = "user-properties")]
fn long_id(id: Option<&str>, field: Field, limit: usize, warnings: &mut Vec<Warning>) {
    let chars = id.map_or(0, json::char_count);
    if chars > limit {
        warnings.push(Warning::LongString {
            field,
            chars,
            limit,
        });
    }
}

/// What an encoded event says about itself: where its messageId sits and who it belongs to.
pub(crate) struct StoredMeta {
    pub msg_off: usize,
    pub msg_len: usize,
    /// A messageId member differs from the one expected.
    pub mismatch: bool,
    pub user: Option<String>,
    pub device: Option<String>,
}

/// Reads the messageId (checked against `message_id`), user and device members of an encoded
/// event: for `restore`, and for naming the identities of a throttled event (one reader for
/// both keeps one copy in the wasm).
pub(crate) fn read_stored(protocol: Protocol, body: &[u8], message_id: &[u8]) -> StoredMeta {
    let (mid_key, device_key, user_key) = protocol.stored_keys();
    let mut meta = StoredMeta {
        msg_off: 0,
        msg_len: 0,
        mismatch: false,
        user: None,
        device: None,
    };
    for (k, v) in json::members(body) {
        if json::same(k, mid_key.as_bytes()) {
            let inner = v
                .get(1..v.len().saturating_sub(1))
                .filter(|_| matches!(v.first(), Some(b'"')));
            if !inner.is_some_and(|m| json::same(m, message_id)) {
                meta.mismatch = true;
            }
            // `v` is a sub-slice of `body`, so this is its offset; +1 skips the quote.
            meta.msg_off = v.as_ptr() as usize - body.as_ptr() as usize + 1;
            meta.msg_len = message_id.len();
        } else if json::same(k, device_key.as_bytes()) {
            meta.device = json::string(v);
        } else if json::same(k, user_key.as_bytes()) {
            meta.user = json::string(v);
        }
    }
    meta
}

/// Checks a stored body is one of ours for this protocol; its bytes are trusted no further.
pub(crate) fn inspect_stored(
    protocol: Protocol,
    stored: &StoredEvent,
) -> Result<StoredMeta, Rejected> {
    let corrupt = |rule| Rejected::Invalid {
        kind: EventKind::Track,
        field: Field::Stored,
        rule,
    };
    let body = &stored.body;
    json::scan_object(body).map_err(|e| corrupt(Rule::NotJson(e)))?;
    let meta = read_stored(protocol, body, stored.message_id.as_bytes());
    if meta.mismatch {
        return Err(corrupt(Rule::Missing(
            "has a stored body whose messageId does not match",
        )));
    }
    let id = stored.message_id.as_str();
    if meta.msg_len == 0 || id.len() > MAX_MESSAGE_ID_BYTES || !json::is_plain(id) {
        return Err(Rejected::Invalid {
            kind: EventKind::Track,
            field: Field::MessageId,
            rule: Rule::NotPlain,
        });
    }
    Ok(meta)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn track(name: &str) -> EventInput {
        EventInput {
            kind: EventKind::Track,
            event: Some(name.into()),
            anonymous_id: Some("anon-1".into()),
            ..Default::default()
        }
    }

    /// `validate` as for a pipeline's first event: no context seen clean before it.
    fn first<'a>(
        p: Protocol,
        input: &'a EventInput,
        message_id: &'a str,
        now: Millis,
        w: &mut Vec<Warning>,
    ) -> Result<EventFields<'a>, Rejected> {
        validate(p, 5, input, message_id, now, w, &mut Vec::new())
    }

    fn check(p: Protocol, input: &EventInput) -> Result<Vec<Warning>, Rejected> {
        let mut w = Vec::new();
        first(p, input, "mid-1", 1000, &mut w).map(|_| w)
    }

    #[test]
    fn names_rule_and_field_when_rejecting() {
        let e = check(Protocol::V1Batch, &track(&"é".repeat(201))).unwrap_err();
        assert_eq!(e.code(), "E_INVALID_EVENT");
        assert_eq!(
            e.to_string(),
            "track event name is 201 characters; the limit is 200 (field: event)"
        );
        assert!(
            check(Protocol::V1Batch, &track(&"é".repeat(200))).is_ok(),
            "chars, not bytes"
        );
        let e = check(Protocol::V1Batch, &track("")).unwrap_err();
        assert_eq!(
            e.to_string(),
            "track event needs a non-empty name (field: event)"
        );
        let e = check(
            Protocol::V1Batch,
            &EventInput {
                properties: Some("[1]".into()),
                ..track("x")
            },
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "track event properties must be a JSON object (field: properties)"
        );
        let e = check(
            Protocol::V1Batch,
            &EventInput {
                traits: Some("{\"a\":}".into()),
                ..track("x")
            },
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "track event traits is not valid JSON: unexpected character at byte 5 (field: traits)"
        );
        let no_anon = EventInput {
            anonymous_id: None,
            user_id: Some("u".into()),
            ..track("x")
        };
        let e = check(Protocol::V1Batch, &no_anon).unwrap_err();
        assert!(e.to_string().ends_with("(field: anonymousId)"));
        assert!(check(
            Protocol::AmplitudeHttpV2,
            &EventInput {
                user_id: Some("user-1".into()),
                ..no_anon
            }
        )
        .is_ok());
    }

    #[test]
    fn soft_caps_warn() {
        let many: Vec<String> = (0..301).map(|i| format!("\"k{i}\":1")).collect();
        let props = format!("{{{}}}", many.join(","));
        let deep = format!("{{\"a\":{}1{}}}", "[".repeat(8), "]".repeat(8));
        let big = format!("{{\"a\":\"{}\"}}", "x".repeat(33_000));
        let input = EventInput {
            properties: Some(props),
            traits: Some(deep),
            context: Some(big),
            ..track("x")
        };
        let w = check(Protocol::V1Batch, &input).unwrap();
        let codes: Vec<&str> = w.iter().map(Warning::code).collect();
        assert_eq!(codes, vec!["W_SOFT_CAP"; 3]);
        assert!(matches!(w[1], Warning::TooDeep { depth: 9, .. }));
        let shallow = format!("{{\"a\":{}1{}}}", "[".repeat(7), "]".repeat(7));
        assert!(check(
            Protocol::V1Batch,
            &EventInput {
                traits: Some(shallow),
                ..track("x")
            }
        )
        .unwrap()
        .is_empty());
    }

    #[test]
    fn amplitude_drops_ids_it_would_remove() {
        let input = EventInput {
            user_id: Some("null".into()),
            anonymous_id: Some("dev-12345".into()),
            ..track("x")
        };
        let mut w = Vec::new();
        let f = first(Protocol::AmplitudeBatch, &input, "m", 0, &mut w).unwrap();
        assert_eq!((f.user_id, f.anonymous_id), (None, Some("dev-12345")));
        assert_eq!(
            w,
            vec![Warning::IdRemoved {
                field: Field::UserId
            }]
        );
        let input = EventInput {
            anonymous_id: Some("abc".into()),
            ..track("x")
        };
        assert!(check(Protocol::AmplitudeHttpV2, &input).is_err());
        let alias = EventInput {
            kind: EventKind::Alias,
            ..track("x")
        };
        assert_eq!(
            check(Protocol::AmplitudeHttpV2, &alias).unwrap_err().code(),
            "E_UNSUPPORTED"
        );
        let long = EventInput {
            properties: Some(format!("{{\"s\":\"{}\"}}", "y".repeat(1025))),
            ..track("x")
        };
        let mut long = long;
        long.anonymous_id = Some("device-1".into());
        assert_eq!(
            check(Protocol::AmplitudeHttpV2, &long).unwrap()[0].code(),
            "W_TRUNCATED"
        );
    }

    #[test]
    fn message_ids_must_be_plain() {
        let mut w = Vec::new();
        for bad in ["", "a\"b", "a\\b", "a\nb"] {
            assert!(
                first(Protocol::V1Batch, &track("x"), bad, 0, &mut w).is_err(),
                "{bad:?}"
            );
        }
        let long = "m".repeat(129);
        assert!(first(Protocol::V1Batch, &track("x"), &long, 0, &mut w).is_err());
    }

    #[test]
    fn amplitude_names_the_first_context_key_it_does_not_send() {
        let input = EventInput {
            context: Some(r#"{"ip":"192.0.2.1","page":{},"campaign":{},"foo":1,"bar":2}"#.into()),
            anonymous_id: Some("device-1".into()),
            ..track("x")
        };
        let mut w = Vec::new();
        let f = first(Protocol::AmplitudeHttpV2, &input, "m", 0, &mut w).unwrap();
        assert_eq!(f.context, input.context.as_deref(), "the encoder maps it");
        assert_eq!(w, vec![Warning::ContextNotSent { key: "foo".into() }]);
        assert_eq!(
            w[0].message(),
            "context.foo is not sent to Amplitude (field: context)"
        );
        let mut w = Vec::new();
        let f = first(Protocol::V1Batch, &input, "m", 0, &mut w).unwrap();
        assert_eq!(f.context, input.context.as_deref(), "/v1-batch carries it");
        assert!(w.is_empty());
        // Segment's names alone: no warning.
        let segment = EventInput {
            context: Some(r#"{"library":{},"userAgent":"x","timezone":"UTC","screen":{},"sessionId":1,"traits":{}}"#.into()),
            ..input.clone()
        };
        let mut w = Vec::new();
        first(Protocol::AmplitudeBatch, &segment, "m", 0, &mut w).unwrap();
        assert!(w.is_empty(), "{w:?}");
        // Not an object: refused, as on /v1-batch.
        let bad = EventInput {
            context: Some("[1]".into()),
            ..input
        };
        assert!(first(Protocol::AmplitudeHttpV2, &bad, "m", 0, &mut Vec::new()).is_err());
    }
}
